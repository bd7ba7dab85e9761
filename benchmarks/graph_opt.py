"""Graph optimisation, measured: node counts after -O1 and -O2 beside onnxruntime's own optimiser.

    python benchmarks/graph_opt.py [--json] [--models digits_cnn,resnet50]

For every zoo model and the nine ONNX light models: nodes as imported, after -O1, after -O2 (top
level, a fused group counting once), the number of fused groups and the nodes inside them, what is
left of batch_norm/dropout/identity after -O2 (should be 0), and onnxruntime's node count for the
same model saved at ORT_ENABLE_EXTENDED (its ``optimized_model_filepath``) — the bar to compare
against. Times are wall-clock milliseconds (verify-each included), for orientation only; the JSON
rows also list each -O2 pass's time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import onnx
import onnxruntime as ort

import mlc
from mlc.ir import Graph
from mlc.passes import PassManager, parse_pipeline
from mlc.passes.instruments import Timing
from mlc.testing.bench import print_wide
from mlc.testing.models import model_path, select_models

GONE_AFTER_O2 = {"batch_norm", "dropout", "identity"}
COLUMNS = [  # (row key, table heading)
    ("model", "model"),
    ("imported", "imported"),
    ("O1", "-O1"),
    ("O2", "-O2"),
    ("groups", "groups"),
    ("fused_nodes", "in groups"),
    ("leftover", "BN/DO/Id left"),
    ("ort_extended", "ORT ext."),
    ("O1_ms", "-O1 ms"),
    ("O2_ms", "-O2 ms"),
    ("slowest", "slowest -O2 pass"),
]


def run_level(graph: Graph, level: str) -> tuple[Graph, float, list[tuple[str, float]]]:
    """The optimised copy, the pipeline's milliseconds, and milliseconds per pass (verify included)."""
    graph = graph.copy()
    timing = Timing()
    start = time.perf_counter()
    PassManager(parse_pipeline(level), instruments=[timing]).run(graph)
    per_pass = [(row.spec, round(row.seconds * 1e3, 1)) for row in timing.report()]
    return graph, (time.perf_counter() - start) * 1e3, per_pass


def all_nodes(graph: Graph):
    for node in graph.nodes:
        yield node
        if node.body is not None:
            yield from all_nodes(node.body)


def ort_extended_nodes(path: Path) -> int:
    """Nodes in the model onnxruntime writes after its ORT_ENABLE_EXTENDED graph optimisations."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "optimized.onnx"
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(out)
        options.intra_op_num_threads = 1
        ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return len(onnx.load(str(out), load_external_data=False).graph.node)


def measure(name: str) -> dict:
    path = model_path(name)
    graph = mlc.load(path)
    o1, o1_ms, _ = run_level(graph, "O1")
    o2, o2_ms, o2_passes = run_level(graph, "O2")
    slowest = max(o2_passes, key=lambda item: item[1], default=("-", 0.0))
    groups = [n for n in o2.nodes if n.op == "fused"]
    return {
        "model": name,
        "imported": len(graph.nodes),
        "O1": len(o1.nodes),
        "O2": len(o2.nodes),
        "groups": len(groups),
        "fused_nodes": sum(len(n.body.nodes) for n in groups),
        "leftover": sum(n.op in GONE_AFTER_O2 for n in all_nodes(o2)),
        "ort_extended": ort_extended_nodes(path),
        "O1_ms": round(o1_ms, 1),
        "O2_ms": round(o2_ms, 1),
        "slowest": f"{slowest[0]} {slowest[1]:.0f} ms",
        "O2_pass_ms": [list(item) for item in o2_passes],
    }


def print_table(rows: list[dict]) -> None:
    from rich.table import Table

    table = Table(title="Graph optimisation: node counts (top level; a fused group counts once)")
    for key, heading in COLUMNS:
        table.add_column(heading, justify="left" if key == "model" else "right")
    for row in rows:
        table.add_row(*(str(row[key]) for key, _ in COLUMNS))
    print_wide(table, width=200)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document (a list of rows)")
    parser.add_argument("--models", help="comma-separated model names (default: zoo and light models)")
    args = parser.parse_args(argv)
    try:
        names = select_models(args.models)
    except ValueError as err:
        parser.error(str(err))
    ort.set_default_logger_severity(3)  # its notes on unused initializers are not our output
    rows = [measure(name) for name in names]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
