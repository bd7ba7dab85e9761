"""The parser: textual IR → Graph, through the LALR grammar in ``grammar.lark``.

Every mistake in the text is a ParseError that names the file, the line and column, what was
expected, and shows the line with a caret: a hand-edited IR file or a pass test must be fixable
from the message alone. Types written in the text are checked against the registry's inference
(node by node, so the error points at the line), and the finished graph goes through the verifier.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from mlc.errors import MlcError, ParseError, VerifyError
from mlc.ir.dtypes import DType
from mlc.ir.graph import Graph, Value
from mlc.ir.types import TensorType
from mlc.ir.verify import verify

from mlc.ir.syntax import INT_TEXT, parse_scalar, unquote_name

#: How deep fused bodies may nest: fusion makes one level; far deeper text would exhaust
#: Python's recursion limit in the parser, the verifier and the printer.
MAX_NESTING = 64

_FRIENDLY = {
    "VALUE": "a value (%name)",
    "GLOBAL": "a constant (@name)",
    "BODY": "a body header (^name)",
    "NAME": "a name",
    "DTYPE": "a dtype (f32, i64, bool, …)",
    "NUMBER": "a number",
    "INT": "an integer",
    "STRING": 'a string ("…")',
    "OMITTED": "'_' (omitted input)",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "$END": "end of input",
}


@functools.lru_cache(maxsize=None)
def _lark() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def parse_text(text: str, constants: Mapping[str, np.ndarray] | None = None,
               source: str = "<text>") -> Graph:
    """Parse textual IR. ``constants`` supplies the arrays of constants written ``external``."""
    return parse(text, constants, source, origin="the constants given to parse_text",
                 missing="no constants were given to parse_text")


def parse(text: str, constants: Mapping[str, np.ndarray] | None, source: str, origin: str,
          missing: str) -> Graph:
    """parse_text, with ``origin`` naming where external arrays come from and ``missing`` saying
    why there are none (for messages)."""
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as err:
        raise _syntax_error(err, text, source) from None
    graph = _Builder(text, source, constants, origin, missing).graph(tree)
    try:
        verify(graph)
    except VerifyError as err:
        raise ParseError(f"{source}: {err.message}") from None
    return graph


# -- errors ---------------------------------------------------------------------------------------
def _context(text: str, pos: int, span: int = 40) -> str:
    """The line around ``pos`` with a caret under it (lark's get_context, indented)."""
    pos = max(0, min(pos, len(text)))
    before = text[max(pos - span, 0):pos].rsplit("\n", 1)[-1]
    after = text[pos:pos + span].split("\n", 1)[0]
    return f"    {before}{after}\n    {' ' * len(before.expandtabs())}^"


def _terminal_text(name: str) -> str:
    if name in _FRIENDLY:
        return _FRIENDLY[name]
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name.lower()
    return repr(pattern.value) if pattern.type == "str" else name.lower()


def _syntax_error(err: UnexpectedInput, text: str, source: str) -> ParseError:
    if isinstance(err, UnexpectedCharacters):
        found = f"character {text[err.pos_in_stream]!r}"
        expected = err.allowed
    elif isinstance(err, UnexpectedToken):
        token = err.token
        found = "end of input" if token.type == "$END" else f"{str(token)!r}"
        expected = err.accepts or err.expected
    elif isinstance(err, UnexpectedEOF):
        found, expected = "end of input", err.expected
    else:  # pragma: no cover - lark has no other UnexpectedInput subclasses today
        found, expected = "input", set()
    pos = err.pos_in_stream
    if found == "end of input":  # lark places it on the last token; point just after that token
        end = getattr(getattr(err, "token", None), "end_pos", None)
        pos = end if isinstance(end, int) and end >= 0 else len(text.rstrip())
    pos = len(text) if pos is None or pos < 0 else pos
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    wanted = sorted({_terminal_text(name) for name in expected})
    message = f"{source}: line {line}, column {column}: unexpected {found}"
    if wanted:
        message += "; expected " + (wanted[0] if len(wanted) == 1 else "one of: " + ", ".join(wanted))
    return ParseError(message + "\n" + _context(text, pos))


# -- tree → graph ---------------------------------------------------------------------------------
Where = Token | Tree


class _Builder:
    """Walks the parse tree of one file; each (sub-)graph has its own scope of names."""

    def __init__(self, text: str, source: str, constants: Mapping[str, np.ndarray] | None,
                 origin: str, missing: str):
        self.text = text
        self.source = source
        self.constants = constants
        self.origin = origin
        self.missing = missing
        self.depth = 0  # how many bodies enclose the statement being built

    def error(self, where: Where, message: str, hint: str | None = None) -> ParseError:
        if isinstance(where, Token):
            line, column, pos = where.line, where.column, where.start_pos
        else:
            line, column, pos = where.meta.line, where.meta.column, where.meta.start_pos
        return ParseError(f"{self.source}: line {line}, column {column}: {message}\n"
                          + _context(self.text, pos), hint=hint)

    def span(self, where: Tree) -> str:
        return self.text[where.meta.start_pos:where.meta.end_pos]

    def name(self, token: Token, allow_empty: bool = False) -> str:
        """The name in a sigil token (%x, @"a b", ^body)."""
        try:
            name = unquote_name(str(token)[1:])
        except ValueError as err:
            raise self.error(token, f"malformed quoted name {str(token)}: {err}") from None
        if not name and not allow_empty:
            raise self.error(token, "a name cannot be empty")
        return name

    def string(self, token: Token) -> str:
        try:
            return unquote_name(str(token))
        except ValueError as err:
            raise self.error(token, f"malformed string {str(token)}: {err}") from None

    # -- graphs -----------------------------------------------------------------------------
    def graph(self, tree: Tree) -> Graph:
        header, *rest = tree.children
        graph, refs = self.subgraph(header, rest)
        declared = [self.type(c) for c in rest if isinstance(c, Tree) and c.data == "type"]
        actual = [v.type for v in graph.outputs]
        if actual != declared:
            raise self.error(refs[0] if refs else header, "the returned values have types "
                             f"({', '.join(map(str, actual))}) but the graph's signature declares "
                             f"({', '.join(map(str, declared))})")
        return graph

    def body(self, tree: Tree) -> Graph:
        header, *rest = tree.children
        if self.depth >= MAX_NESTING:  # each level is a few Python frames here and in verify
            raise self.error(tree, f"fused bodies nest more than {MAX_NESTING} deep "
                                   "(MAX_NESTING)", hint="flatten the nested fused blocks")
        self.depth += 1
        try:
            return self.subgraph(header, rest)[0]
        finally:
            self.depth -= 1

    def subgraph(self, header: Token, children: list) -> tuple[Graph, list[Tree]]:
        """A graph or a fused body from its parameters, statements and returned refs."""
        graph = Graph(self.name(header, allow_empty=True))
        scope = _Scope(self)
        trees = [c for c in children if isinstance(c, Tree)]
        for child in trees:
            if child.data == "param":
                scope.define_input(graph, child)
        self.statements(graph, scope, [c for c in trees if c.data in ("constant", "node")])
        refs = [c for c in trees if c.data == "ref"]
        graph.outputs = [scope.ref(r) for r in refs]
        return graph, refs

    def statements(self, graph: Graph, scope: _Scope, stmts: list[Tree]) -> None:
        for stmt in stmts:
            if stmt.data == "constant":
                self.constant(graph, scope, stmt)
            else:
                self.node(graph, scope, stmt)

    # -- types and literals -----------------------------------------------------------------
    def type(self, tree: Tree) -> TensorType:
        dtype, *dims = tree.children
        shape: list[int | str] = []
        for dim in dims:
            token = dim.children[0]
            if token.type == "INT":
                shape.append(int(token))
            elif token.type == "STRING":
                shape.append(self.string(token))
            else:
                shape.append(str(token))
        return TensorType(shape, DType.parse(str(dtype)))

    def literal(self, tree: Tree, type_: TensorType, what: str) -> np.ndarray:
        if not type_.is_static:
            raise self.error(tree, f"{what} has symbolic dims {type_}; a constant needs a static shape")
        elements = [e.children[0] for e in tree.children]
        if len(elements) != type_.numel:
            raise self.error(tree, f"{what}: {type_} holds {type_.numel} element(s), "
                                   f"the literal has {len(elements)}")
        values = []
        for token in elements:
            try:
                values.append(parse_scalar(str(token), type_.dtype))
            except ValueError as err:
                raise self.error(token, f"{what}: {err}") from None
        return np.array(values, dtype=type_.dtype.numpy).reshape(type_.shape)

    # -- constants --------------------------------------------------------------------------
    def constant(self, graph: Graph, scope: _Scope, tree: Tree) -> None:
        token, type_tree, init = tree.children
        name = self.name(token)
        type_ = self.type(type_tree)
        if init.data == "inline":
            array = self.literal(init.children[0], type_, f"constant @{name}")
        else:
            key = self.string(init.children[0]) if init.children else name
            array = self.external(init, key, name, type_)
        scope.claim(token, name)
        value = graph.add_constant(array, name=name)
        if value.type != type_:  # add_constant normalises arrays; it must not change the type
            raise self.error(tree, f"constant @{name} became {value.type}, not {type_}")
        scope.bind(name, value, token)

    def external(self, where: Tree, key: str, name: str, type_: TensorType) -> np.ndarray:
        if self.constants is None:
            raise self.error(where, f"constant @{name} is stored externally (key {key!r}) but "
                                    f"{self.missing}",
                             hint="save with mlc.text.save_text, which writes the .npz sidecar")
        if key not in self.constants:
            raise self.error(where, f"constant @{name} is stored externally but {self.origin} "
                                    f"has no entry {key!r}")
        peek = getattr(self.constants, "peek", None)  # a sidecar: check the type before reading
        if peek is not None:
            shape, dtype = self.read_entry(where, key, lambda: peek(key))
            self.check_entry(where, key, name, type_, shape, np.dtype(dtype))
        array = np.asarray(self.read_entry(where, key, lambda: self.constants[key]))
        self.check_entry(where, key, name, type_, array.shape, array.dtype)
        return array

    def read_entry(self, where: Tree, key: str, read: Any) -> Any:
        """``read()``, with a failure (a corrupt, oversized or pickled entry) as a ParseError."""
        try:
            return read()
        except MlcError as err:
            raise self.error(where, err.message, hint=err.hint) from None
        except Exception as err:
            raise self.error(where, f"cannot read entry {key!r} of {self.origin}: {err}") from None

    def check_entry(self, where: Tree, key: str, name: str, type_: TensorType,
                    shape: tuple[int, ...], dtype: np.dtype) -> None:
        try:
            found = TensorType(list(shape), DType.from_numpy(dtype))
        except TypeError:  # a dtype the IR lacks (uint32, big-endian, structured …)
            found = None
        if found != type_:
            raise self.error(where, f"entry {key!r} of {self.origin} is "
                                    f"{found or dtype}, the text declares @{name}: {type_}")

    # -- nodes ------------------------------------------------------------------------------
    def node(self, graph: Graph, scope: _Scope, tree: Tree) -> None:
        from mlc.ops import get_op

        results = [c for c in tree.children if isinstance(c, Token) and c.type == "VALUE"]
        op_token = next(c for c in tree.children if isinstance(c, Token) and c.type == "NAME")
        operands, attr_tree, body_tree, type_trees, loc = [], None, None, [], None
        for child in tree.children:
            if isinstance(child, Token) and child.type == "OMITTED":
                operands.append(None)
            elif isinstance(child, Tree):
                if child.data == "ref":
                    operands.append(child)
                elif child.data == "attrs":
                    attr_tree = child
                elif child.data == "body":
                    body_tree = child
                elif child.data == "type":
                    type_trees.append(child)
                elif child.data == "loc":
                    loc = self.string(child.children[0])
        op = str(op_token)
        try:
            opdef = get_op(op)
        except MlcError:
            raise self.error(op_token, f"unknown op {op!r}",
                             hint="`mlc ops` lists the registered ops") from None
        inputs = [None if r is None else scope.ref(r) for r in operands]
        attrs = self.attrs(opdef, attr_tree) if attr_tree is not None else {}
        try:
            attrs = opdef.normalize_attrs(attrs)
        except MlcError as err:
            raise self.error(op_token, err.message, hint=err.hint) from None
        body = self.body(body_tree) if body_tree is not None else None
        self.check_body(opdef, op_token, inputs, body, body_tree)
        try:
            inferred = opdef.infer_types([None if v is None else v.type for v in inputs], attrs,
                                         body=body)
        except MlcError as err:
            raise self.error(op_token, err.one_line()) from None
        except Exception as err:  # an inference function tripped over inputs it cannot take
            raise self.error(op_token, f"{op}: cannot infer output types: {err}") from None
        if len(results) != len(inferred):
            raise self.error(op_token, f"{op} produces {len(inferred)} result(s) here but the text "
                                       f"names {len(results)}")
        if type_trees:
            if len(type_trees) != len(results):
                raise self.error(type_trees[0], f"{len(results)} result(s) but "
                                                f"{len(type_trees)} type annotation(s)")
            for result, type_tree, expected in zip(results, type_trees, inferred):
                written = self.type(type_tree)
                if written != expected:
                    raise self.error(type_tree, f"type annotation {written} of {result} disagrees "
                                                f"with the registry's inference {expected}")
        names = [self.name(r) for r in results]
        for token, name in zip(results, names):
            scope.claim(token, name)
        node = graph.add_node(op, inputs, attrs, output_types=inferred, output_names=names,
                              name=loc, body=body)
        for token, value in zip(results, node.outputs):
            scope.bind(value.name, value, token)

    def check_body(self, opdef, op_token: Token, inputs: list, body: Graph | None,
                   body_tree: Tree | None) -> None:
        takes_body = "body" in inspect.signature(opdef.infer).parameters
        if body is None and takes_body:
            raise self.error(op_token, f"op {opdef.name} needs a body: "
                                       "{ ^name(%p: type, …): … yield %v }")
        if body is not None and not takes_body:
            raise self.error(body_tree, f"op {opdef.name} takes no body")
        if body is not None:
            outer = [v.type for v in inputs if v is not None]
            inner = [v.type for v in body.inputs]
            if outer != inner:
                raise self.error(body_tree, f"the body's parameters ({', '.join(map(str, inner))}) "
                                            f"do not match the node's inputs "
                                            f"({', '.join(map(str, outer))})")

    # -- attributes -------------------------------------------------------------------------
    def attrs(self, opdef, tree: Tree) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for attr in tree.children:
            key_token, value = attr.children
            key = str(key_token)
            if key in result:
                raise self.error(key_token, f"attribute {key} is given twice")
            spec = opdef.attrs.get(key)
            if spec is None:
                known = ", ".join(opdef.attrs) or "none"
                raise self.error(key_token, f"op {opdef.name} has no attribute {key}",
                                 hint=f"its attributes are: {known}")
            result[key] = self.attr_value(spec.kind, value, f"attribute {key} of {opdef.name}")
        return result

    def attr_value(self, kind: str, tree: Tree, what: str) -> Any:
        form = tree.data
        tokens = [str(c) for c in tree.children if isinstance(c, Token)]
        if form == "none":
            return None
        if kind == "int" and form == "number" and INT_TEXT.fullmatch(tokens[0]):
            return int(tokens[0])
        if kind == "float" and form == "number":
            return float(tokens[0])
        if kind == "bool" and form in ("true", "false"):
            return form == "true"
        if kind == "str" and form == "string":
            return self.string(tree.children[0])
        if kind == "ints" and form == "list" and all(INT_TEXT.fullmatch(t) for t in tokens):
            return tuple(int(t) for t in tokens)
        if kind == "floats" and form == "list":
            return tuple(float(t) for t in tokens)
        if kind == "dtype" and form == "dtype":
            return DType.parse(tokens[0])
        if kind == "array" and form == "array":
            type_tree, literal = tree.children
            return self.literal(literal, self.type(type_tree), what)
        expected = {"int": "an integer", "float": "a number", "bool": "true or false",
                    "str": 'a string ("…")', "ints": "a list of integers [1,2]",
                    "floats": "a list of numbers [0.5,1.0]", "dtype": "a dtype (f32, i64, …)",
                    "array": "a typed array (f32[2] [0.5, 1.0])"}.get(kind, kind)
        raise self.error(tree, f"{what} expects {expected}, got {self.span(tree)}")


class _Scope:
    """The names defined so far in one graph, to catch unknown names and redefinitions."""

    def __init__(self, builder: _Builder):
        self.builder = builder
        self.values: dict[str, tuple[Value, Token]] = {}

    def claim(self, token: Token, name: str) -> None:
        if name in self.values:
            first = self.values[name][1]
            raise self.builder.error(token, f"{str(token)} is already defined "
                                            f"(line {first.line}, column {first.column})")

    def bind(self, name: str, value: Value, token: Token) -> None:
        if value.name != name:  # the graph renamed it: a clash the scope should have caught
            raise self.builder.error(token, f"{str(token)} clashes with another name")
        self.values[name] = (value, token)

    def define_input(self, graph: Graph, tree: Tree) -> None:
        token, type_tree = tree.children
        name = self.builder.name(token)
        self.claim(token, name)
        self.bind(name, graph.add_input(name, self.builder.type(type_tree)), token)

    def ref(self, tree: Tree) -> Value:
        token = tree.children[0]
        name = self.builder.name(token)
        entry = self.values.get(name)
        if entry is None:
            raise self.builder.error(token, f"unknown value {str(token)}",
                                     hint="values must be defined before they are used")
        value = entry[0]
        if token.type == "VALUE" and value.is_const:
            raise self.builder.error(token, f"{str(token)} is a constant; write @{str(token)[1:]}")
        if token.type == "GLOBAL" and not value.is_const:
            raise self.builder.error(token, f"{str(token)} is not a constant; write %{str(token)[1:]}")
        return value
