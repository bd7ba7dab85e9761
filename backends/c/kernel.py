"""Loop-IR kernels → C99 functions: statements, loops of every kind, scratch, parallel outlining.

A kernel becomes ``static void kN_name(const T *restrict p_in..., T *restrict p_out...,
unsigned char *ws)``: one pointer per parameter (as in the LLVM renderer's ABI) and the shared
workspace last. How each loop kind is rendered (the contract of backends/loop, written once here):

- serial: a plain ``for``;
- unrolled: ``#pragma GCC unroll N`` before the ``for`` (the compiler makes the copies);
- vectorized: a ``for`` under ``#pragma GCC ivdep`` (its iterations are independent by
  contract) and ``#pragma GCC unroll 1``, which GCC's vectorizer turns into SIMD for the host's
  vector width. Without the second, GCC unrolls a 16-lane loop completely first and then
  vectorizes the loop around it instead (across a conv's K, with a transpose per step);
- parallel (``threads=True``): the body is outlined into ``static void fn(void *ctx, int64_t
  i)``, what it reads from outside goes into a context struct, and ``mlc_parallel_for`` runs it
  on the runtime's thread pool. Without threads (a microcontroller) it is a serial loop.

Locals (Let) are declared at the top of the function that runs them; scratch (Allocate) is a
stack array when it is at most ``stack_limit`` bytes, else a slice of the workspace, placed by
``backends/loop/scratch.py`` exactly as for LLVM.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlc.backends.loop.analysis import constant_extent, let_names, references
from mlc.backends.loop.ir import (Allocate, Assign, Block, Buffer, Const, For, Kernel, Let, Stmt,
                                  Store, Var)
from mlc.backends.loop.scratch import STACK_LIMIT_BYTES, on_stack, scratch_placement
from mlc.backends.loop.verify import verify_kernel
from mlc.backends.loop.visit import stmt_exprs

from .ctypes_table import INDEX_TYPE, memory_type, register_type
from .weights import array_initializer
from .exprs import ExprRenderer
from ..names import NameTable, clean

INDENT = "    "
WORKSPACE = "ws"


@dataclass(frozen=True)
class KernelOptions:
    """What the target offers: a thread pool, how big a stack array may be, whether every
    pointer parameter may be ``restrict`` (``restrict`` names those that may, else all)."""

    threads: bool = True
    stack_limit: int = STACK_LIMIT_BYTES
    restrict: frozenset[str] | None = None


@dataclass
class RenderedKernel:
    name: str  # the C function
    code: str  # outlined helpers, then the function
    params: list[Buffer] = field(default_factory=list)  # its pointer parameters, in order


def render_kernel(kernel: Kernel, name: str, options: KernelOptions = KernelOptions(),
                  taken: frozenset[str] = frozenset()) -> RenderedKernel:
    """``kernel`` as C text under the function name ``name`` (a sanitized identifier).
    ``taken`` are file-scope identifiers a local must not shadow. Owned constants become
    ``static const`` arrays next to the function."""
    verify_kernel(kernel)
    return _KernelWriter(kernel, name, options, taken).write()


@dataclass
class _Function:
    """One C function being written: its lines and the locals it must declare."""

    lines: list[str] = field(default_factory=list)
    locals: dict[str, str] = field(default_factory=dict)  # C name → C type
    depth: int = 1

    def emit(self, text: str) -> None:
        self.lines.append(INDENT * self.depth + text)


class _KernelWriter:
    def __init__(self, kernel: Kernel, name: str, options: KernelOptions, taken: frozenset[str]):
        self.kernel = kernel
        self.name = name
        self.options = options
        self.names = NameTable(set(taken) | {name})
        self.placement = scratch_placement(kernel, options.stack_limit)
        self.buffer_names: dict[str, str] = {}
        self.variable_names: dict[str, str] = {}
        self.buffer_types: dict[str, str] = {}  # C pointer type of every named buffer
        self.outlined: list[str] = []
        self.local_names = let_names(kernel.body)
        self.nonnegative: set[str] = set()  # loop variables whose start is >= 0
        self.exprs = ExprRenderer(self._buffer, self._variable, self._fresh, self.local_names,
                                  self.nonnegative.__contains__)
        self.fn = _Function()
        self.in_scope: set[str] = set()  # loop variables of the enclosing loops
        self._counter = 0

    # -- names ------------------------------------------------------------------------------------

    def _buffer(self, buffer: Buffer) -> str:
        return self.buffer_names[buffer.name]

    def _variable(self, var: Var) -> str:
        if var.name not in self.variable_names:
            self.variable_names[var.name] = self.names.variable(var.name)
        return self.variable_names[var.name]

    def _fresh(self, base: str) -> str:
        self._counter += 1
        return self.names.unique(f"{base}{self._counter}")

    def _scalar_type(self, var: Var) -> str:
        if var.name in self.local_names:
            return register_type(var.dtype)
        return INDEX_TYPE

    # -- the function -----------------------------------------------------------------------------

    def write(self) -> RenderedKernel:
        owned = self.kernel.constant_arrays()  # of const params, so a const pointer too
        statics = []
        params: list[Buffer] = []
        signature = []
        for param in self.kernel.params:
            cname = self.names.prefixed(param.name, f"{self.name}_c_" if param.name in owned
                                        else "p_")
            const = "const " if param.kind in ("input", "const") else ""
            pointer = f"{const}{memory_type(param.dtype)} *"
            self.buffer_names[param.name], self.buffer_types[param.name] = cname, pointer
            if param.name in owned:
                statics.append(_static_array(cname, param, owned[param.name]))
                continue
            restrict = self.options.restrict is None or param.name in self.options.restrict
            signature.append(f"{pointer}{'restrict ' if restrict else ''}{cname}")
            params.append(param)
        signature.append(f"unsigned char *restrict {WORKSPACE}")
        self.stmt(self.kernel.body)
        body = self.fn
        header = f"static void {self.name}({', '.join(signature)})"
        code = "\n".join(statics + self.outlined + [header, "{", f"{INDENT}(void){WORKSPACE};",
                                                    *_declarations(body), *body.lines, "}"])
        return RenderedKernel(self.name, code + "\n", params)

    # -- statements -------------------------------------------------------------------------------

    def stmt(self, s: Stmt) -> None:
        if isinstance(s, Block):
            for child in s.stmts:
                self.stmt(child)
        elif isinstance(s, Store):
            self.statement(s, lambda: f"{self._buffer(s.buffer)}[{self.exprs.text(s.index)}] = "
                                      f"{self.exprs.store_value(s.buffer, s.value)};")
        elif isinstance(s, (Let, Assign)):
            name = self._variable(s.var)
            if isinstance(s, Let):
                self.fn.locals.setdefault(name, register_type(s.var.dtype))
            value = s.init if isinstance(s, Let) else s.value
            self.statement(s, lambda: f"{name} = {self.exprs.text(value)};")
        elif isinstance(s, For):
            self.loop(s)
        elif isinstance(s, Allocate):
            self.allocate(s)
        else:
            raise TypeError(f"unknown statement {type(s).__name__}")

    def statement(self, s: Stmt, render) -> None:
        """One C statement, with the temporaries its expressions share declared before it."""
        self.exprs.begin_statement(stmt_exprs(s))
        text = render()
        if self.exprs.declarations:
            self.fn.emit("{")
            for declaration in self.exprs.declarations:
                self.fn.emit(INDENT + declaration)
            self.fn.emit(INDENT + text)
            self.fn.emit("}")
        else:
            self.fn.emit(text)

    def allocate(self, s: Allocate) -> None:
        name = self.names.prefixed(s.buffer.name, "s_")  # a new buffer name (verify_kernel)
        self.buffer_names[s.buffer.name] = name
        ctype = memory_type(s.buffer.dtype)
        self.buffer_types[s.buffer.name] = f"{ctype} *"
        self.fn.emit("{")
        if on_stack(s, self.options.stack_limit):
            self.fn.emit(f"{INDENT}MLC_ALIGNED(64) {ctype} {name}[{max(s.buffer.numel, 1)}];")
        else:
            offset = self.placement[s.buffer.name]
            self.fn.emit(f"{INDENT}{ctype} *const {name} = ({ctype} *)({WORKSPACE} + {offset});")
        self.fn.depth += 1
        self.stmt(s.body)
        self.fn.depth -= 1
        self.fn.emit("}")
        del self.buffer_names[s.buffer.name], self.buffer_types[s.buffer.name]

    def loop(self, s: For) -> None:
        if s.kind == "parallel" and self.options.threads:
            self.parallel_loop(s)
            return
        var = self._variable(s.var)
        extent = constant_extent(s)
        start, stop = self._bounds(s)
        if s.kind == "unrolled" and extent is not None and extent > 1:
            self.fn.lines.append(f"#pragma GCC unroll {min(extent, 64)}")
        elif s.kind == "vectorized":  # independent iterations; vectorize this loop itself,
            self.fn.lines.append("#pragma GCC ivdep")  # not unrolled away into its parent
            self.fn.lines.append("#pragma GCC unroll 1")
        if isinstance(s.stop, (Const, Var)):
            head = f"for ({INDEX_TYPE} {var} = {start}; {var} < {stop}; "
        else:
            end = self._fresh(f"{var}_end")
            head = f"for ({INDEX_TYPE} {var} = {start}, {end} = {stop}; {var} < {end}; "
        step = f"++{var}" if s.step == 1 else f"{var} += {s.step}"
        self.fn.emit(head + step + ") {")
        self.fn.depth += 1
        self._note_sign(s)
        self.in_scope.add(s.var.name)  # a name no enclosing loop has (verify_kernel)
        self.stmt(s.body)
        self.in_scope.discard(s.var.name)
        self.fn.depth -= 1
        self.fn.emit("}")

    def _bounds(self, s: For, indent: str = "") -> tuple[str, str]:
        """``s``'s start and stop as C, the temporaries they share emitted first (rare)."""
        self.exprs.begin_statement([s.start, s.stop])
        start, stop = self.exprs.text(s.start), self.exprs.text(s.stop)
        for declaration in self.exprs.declarations:
            self.fn.emit(indent + declaration)
        return start, stop

    def _note_sign(self, s: For) -> None:
        """A loop variable is non-negative when its loop starts at >= 0 (names are reused by
        sibling loops, so this is decided afresh for every loop)."""
        if self.exprs.nonneg(s.start):
            self.nonnegative.add(s.var.name)
        else:
            self.nonnegative.discard(s.var.name)
        self.exprs.forget_signs()

    # -- parallel loops -----------------------------------------------------------------------

    def parallel_loop(self, s: For) -> None:
        """Outline ``s``'s body for ``mlc_parallel_for``: a ``*_body`` function with the
        buffers and scalars it reads as (restrict) parameters, and a ``*_task`` that unpacks a
        context struct into a call of it (the compiler inlines one into the other, keeping
        what ``restrict`` promises, which the vectorizer needs)."""
        buffers, variables = references(s)
        declared = let_names(s.body)
        captured_buffers = sorted(n for n in buffers if n in self.buffer_names)
        captured_scalars = sorted(n for n in variables if n not in declared and (
            n in self.in_scope or self.variable_names.get(n) in self.fn.locals))
        task = self.names.unique(f"{self.name}_{clean(s.var.name) or 'loop'}_task")
        index = INDEX_TYPE
        fields = [("unsigned char *", WORKSPACE)]
        fields += [(self.buffer_types[n], self.buffer_names[n]) for n in captured_buffers]
        fields += [(self._scalar_type(Var(n)) + " ", self.variable_names[n])
                   for n in captured_scalars]
        restrict = {self.buffer_names[n] for n in captured_buffers
                    if self.options.restrict is None or n in self.options.restrict
                    or n not in {p.name for p in self.kernel.params}}
        outer, outer_scope = self.fn, self.in_scope
        self.fn, self.in_scope = _Function(), set(captured_scalars) | {s.var.name}
        var = self._variable(s.var)
        self._note_sign(s)
        self.stmt(s.body)
        body, self.fn, self.in_scope = self.fn, outer, outer_scope
        parameters = [f"{ctype}{'restrict ' if cname in restrict or cname == WORKSPACE else ''}"
                      f"{cname}" for ctype, cname in fields] + [f"{index} {var}"]
        arguments = [f"ctx->{cname}" for _, cname in fields] + \
            [f"ctx->start + ({index})it * {s.step}"]
        self.outlined.append("\n".join(
            [f"struct {task}_ctx {{"] + [f"{INDENT}{ctype}{cname};" for ctype, cname in fields] +
            [f"{INDENT}{index} start;", "};",
             f"static void {task}_body({', '.join(parameters)})", "{",
             f"{INDENT}(void){WORKSPACE};", *_declarations(body), *body.lines, "}",
             f"static void {task}(void *context, int64_t it)", "{",
             f"{INDENT}const struct {task}_ctx *const ctx = (const struct {task}_ctx *)context;",
             f"{INDENT}{task}_body({', '.join(arguments)});", "}"]))
        self.fn.emit("{")
        start, stop = self._bounds(s, INDENT)
        self.fn.emit(f"{INDENT}struct {task}_ctx ctx;")
        self.fn.emit(f"{INDENT}const int64_t count = ((int64_t)({stop}) - (int64_t)({start}) + "
                     f"{s.step - 1}) / {s.step};")
        for _, cname in fields:
            self.fn.emit(f"{INDENT}ctx.{cname} = {cname};")
        self.fn.emit(f"{INDENT}ctx.start = {start};")
        self.fn.emit(f"{INDENT}if (count > 0) mlc_parallel_for(count, {task}, &ctx);")
        self.fn.emit("}")


def _declarations(fn: _Function) -> list[str]:
    return [f"{INDENT}{ctype} {name} = 0;" for name, ctype in fn.locals.items()]


def _static_array(cname: str, param: Buffer, array) -> str:
    ctype = memory_type(param.dtype)
    return (f"static const {ctype} {cname}[{max(array.size, 1)}] = "
            f"{{{array_initializer(array, param.dtype)}}};")
