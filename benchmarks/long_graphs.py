"""Long graphs, measured: seconds of `show`, `opt -O2`, `plan` and `compile -t llvm` on huge graphs.

    python benchmarks/long_graphs.py [--json] [--nodes 20000,50000] [--models matmul,chain]
                                     [--commands show,opt,plan,compile] [--timeout 600]

Issue 14 item 5: a small ONNX file can hold a very long graph, and any quadratic step (the
verifier's use-list check, the planner's scans) turns it into a hang. This builds, in a temporary
folder, the hostile models the issue names — ``matmul``: N MatMuls in a chain all sharing one
4x4 weight (50 000 fit in 1.4 MB), ``chain``: N alternating Relu/Add nodes on a 4x4 tensor — and
times each command as a user runs it (``mlc`` in a subprocess, wall clock, interpreter start
included). The bar is under 60 s per command at 50 000 nodes on this machine. A command past
``--timeout`` is killed and reported as such; its row says ``no``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlc.testing.bench import print_wide

BAR_S = 60.0
MODELS = ("matmul", "chain")
COMMANDS = {  # name -> mlc arguments after the model ({out}: a fresh folder in the temp dir)
    "show": ["show"],
    "opt": ["opt", "-O2"],
    "plan": ["plan", "--no-inplace"],
    "compile": ["compile", "-t", "llvm", "-o", "{out}"],
}


def build_model(kind: str, nodes: int, path: Path) -> Path:
    """Write the ``kind`` model of ``nodes`` nodes (see the module docstring) to ``path``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")
    made, prev = [], "x"
    for i in range(nodes):
        if kind == "matmul":
            made.append(helper.make_node("MatMul", [prev, "w"], [f"v{i}"]))
        elif i % 2:
            made.append(helper.make_node("Add", [prev, "w"], [f"v{i}"]))
        else:
            made.append(helper.make_node("Relu", [prev], [f"v{i}"]))
        prev = f"v{i}"
    info = helper.make_tensor_value_info
    graph = helper.make_graph(made, f"{kind}{nodes}", [info("x", TensorProto.FLOAT, [4, 4])],
                              [info(prev, TensorProto.FLOAT, [4, 4])], [weight])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def mlc_exe() -> str:
    """The ``mlc`` next to this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("mlc")
    return str(beside) if beside.exists() else "mlc"


def time_command(command: str, model: Path, workdir: Path, timeout: float) -> dict:
    """Run one mlc command on ``model``; seconds, exit status and the last error line."""
    args = [a.format(out=workdir / f"{model.stem}-{command}") for a in COMMANDS[command]]
    start = time.perf_counter()
    try:
        done = subprocess.run([mlc_exe(), args[0], str(model), *args[1:]], capture_output=True,
                              text=True, timeout=timeout)
        rc, error = done.returncode, (done.stderr.strip().splitlines() or [""])[-1]
    except subprocess.TimeoutExpired:
        rc, error = None, f"killed after {timeout:.0f} s"
    seconds = time.perf_counter() - start
    ok = rc == 0 and seconds < BAR_S
    return {"command": command, "seconds": round(seconds, 2), "rc": rc, "under_60s": ok,
            "error": "" if rc == 0 else error}


def measure(kinds: list[str], sizes: list[int], commands: list[str], timeout: float) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlc-long-graphs-") as tmp:
        workdir = Path(tmp)
        for kind in kinds:
            for nodes in sizes:
                model = build_model(kind, nodes, workdir / f"{kind}{nodes}.onnx")
                for command in commands:
                    print(f"{kind} {nodes}: {command}", file=sys.stderr, flush=True)
                    row = {"model": kind, "nodes": nodes, "file_bytes": model.stat().st_size}
                    rows.append(row | time_command(command, model, workdir, timeout))
    return rows


def print_table(rows: list[dict]) -> None:
    from rich.table import Table

    table = Table(title=f"mlc commands on long graphs (wall seconds, bar {BAR_S:.0f} s)",
                  caption="matmul: a chain of MatMuls sharing one weight; chain: Relu/Add "
                          "alternating; plan runs with --no-inplace")
    for heading in ("model", "nodes", "file KiB", "command", "seconds", f"< {BAR_S:.0f} s",
                    "error"):
        table.add_column(heading, justify="left" if heading in ("model", "command", "error")
                         else "right")
    for row in rows:
        verdict = "yes" if row["under_60s"] else "[red]no[/]"
        table.add_row(row["model"], f"{row['nodes']:,}", f"{row['file_bytes'] / 1024:,.0f}",
                      row["command"], f"{row['seconds']:.1f}", verdict, row["error"][:80])
    print_wide(table, width=160)


def split(text: str, allowed) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ValueError(f"unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (a list of rows)")
    parser.add_argument("--nodes", default="50000", help="comma-separated node counts")
    parser.add_argument("--models", default=",".join(MODELS), help="matmul, chain")
    parser.add_argument("--commands", default=",".join(COMMANDS), help=", ".join(COMMANDS))
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds before a command is killed (default 600)")
    args = parser.parse_args(argv)
    try:
        kinds, commands = split(args.models, MODELS), split(args.commands, COMMANDS)
        sizes = [int(n) for n in args.nodes.split(",")]
    except ValueError as err:
        parser.error(str(err))
    rows = measure(kinds, sizes, commands, args.timeout)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
