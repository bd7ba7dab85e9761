"""Static statistics of a graph: op counts, parameters, MACs and naive activation memory.

``mlc show --stats`` prints them; later, with ``-O`` levels, the same numbers are reported once per
pipeline so a user sees what each level bought. ``render_table`` therefore takes a list of
labelled stats (one column each) rather than a single graph.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator, Sequence

from mlc.errors import ShapeError
from mlc.ir.graph import Graph, Node


def _graphs(graph: Graph) -> Iterator[Graph]:
    """``graph`` and every fused body in it: params and MACs count what the bodies hold and do."""
    yield graph
    for node in graph.nodes:
        if node.body is not None:
            yield from _graphs(node.body)


def _macs(node: Node) -> int:
    cost = node.opdef.cost([None if v is None else v.type for v in node.inputs],
                           [v.type for v in node.outputs], node.attrs)
    return int(cost.macs)


def graph_stats(graph: Graph) -> dict:
    """``{"nodes", "ops", "params", "macs", "activation_bytes"}`` for ``graph``.

    ``nodes`` and ``ops`` count top-level nodes (a fusion group counts once, as ``fused``).
    ``activation_bytes`` is the naive no-reuse activation memory: the bytes of every top-level node
    output. A fused group's intermediates are not counted — not materialising them is what fusion is
    for — and graph inputs are the caller's memory, so they are excluded too.
    """
    for value in graph.inputs:
        if not value.type.is_static:
            raise ShapeError(f"input {value.name} has unresolved dims "
                             f"({', '.join(value.type.symbolic_dims)}); sizes are unknown",
                             hint=f"give them with --shape {value.name}=D0,D1,...")
    ops = Counter(node.op for node in graph.nodes)
    graphs = list(_graphs(graph))
    return {
        "nodes": len(graph.nodes),
        "ops": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        "params": sum(int(v.const.size) for g in graphs for v in g.constants.values()),
        "macs": sum(_macs(node) for g in graphs for node in g.nodes),
        "activation_bytes": sum(v.type.nbytes for node in graph.nodes for v in node.outputs),
    }


def human(n: int | float, unit: str = "") -> str:
    """1234567 -> '1.23 M' (bytes use powers of 1024: '1.18 MiB')."""
    if unit == "B":
        for suffix in ("B", "KiB", "MiB", "GiB"):
            if abs(n) < 1024 or suffix == "GiB":
                return f"{n:.0f} B" if suffix == "B" else f"{n:.2f} {suffix}"
            n /= 1024
    for suffix in ("", " K", " M", " G"):
        if abs(n) < 1000 or suffix == " G":
            return f"{n:.0f}" if suffix == "" else f"{n:.2f}{suffix}"
        n /= 1000
    raise AssertionError("unreachable")


def render_table(columns: Sequence[tuple[str, dict]], title: str | None = None):
    """A rich Table with one column per ``(label, graph_stats(...))``: totals, then op counts."""
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    table.add_column("")
    for label, _ in columns:
        table.add_column(label, justify="right")
    stats = [s for _, s in columns]
    table.add_row("nodes", *(str(s["nodes"]) for s in stats))
    table.add_row("params", *(f"{s['params']:,} ({human(s['params'])})" for s in stats))
    table.add_row("MACs", *(f"{s['macs']:,} ({human(s['macs'])})" for s in stats))
    table.add_row("activation memory", *(human(s["activation_bytes"], "B") for s in stats),
                  end_section=True)
    ops: list[str] = []
    for s in stats:
        ops += [op for op in s["ops"] if op not in ops]
    for op in ops:
        table.add_row(op, *(str(s["ops"].get(op, 0)) for s in stats))
    return table
