"""A lowered Program → the C sources of one model: ``model.h``, ``model.c``, ``weights.c``.

``model.c`` holds one static function per kernel (``kernel.py``) and the two ABI entry points of
``runtime/c/mlc_runtime.h``: ``mlc_arena_bytes`` and ``mlc_run``, which checks its pointers and
then calls the kernels in plan order with pointers into the arena, the inputs, the outputs and
the weights — no allocation, no stdio, nothing but the calls. ``model.h`` describes the model
to a C caller (tensor counts and byte sizes, the arena size) with macros, so a harness sizes its
static buffers from it. Every identifier is sanitized (``names.py``); comments quote only
sanitized names and numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlc.backends.loop.ir import Buffer
from mlc.ir.dtypes import DType

from ..program import Location, Program
from . import approx
from .ctypes_table import memory_type
from .kernel import INDENT, KernelOptions, render_kernel
from .names import NameTable, clean
from .weights import INCBIN_THRESHOLD, declarations, weights_asm, weights_c

MLC_OPS_HEADER = "mlc_ops.h"


@dataclass(frozen=True)
class RenderOptions:
    """``threads``: parallel loops use the runtime's pool; ``weights``: ``c`` (weights.c),
    ``incbin`` (weights.S + weights.bin) or ``auto`` (incbin above INCBIN_THRESHOLD bytes)."""

    threads: bool = True
    weights: str = "auto"
    weight_alignment: int = 64
    index_type: str = "int64_t"

    def weights_format(self, weight_bytes: int) -> str:
        if self.weights == "auto":
            return "incbin" if weight_bytes > INCBIN_THRESHOLD else "c"
        return self.weights


@dataclass
class Sources:
    """The generated files by name (text, or bytes for weights.bin)."""

    files: dict[str, str | bytes] = field(default_factory=dict)
    weights_format: str = "c"
    kernels: list[str] = field(default_factory=list)  # C function names, in call order

    @property
    def c_files(self) -> list[str]:
        return [name for name in self.files if name.endswith((".c", ".S"))]


def render_program(program: Program, options: RenderOptions = RenderOptions()) -> Sources:
    names = NameTable({"mlc_run", "mlc_arena_bytes"})
    symbols = {key: names.prefixed(key, "mlc_w_") for key in program.weights.entries}
    kernel_names = [names.prefixed(step.kernel.name, f"k{i}_")
                    for i, step in enumerate(program.steps)]
    taken = frozenset(names.taken)
    kernels = []
    for step, name in zip(program.steps, kernel_names):
        kernel_options = KernelOptions(threads=options.threads, stack_limit=program.stack_limit,
                                       restrict=_restrictable(step.kernel.params, step.args),
                                       index_type=options.index_type)
        kernels.append(render_kernel(step.kernel, name, kernel_options, taken))
    fmt = options.weights_format(program.weights.size)
    sources = Sources(weights_format=fmt, kernels=kernel_names)
    sources.files["model.h"] = _model_h(program)
    sources.files["model.c"] = _model_c(program, kernels, symbols)
    if fmt == "incbin":
        sources.files["weights.S"] = weights_asm(program.weights, symbols)
        sources.files["weights.bin"] = program.weights.blob()
    else:
        sources.files["weights.c"] = weights_c(program.weights, symbols,
                                               options.weight_alignment)
    return sources


# -- restrict ------------------------------------------------------------------------------------

def _restrictable(params: tuple[Buffer, ...], args: list[Location]) -> frozenset[str]:
    """Parameters that may be ``restrict``: those whose memory no other parameter of the same
    call reaches when either of the two is written (in-place kernels share an arena slot)."""
    spans = [_span(param, where) for param, where in zip(params, args)]
    allowed = set()
    for i, param in enumerate(params):
        clash = any(j != i and _overlap(spans[i], spans[j]) and
                    "output" in (param.kind, params[j].kind) for j in range(len(params)))
        if not clash:
            allowed.add(param.name)
    return frozenset(allowed)


def _span(param: Buffer, where: Location) -> tuple[str, int, int]:
    kind, n = where
    if kind in ("arena", "weights"):
        return kind, n, n + param.numel * param.dtype.itemsize
    return kind, n, n + 1


def _overlap(a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


# -- model.h ---------------------------------------------------------------------------------------

def _model_h(program: Program) -> str:
    graph = program.graph
    names = NameTable()

    def sizes(values) -> str:
        return "{ " + (", ".join(str(v.type.nbytes) for v in values) or "0") + " }"

    lines = [f"/* model.h: the C interface of the mlc model {clean(graph.name) or 'model'}: "
             f"{len(graph.inputs)} input(s), {len(graph.outputs)} output(s).",
             " * Generated by mlc; run it with mlc_run() from mlc_runtime.h: pass the inputs and",
             " * outputs in the order below and an arena of MLC_MODEL_ARENA_BYTES bytes aligned",
             " * to MLC_ARENA_ALIGN. */",
             "#ifndef MLC_MODEL_H", "#define MLC_MODEL_H", "", '#include "mlc_runtime.h"', "",
             f"#define MLC_MODEL_NUM_INPUTS {len(graph.inputs)}",
             f"#define MLC_MODEL_NUM_OUTPUTS {len(graph.outputs)}",
             f"#define MLC_MODEL_ARENA_BYTES {program.arena_bytes}",
             f"#define MLC_MODEL_WEIGHT_BYTES {program.weights.size}",
             f"#define MLC_MODEL_INPUT_BYTES {sizes(graph.inputs)}",
             f"#define MLC_MODEL_OUTPUT_BYTES {sizes(graph.outputs)}", ""]
    for kind, values in (("INPUT", graph.inputs), ("OUTPUT", graph.outputs)):
        for i, value in enumerate(values):
            macro = names.prefixed(value.name, f"MLC_MODEL_{kind}_")
            shape = "x".join(str(d) for d in value.shape) or "scalar"
            lines.append(f"#define {macro} {i} /* {value.dtype.name} {shape} */")
    return "\n".join(lines + ["", "#endif /* MLC_MODEL_H */", ""])


# -- model.c ---------------------------------------------------------------------------------------

def _model_c(program: Program, kernels, symbols: dict[str, str]) -> str:
    graph = program.graph
    head = [f"/* model.c: generated by mlc from {clean(graph.name) or 'model'}: "
            f"{len(kernels)} kernels, arena {program.arena_bytes} bytes, weights "
            f"{program.weights.size} bytes.",
            " * Each kernel is one node or fused group of the optimised graph; mlc_run calls them",
            " * in the memory plan's order. Regenerate with `mlc compile` rather than editing. */",
            '#include "model.h"', f'#include "{MLC_OPS_HEADER}"', "", approx.source(),
            *declarations(program.weights, symbols), ""]
    body = [k.code for k in kernels]
    return "\n".join(head) + "\n" + "\n".join(body) + "\n" + _entry(program, kernels,
                                                                     symbols) + "\n"


def _entry(program: Program, kernels, symbols: dict[str, str]) -> str:
    graph = program.graph
    by_offset = {e.offset: e for e in program.weights.entries.values()}
    lines = ["MLC_EXPORT size_t mlc_arena_bytes(void) { return MLC_MODEL_ARENA_BYTES; }", "",
             "MLC_EXPORT int mlc_run(const void *const *inputs, void *const *outputs, void *arena)",
             "{", f"{INDENT}unsigned char *const a = (unsigned char *)arena;"]
    checks = []
    if graph.inputs:
        checks += ["inputs == NULL"] + [f"inputs[{i}] == NULL" for i in range(len(graph.inputs))]
    if graph.outputs:
        checks += ["outputs == NULL"] + [f"outputs[{i}] == NULL"
                                         for i in range(len(graph.outputs))]
    if program.arena_bytes:
        checks += ["a == NULL", "((uintptr_t)a % MLC_ARENA_ALIGN) != 0"]
    else:
        lines.append(f"{INDENT}(void)a;")
    if not graph.inputs:
        lines.append(f"{INDENT}(void)inputs;")
    if not graph.outputs:
        lines.append(f"{INDENT}(void)outputs;")
    for k in range(0, len(checks), 4):
        lines.append(f"{INDENT}if ({' || '.join(checks[k:k + 4])}) return MLC_ERR_ARGUMENT;")

    def pointer(kind: str, n: int, param: Buffer | None) -> str:
        ctype = memory_type(param.dtype) if param is not None else "unsigned char"
        const = "const " if param is None or param.kind != "output" else ""
        if kind == "input":
            return f"(const {ctype} *)inputs[{n}]"
        if kind == "output":
            return f"({const}{ctype} *)outputs[{n}]"
        if kind == "arena":
            return f"({const}{ctype} *)(a + {n})" if param is not None else f"a + {n}"
        symbol = symbols[by_offset[n].key]
        dtype = DType.from_numpy(by_offset[n].array.dtype)
        same = param is not None and memory_type(dtype) == ctype
        return symbol if same else f"(const {ctype} *){symbol}"

    workspace = f"a + {program.workspace_at}" if program.workspace else "NULL"
    for step, kernel in zip(program.steps, kernels):
        args = [pointer(kind, n, param) for param, (kind, n) in zip(step.kernel.params, step.args)]
        call = f"{kernel.name}({', '.join(args + [workspace])});"
        lines.append(f"{INDENT}{call}" if len(call) < 96 else
                     f"{INDENT}{kernel.name}(" + f",\n{INDENT * 2}".join(args + [workspace]) + ");")
    for copy in program.copies:
        kind, n = copy.source
        source = f"inputs[{n}]" if kind == "input" else symbols[by_offset[n].key]
        lines.append(f"{INDENT}memcpy(outputs[{copy.output}], {source}, {copy.nbytes});")
    lines += [f"{INDENT}return MLC_OK;", "}"]
    return "\n".join(lines)
