"""The reference evaluator: runs a Kernel on numpy arrays, one scalar at a time.

It is the oracle for lowering tests now and for the LLVM and C renderers later, so it is a plain
recursive interpreter with no cleverness: every loop kind runs serially, every Select evaluates
both sides (as LLVM's select may), and every Load and Store is bounds-checked, so a lowering that
reads out of bounds fails here instead of corrupting memory in a compiled kernel. Scalar
semantics come from ``scalar``. Speed is irrelevant: use small shapes.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from mlc.errors import MlcError

from . import scalar
from .ir import (Allocate, Assign, Binary, Block, Buffer, Call, Cast, Const, Expr, For, Kernel,
                 Let, Load, Select, Stmt, Store, Unary, Var)


class EvaluationError(MlcError):
    """A kernel did something undefined: an out-of-bounds access, an unbound buffer or variable."""


def evaluate(kernel: Kernel, args: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``kernel``; ``args`` maps each input/const param name to an array (constants the kernel
    owns are bound already). Returns the output
    params by name (shaped as declared). Outputs start as NaN (floats) or a sentinel so a missed
    store shows."""
    buffers: dict[str, np.ndarray] = {}
    args = {**kernel.constant_arrays(), **args}
    for param in kernel.params:
        if param.kind == "output" and param.name not in args:
            buffers[param.name] = _fresh(param)
            continue
        if param.name not in args:
            raise EvaluationError(f"kernel {kernel.name}: no array for parameter {param.name}")
        array = np.asarray(args[param.name])
        if array.size != param.numel:
            raise EvaluationError(f"kernel {kernel.name}: {param.name} has {array.size} elements, "
                                  f"the kernel expects {param.numel} ({list(param.shape)})")
        buffers[param.name] = np.array(array, dtype=param.dtype.numpy).reshape(-1)
    _Machine(buffers).run(kernel.body)
    return {p.name: buffers[p.name].reshape(p.shape) for p in kernel.outputs}


def _fresh(buffer: Buffer) -> np.ndarray:
    if buffer.dtype.is_float:
        return np.full(buffer.numel, np.nan, buffer.dtype.numpy)
    return np.full(buffer.numel, 123 if buffer.dtype.is_int else False, buffer.dtype.numpy)


class _Machine:
    def __init__(self, buffers: dict[str, np.ndarray]):
        self.buffers = buffers
        self.env: dict[str, object] = {}

    def run(self, s: Stmt) -> None:
        if isinstance(s, Block):
            for child in s.stmts:
                self.run(child)
        elif isinstance(s, For):
            start, stop = int(self.eval(s.start)), int(self.eval(s.stop))
            for i in range(start, stop, s.step):
                self.env[s.var.name] = np.int64(i)
                self.run(s.body)
            self.env.pop(s.var.name, None)
        elif isinstance(s, Store):
            array = self._buffer(s.buffer)
            array[self._offset(s.buffer, s.index, array)] = self.eval(s.value)
        elif isinstance(s, Let):
            self.env[s.var.name] = self.eval(s.init)
        elif isinstance(s, Assign):
            if s.var.name not in self.env:
                raise EvaluationError(f"assignment to undeclared local {s.var.name}")
            self.env[s.var.name] = self.eval(s.value)
        elif isinstance(s, Allocate):
            self.buffers[s.buffer.name] = _fresh(s.buffer)
            self.run(s.body)
            del self.buffers[s.buffer.name]
        else:
            raise TypeError(f"unknown statement {type(s).__name__}")

    def _buffer(self, buffer: Buffer) -> np.ndarray:
        try:
            return self.buffers[buffer.name]
        except KeyError:
            raise EvaluationError(f"buffer {buffer.name} is not bound here") from None

    def _offset(self, buffer: Buffer, index: Expr, array: np.ndarray) -> int:
        offset = int(self.eval(index))
        if not 0 <= offset < array.size:
            raise EvaluationError(f"{buffer.name}[{offset}] is out of bounds (size {array.size})")
        return offset

    def eval(self, e: Expr):
        if isinstance(e, Const):
            return scalar.make(e.value, e.dtype)
        if isinstance(e, Var):
            try:
                return self.env[e.name]
            except KeyError:
                raise EvaluationError(f"variable {e.name} is not bound here") from None
        if isinstance(e, Load):
            array = self._buffer(e.buffer)
            return array[self._offset(e.buffer, e.index, array)]
        if isinstance(e, Binary):
            return scalar.binary(e.op, self.eval(e.a), self.eval(e.b), e.a.dtype)
        if isinstance(e, Unary):
            return scalar.unary(e.op, self.eval(e.x), e.x.dtype)
        if isinstance(e, Call):
            return scalar.call(e.fn, [self.eval(a) for a in e.args], e.dtype)
        if isinstance(e, Cast):
            return scalar.cast(self.eval(e.x), e.x.dtype, e.dtype)
        if isinstance(e, Select):
            cond, a, b = self.eval(e.cond), self.eval(e.a), self.eval(e.b)
            return a if cond else b
        raise TypeError(f"unknown expression {type(e).__name__}")
