"""``mlc_io_count`` and ``mlc_io_desc`` in LLVM IR: the library's own description of its inputs
and outputs (``struct mlc_tensor_desc`` in ``runtime/c/mlc_runtime.h``).

The loader compares it with ``manifest.json`` before the first run, so an edited manifest cannot
make ``mlc_run`` read or write past a buffer. The tables come from ``abi.io_descs``, the same data
the C backend renders as C.
"""

from __future__ import annotations

from typing import Sequence

import llvmlite.ir as lir

from mlc.ir import Graph

from ..toolchain.abi import IO_KINDS, IoDesc, io_descs
from . import lltypes as T

# struct mlc_tensor_desc { int32_t dtype; int32_t rank; uint64_t nbytes; const int64_t *dims; }
DESC = lir.LiteralStructType([T.i32, T.i32, T.i64, T.ptr])
NULL = lir.Constant(T.ptr, None)


def emit_io_desc(module: lir.Module, graph: Graph) -> None:
    """Add the descriptor tables and both entry points (exported: default visibility)."""
    tables = {}
    for kind, values in (("input", graph.inputs), ("output", graph.outputs)):
        descs = io_descs(values)
        tables[kind] = (_table(module, kind, descs), len(descs))
    _count_function(module, {kind: n for kind, (_, n) in tables.items()})
    _desc_function(module, tables)


def _constant(module: lir.Module, name: str, ty: lir.Type, value: lir.Constant
              ) -> lir.GlobalVariable:
    var = lir.GlobalVariable(module, ty, name)
    var.type = T.ptr  # opaque pointers (LLVM >= 17)
    var.initializer = value
    var.global_constant = True
    var.linkage = "private"
    return var


def _table(module: lir.Module, kind: str, descs: Sequence[IoDesc]) -> lir.GlobalVariable | None:
    rows = []
    for i, desc in enumerate(descs):
        dims = NULL
        if desc.shape:
            ty = lir.ArrayType(T.i64, len(desc.shape))
            dims = _constant(module, f"mlc_io_{kind}{i}_dims", ty,
                             lir.Constant(ty, [T.i64(n) for n in desc.shape]))
        rows.append(lir.Constant(DESC, [T.i32(desc.code), T.i32(len(desc.shape)),
                                        T.i64(desc.nbytes), dims]))
    if not rows:
        return None
    ty = lir.ArrayType(DESC, len(rows))
    return _constant(module, f"mlc_io_{kind}s", ty, lir.Constant(ty, rows))


def _count_function(module: lir.Module, counts: dict[str, int]) -> None:
    """``int mlc_io_count(int kind)``: the count for a known kind, else -1."""
    fn = lir.Function(module, lir.FunctionType(T.i32, [T.i32]), "mlc_io_count")
    b = lir.IRBuilder(fn.append_basic_block("entry"))
    result = T.i32(-1)
    for kind, n in counts.items():
        is_kind = b.icmp_signed("==", fn.args[0], T.i32(IO_KINDS[kind]))
        result = b.select(is_kind, T.i32(n), result)
    b.ret(result)


def _desc_function(module: lir.Module, tables: dict) -> None:
    """``const mlc_tensor_desc *mlc_io_desc(int kind, int i)``: a table row, else NULL (an
    unsigned compare refuses negative ``i`` too)."""
    fn = lir.Function(module, lir.FunctionType(T.ptr, [T.i32, T.i32]), "mlc_io_desc")
    kind_arg, index = fn.args
    b = lir.IRBuilder(fn.append_basic_block("entry"))
    result = NULL
    for kind, (table, n) in tables.items():
        if table is None:
            continue
        wanted = b.and_(b.icmp_signed("==", kind_arg, T.i32(IO_KINDS[kind])),
                        b.icmp_unsigned("<", index, T.i32(n)))
        row = b.gep(table, [T.i64(0), b.zext(index, T.i64)],
                    source_etype=lir.ArrayType(DESC, n))
        result = b.select(wanted, row, result)
    b.ret(result)
