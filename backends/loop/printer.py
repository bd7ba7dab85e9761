"""The text form of loop IR kernels: what students read and what snapshot tests compare.

    kernel relu_y(x: f32[2,3] input, y: f32[2,3] output)
      for i0 in 0..2:
        for i1 in 0..3:
          y[i0 * 3 + i1] = max(x[i0 * 3 + i1], 0.0)

Constants of the default dtypes (i64 indices, f32 data, bool) print bare; others carry a
``:dtype`` suffix (``3:i32``). Infix operators follow C precedence and print only the parentheses
they need. Names that could be misread (spaces, newlines, a leading digit) print as JSON strings.
The output is stable: it depends on nothing but the kernel.
"""

from __future__ import annotations

import json
import re

from mlc.ir.dtypes import DType

from .ir import (Allocate, Assign, Binary, Block, Buffer, Call, Cast, Const, Expr, For, Kernel,
                 Let, Load, Select, Stmt, Store, Unary, Var)

INFIX = {"or": ("||", 1), "and": ("&&", 2), "lt": ("<", 3), "le": ("<=", 3), "gt": (">", 3),
         "ge": (">=", 3), "eq": ("==", 3), "ne": ("!=", 3), "add": ("+", 4), "sub": ("-", 4),
         "mul": ("*", 5), "div": ("/", 5), "floordiv": ("//", 5), "mod": ("%", 5)}
ATOM = 9
INDENT = "  "
BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")


def name(text: str) -> str:
    """A kernel or buffer name: bare when it reads unambiguously (ONNX names with dots and
    slashes do), else a JSON string, so no name can break a line or pose as a number."""
    return text if BARE.fullmatch(text) else json.dumps(text, ensure_ascii=True)


def print_kernel(kernel: Kernel) -> str:
    params = ", ".join(f"{name(b.name)}: {_type(b)} {b.kind}" for b in kernel.params)
    lines = [f"kernel {name(kernel.name)}({params})"]
    _stmt(kernel.body, 1, lines)
    return "\n".join(lines) + "\n"


def print_expr(expr: Expr) -> str:
    return _expr(expr)[0]


def _type(buffer: Buffer) -> str:
    return f"{buffer.dtype.short}[{','.join(str(d) for d in buffer.shape)}]"


def _stmt(s: Stmt, depth: int, lines: list[str]) -> None:
    pad = INDENT * depth
    if isinstance(s, Block):
        for child in s.stmts:
            _stmt(child, depth, lines)
    elif isinstance(s, For):
        step = f" step {s.step}" if s.step != 1 else ""
        kind = "" if s.kind == "serial" else f" {s.kind}" + (f"({s.width})" if s.width else "")
        lines.append(f"{pad}for {s.var.name} in {print_expr(s.start)}..{print_expr(s.stop)}"
                     f"{step}{kind}:")
        _stmt(s.body, depth + 1, lines)
    elif isinstance(s, Store):
        lines.append(f"{pad}{name(s.buffer.name)}[{print_expr(s.index)}] = {print_expr(s.value)}")
    elif isinstance(s, Let):
        lines.append(f"{pad}let {s.var.name}: {s.var.dtype.short} = {print_expr(s.init)}")
    elif isinstance(s, Assign):
        lines.append(f"{pad}{s.var.name} = {print_expr(s.value)}")
    elif isinstance(s, Allocate):
        lines.append(f"{pad}alloc {name(s.buffer.name)}: {_type(s.buffer)} {s.buffer.kind}:")
        _stmt(s.body, depth + 1, lines)
    else:
        raise TypeError(f"unknown statement {type(s).__name__}")


def _const(c: Const) -> str:
    if c.dtype == DType.bool:
        return "true" if c.value else "false"
    if c.dtype.is_float:
        text = repr(float(c.value))  # nan, inf and -inf spell themselves
    else:
        text = str(int(c.value))
    return text if c.dtype in (DType.int64, DType.float32) else f"{text}:{c.dtype.short}"


def _expr(e: Expr) -> tuple[str, int]:
    """Text and precedence of ``e`` (ATOM for things that never need parentheses)."""
    if isinstance(e, Const):
        text = _const(e)
        return text, 6 if text.startswith("-") else ATOM
    if isinstance(e, Var):
        return e.name, ATOM
    if isinstance(e, Load):
        return f"{name(e.buffer.name)}[{print_expr(e.index)}]", ATOM
    if isinstance(e, Binary):
        if e.op not in INFIX:
            return f"{e.op}({print_expr(e.a)}, {print_expr(e.b)})", ATOM
        symbol, prec = INFIX[e.op]
        left, lp = _expr(e.a)
        right, rp = _expr(e.b)
        left = left if lp >= prec else f"({left})"
        right = right if rp > prec or (rp == prec and e.op in ("add", "mul", "and", "or")) \
            else f"({right})"
        return f"{left} {symbol} {right}", prec
    if isinstance(e, Unary):
        inner, p = _expr(e.x)
        inner = inner if p >= 6 else f"({inner})"
        return ("-" if e.op == "neg" else "!") + inner, 6
    if isinstance(e, Call):
        return f"{e.fn}({', '.join(print_expr(a) for a in e.args)})", ATOM
    if isinstance(e, Cast):
        return f"{e.dtype.short}({print_expr(e.x)})", ATOM
    if isinstance(e, Select):
        return f"select({print_expr(e.cond)}, {print_expr(e.a)}, {print_expr(e.b)})", ATOM
    raise TypeError(f"unknown expression {type(e).__name__}")
