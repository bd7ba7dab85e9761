"""Static memory planning, measured: each strategy's arena beside the lower bound and TVM's plan.

    python benchmarks/memory.py [--json] [--models ic_resnet8,squeezenet] [--no-tvm]
                                [--alignment 64] [--include-io]

For every zoo model and the nine ONNX light models after -O2: the naive sum (every tensor its own
buffer), the lower bound (the most bytes alive at any one step, which no plan can beat), the arena
each strategy reaches, the best one and its ratio to the lower bound (the issue asks ≤ 1.10), and
TVM's estimate for the same ONNX model: ``tvm.relax.frontend.onnx.from_onnx``, then TVM's default
CPU (llvm) build pipeline up to and including its memory planner (library dispatch, legalize +
fuse, dataflow lowering, ``StaticPlanBlockMemory``), then
``tvm.relax.analysis.estimate_memory_usage``, whose report gives the planned bytes in GB to four
significant digits. TVM counts the graph outputs (allocated by the function) but not its inputs;
mlc's default plan leaves both outside the arena (``--include-io`` puts them in), so TVM/mlc
compares TVM's figure with mlc's arena plus the outputs' bytes. TVM is optional
(``pip install mlc[tvm]``); without it the column says so.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import mlc
from mlc.backends.tvm import TVM
from mlc.memory import plan_memory
from mlc.passes import PassManager, parse_pipeline
from mlc.testing.bench import print_wide
from mlc.testing.models import model_path, select_models

NO_TVM = "n/a (install mlc[tvm])"
TARGET_RATIO = 1.10
_PLANNED = re.compile(r"With memory planning, there are \d+ constant-size memory allocation\(s\) "
                      r"with total size ([0-9.eE+-]+) GB")


def parse_tvm_report(report: str) -> int:
    """Planned bytes from estimate_memory_usage's text (the ``main`` function's line)."""
    match = _PLANNED.search(report)
    if match is None:
        raise ValueError(f"no planned size in TVM's report: {report!r}")
    return round(float(match.group(1)) * 2**30)


def tvm_estimate(path: Path) -> int:
    """TVM's planned bytes for the ONNX model at ``path`` (see the module docstring)."""
    import onnx
    import tvm
    import tvm.relax.frontend.onnx  # 0.27 wants the frontend imported explicitly
    from tvm import relax
    from tvm.relax.analysis import estimate_memory_usage
    from tvm.relax.backend.cpu_generic import pipeline as cpu

    mod = tvm.relax.frontend.onnx.from_onnx(onnx.load(str(path)), keep_params_in_input=False)
    target = tvm.target.Target({"kind": "llvm"})
    with target:
        passes = (cpu.library_dispatch_passes(target) + cpu.legalize_passes(target)
                  + cpu.dataflow_lower_passes(target) + [relax.transform.StaticPlanBlockMemory()])
        mod = tvm.transform.Sequential(passes)(mod)
    return parse_tvm_report(estimate_memory_usage(mod))


def measure(name: str, *, alignment: int, include_io: bool, with_tvm: bool,
            tvm_note: str = NO_TVM) -> dict:
    path = model_path(name)
    graph = mlc.load(path)
    PassManager(parse_pipeline("O2")).run(graph)
    start = time.perf_counter()
    plan = plan_memory(graph, strategy="best", alignment=alignment, include_io=include_io)
    plan_ms = (time.perf_counter() - start) * 1e3
    best = plan.best()
    outputs = sum({id(v): v.type.nbytes for v in graph.outputs}.values())
    row = {
        "model": name,
        "tensors": len(plan.tensors),
        "steps": len(plan.order),
        "naive_sum": plan.naive_sum,
        "lower_bound": plan.lower_bound,
        "strategies": dict(plan.strategies),
        "best": best,
        "arena": plan.arena,
        "ratio": round(plan.arena / plan.lower_bound, 4) if plan.lower_bound else 1.0,
        "plan_ms": round(plan_ms, 1),
        "outputs": outputs,
        "tvm": None,
        "tvm_ratio": None,
        "tvm_note": tvm_note,
    }
    if with_tvm:
        try:
            row["tvm"] = tvm_estimate(path)
            # TVM's figure holds the outputs too: compare it with mlc's arena plus the outputs
            # (with --include-io the outputs, and the inputs, are already in the arena).
            mine = plan.arena + (0 if include_io else outputs)
            row["tvm_ratio"] = round(row["tvm"] / mine, 4) if mine else None
            row["tvm_note"] = ""
        except Exception as exc:  # TVM's frontend refusing a model is a finding, not our crash
            row["tvm_note"] = f"TVM failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]}"
    return row


def kib(n: int) -> str:
    return f"{n / 1024:,.1f}"


def print_table(rows: list[dict], alignment: int, include_io: bool) -> None:
    from rich.table import Table

    names = list(dict.fromkeys(s for row in rows for s in row["strategies"]))
    table = Table(title=f"Static memory plans after -O2, KiB (alignment {alignment} B, graph "
                        f"inputs/outputs {'in' if include_io else 'outside'} the arena)",
                  caption="best/LB: the best arena over the lower bound (target ≤ "
                          f"{TARGET_RATIO:.2f}); TVM: its StaticPlanBlockMemory estimate, which "
                          "holds the outputs too; TVM/mlc: over mlc's best arena + outputs")
    headings = ["model", "naive sum", "lower bound", *names, "best", "best/LB", "outputs", "TVM",
                "TVM/mlc", "plan ms"]
    for heading in headings:
        table.add_column(heading, justify="left" if heading in ("model", "best") else "right")
    for row in rows:
        cells = [kib(row["strategies"][s]) if s in row["strategies"] else "—" for s in names]
        ratio = f"{row['ratio']:.3f}"
        if row["ratio"] > TARGET_RATIO:
            ratio = f"[red]{ratio}[/]"
        tvm = kib(row["tvm"]) if row["tvm"] is not None else row["tvm_note"]
        tvm_ratio = f"{row['tvm_ratio']:.2f}" if row["tvm_ratio"] is not None else "—"
        table.add_row(row["model"], kib(row["naive_sum"]), kib(row["lower_bound"]), *cells,
                      row["best"], ratio, kib(row["outputs"]), tvm, tvm_ratio,
                      f"{row['plan_ms']:.0f}")
    print_wide(table, width=220)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (a list of rows)")
    parser.add_argument("--models",
                        help="comma-separated model names (default: zoo and light models)")
    parser.add_argument("--no-tvm", action="store_true", help="skip TVM's estimate")
    parser.add_argument("--alignment", type=int, default=64, help="bytes (default 64, x86)")
    parser.add_argument("--include-io", action="store_true",
                        help="plan graph inputs and outputs into the arena too")
    args = parser.parse_args(argv)
    try:
        names = select_models(args.models)
    except ValueError as err:
        parser.error(str(err))
    with_tvm = not args.no_tvm and TVM.find() is not None
    note = "skipped (--no-tvm)" if args.no_tvm else NO_TVM
    rows = []
    for name in names:
        print(f"planning {name}", file=sys.stderr, flush=True)
        rows.append(measure(name, alignment=args.alignment, include_io=args.include_io,
                            with_tvm=with_tvm, tvm_note=note))
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows, args.alignment, args.include_io)
    return 0


if __name__ == "__main__":
    sys.exit(main())
