"""The printer: Graph → textual IR (``mlc/text`` parses it back and keeps the files).

It lives with the IR because the IR shows itself in it: ``str(graph)``, the verifier's and the
interpreter's errors. The text is the IR's canonical face: error messages, IR dumps after each pass and the pass tests'
before/after files all use it, so it must be exact (the parser rebuilds the same graph and the
same text) and stay readable. ``print_node`` also serves error messages about broken nodes, so
it degrades to a best-effort line instead of raising.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .dtypes import DType
from .graph import Graph, Node, Value
from .op_registry import REQUIRED, get_op
from .syntax import (INLINE_LIMIT, const_ref, external_key, format_float, format_literal,
                     format_type, format_typed_array, quote_name, value_ref)

INDENT = "  "


def print_graph(graph: Graph, *, inline_limit: int | None = INLINE_LIMIT) -> str:
    """The graph as text. Constants with more than ``inline_limit`` elements print as
    ``external`` (their arrays are what :func:`external_constants` returns); ``None`` inlines all."""
    printer = _Printer(inline_limit)
    printer.assign_keys(graph, "")
    return "\n".join(printer.graph(graph)) + "\n"


def print_node(node: Node) -> str:
    """One node as text (its body included); never raises, for use inside error messages."""
    try:
        printer = _Printer(INLINE_LIMIT)
        if node.body is not None:
            printer.assign_keys(node.body, _body_prefix("", node))
        return "\n".join(printer.node(node, 0))
    except Exception:  # a half-broken node: say what can be said
        return _fallback_node(node)


def external_constants(graph: Graph, *, inline_limit: int | None = INLINE_LIMIT) -> dict[str, np.ndarray]:
    """The arrays that ``print_graph`` leaves out, by the key the text names (the sidecar's content)."""
    printer = _Printer(inline_limit)
    printer.assign_keys(graph, "")
    return {key: value.const for key, value in printer.external.items()}


def _body_prefix(prefix: str, node: Node) -> str:
    head = node.outputs[0].name if node.outputs else node.op
    return external_key(prefix, head)


class _Printer:
    def __init__(self, inline_limit: int | None):
        self.inline_limit = inline_limit
        self.keys: dict[int, str] = {}  # id(constant value) -> sidecar key
        self.external: dict[str, Value] = {}

    # -- sidecar keys -----------------------------------------------------------------------
    def is_external(self, value: Value) -> bool:
        return self.inline_limit is not None and value.const.size > self.inline_limit

    def assign_keys(self, graph: Graph, prefix: str) -> None:
        """Give each large constant a unique key, top-level constants keeping their plain name."""
        for value in graph.constants.values():
            if self.is_external(value):
                key = base = external_key(prefix, value.name)
                suffix = 1
                while key in self.external:
                    suffix += 1
                    key = f"{base}~{suffix}"
                self.keys[id(value)] = key
                self.external[key] = value
        for node in graph.nodes:
            if node.body is not None:
                self.assign_keys(node.body, _body_prefix(prefix, node))

    # -- graphs -------------------------------------------------------------------------------
    def graph(self, graph: Graph) -> list[str]:
        params = ", ".join(f"{value_ref(v.name)}: {format_type(v.type)}" for v in graph.inputs)
        results = ", ".join(format_type(v.type) for v in graph.outputs)
        lines = [f"graph @{quote_name(graph.name)}({params}) -> ({results}) {{"]
        lines += self.statements(graph, 1)
        lines.append(INDENT + _terminator("return", graph.outputs))
        lines.append("}")
        return lines

    def statements(self, graph: Graph, depth: int) -> list[str]:
        pad = INDENT * depth
        lines = [pad + self.constant(v) for v in graph.constants.values()]
        for node in graph.nodes:
            try:
                lines += self.node(node, depth)
            except Exception:  # dumps of a graph a pass just broke must still show the rest
                lines.append(pad + _fallback_node(node))
        return lines

    def constant(self, value: Value) -> str:
        head = f"{const_ref(value.name)}: {format_type(value.type)} = "
        key = self.keys.get(id(value))
        if key is not None:
            return head + "external" + ("" if key == value.name else " " + _json(key))
        return head + format_literal(value.const, value.dtype)

    # -- nodes --------------------------------------------------------------------------------
    def node(self, node: Node, depth: int) -> list[str]:
        pad = INDENT * depth
        text = pad
        if node.outputs:
            text += ", ".join(value_ref(v.name) for v in node.outputs) + " = "
        text += f"{node.op}({', '.join(_operand(v) for v in node.inputs)})"
        attrs = _format_attrs(node)
        if attrs:
            text += " {" + attrs + "}"
        lines = []
        if node.body is not None:
            body = node.body
            params = ", ".join(f"{value_ref(v.name)}: {format_type(v.type)}" for v in body.inputs)
            lines.append(text + " {")
            lines.append(pad + INDENT + f"^{quote_name(body.name)}({params}):")
            lines += self.statements(body, depth + 1)
            lines.append(pad + INDENT + _terminator("yield", body.outputs))
            text = pad + "}"
        if node.outputs:
            text += " : " + ", ".join(format_type(v.type) for v in node.outputs)
        if node.name:
            text += f" loc({_json(node.name)})"
        lines.append(text)
        return lines


def _terminator(word: str, values: list[Value]) -> str:
    refs = ", ".join(_operand(v) for v in values)
    return f"{word} {refs}" if refs else word


def _operand(value: Value | None) -> str:
    if value is None:
        return "_"
    return const_ref(value.name) if value.is_const else value_ref(value.name)


def _json(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=True)


# -- attributes -------------------------------------------------------------------------------
def _format_attrs(node: Node) -> str:
    """Attributes in declaration order, those equal to the op's default left out."""
    try:
        specs = get_op(node.op).attrs
    except Exception:
        specs = {}
    parts = []
    for key, spec in specs.items():
        if key not in node.attrs:
            continue
        text = format_attr(spec.kind, node.attrs[key])
        if _default_text(spec) != text:
            parts.append(f"{key}={text}")
    for key in sorted(set(node.attrs) - set(specs)):  # undeclared: a broken node being reported
        parts.append(f"{key}={format_attr(None, node.attrs[key])}")
    return ", ".join(parts)


def _default_text(spec) -> str | None:
    if spec.default is REQUIRED:
        return None
    try:
        return format_attr(spec.kind, spec.coerce(spec.default))
    except Exception:
        return None


def format_attr(kind: str | None, value: Any) -> str:
    """An attribute value as text. Comparing these texts is how defaults are detected, so a value
    is omitted exactly when it would parse back to the default (``-0.0`` is not ``0.0``)."""
    if value is None:
        return "none"
    return _FORMATS.get(kind or _guess_kind(value), lambda v: _json(repr(v)))(value)


_FORMATS: dict[str, Callable[[Any], str]] = {
    "bool": lambda v: "true" if v else "false",
    "int": lambda v: str(int(v)),
    "float": format_float,
    "str": lambda v: _json(str(v)),
    "ints": lambda v: "[" + ",".join(str(int(x)) for x in np.asarray(v).reshape(-1)) + "]",
    "floats": lambda v: "[" + ",".join(format_float(x) for x in np.asarray(v).reshape(-1)) + "]",
    "dtype": lambda v: DType.parse(v).short,
    "array": lambda v: format_typed_array(np.asarray(v)),
}


def _guess_kind(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, DType):
        return "dtype"
    if isinstance(value, np.ndarray):
        return "array"
    if isinstance(value, (tuple, list)):
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            return "ints"
        if all(isinstance(v, (int, float, np.number)) for v in value):
            return "floats"
    return "repr"


def _fallback_node(node: Any) -> str:
    """A degraded one-liner for nodes the printer cannot handle (dangling values, odd attrs)."""
    def name(v: Any) -> str:
        if v is None:
            return "_"
        try:
            return ("@" if getattr(v, "const", None) is not None else "%") + quote_name(str(v.name))
        except Exception:
            return "%<?>"

    def guarded(fn, default: str) -> str:
        try:
            return fn()
        except Exception:
            return default

    outs = guarded(lambda: ", ".join(name(v) for v in node.outputs), "<?>")
    ins = guarded(lambda: ", ".join(name(v) for v in node.inputs), "<?>")
    attrs = guarded(lambda: ", ".join(f"{k}={v!r}" for k, v in node.attrs.items()), "<?>")
    op = guarded(lambda: str(node.op), "<?>")
    types = guarded(lambda: ", ".join(str(v.type) for v in node.outputs), "<?>")
    text = f"{outs} = {op}({ins})" if outs else f"{op}({ins})"
    if attrs:
        text += f" {{{attrs}}}"
    if types:
        text += f" : {types}"
    return text

