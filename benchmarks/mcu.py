"""The C backend, measured: microcontroller footprint per model, and host C speed beside LLVM's.

    python benchmarks/mcu.py [--json] [--models a,b] [--cores cortex-m4,cortex-m0plus]
                             [--repeat N] [--warmup N] [--no-host] [--no-qemu]

For each model (default: the zoo) and each Cortex-M core (default cortex-m4): the firmware image's
flash (text + data: code and const weights) and static RAM (data + bss: the arena, the harness's
input/output buffers, the stack is extra), from ``arm-none-eabi-size``; the arena ``mlc_run``
needs, split into the planned tensors and the kernels' scratch workspace, beside the memory
planner's lower bound (the most tensor bytes alive at any one step); and the image's median
latency under QEMU — emulation time on this machine, not the chip's speed, so it is labelled as
such and compared with nothing. A model that does not fit a core's memory says so.

Then on this machine, one thread, interleaved round-robin (each round calls every system once, so
drift and noisy neighbours hit all alike): onnxruntime, mlc's llvm backend and mlc's C backend
(the same loop IR rendered as C and built by the system compiler), with the ratios to
onnxruntime and C over LLVM. Outputs are checked against onnxruntime (rtol 1e-4, atol 1e-5).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import mlc
from mlc.errors import MlcError
from mlc.inputs import make_feeds
from mlc.runtime import Model, agreement, get_target, load, read_manifest
from mlc.testing.bench import print_wide
from mlc.testing.models import ZOO_MODELS, model_path, select_models

HOST_SYSTEMS = ("ort", "llvm", "c")


def footprint(name: str, cpu: str, folder: Path, repeat: int, warmup: int, qemu: bool) -> dict:
    """Build ``name`` for ``cpu``; its sizes, arena split, lower bound and emulated latency."""
    row: dict = {"model": name, "core": cpu, "fits": False, "note": ""}
    graph = mlc.load(model_path(name))
    try:
        path = mlc.compile(graph, target=f"c-{cpu}", output=folder / f"{name}-{cpu}")
    except MlcError as exc:
        row["note"] = exc.one_line()[:120]
        return row
    manifest = read_manifest(path)
    size = manifest.options["size"]
    plan = json.loads((Path(path) / manifest.plan).read_text())
    row.update(fits=True, flash=size["flash"], ram=size["ram"], text=size["text"],
               data=size["data"], bss=size["bss"], weights=manifest.weight_bytes,
               arena=manifest.arena_bytes, planned=plan["arena"],
               workspace=manifest.options["workspace_bytes"],
               lower_bound=manifest.options["arena_lower_bound"], emulated_ms=None)
    if qemu:
        try:
            stats = load(path).benchmark(make_feeds(graph), warmup=warmup, repeat=repeat)
            row["emulated_ms"] = round(stats["median_ms"], 3)
            row["clock"] = stats["timing"]
        except MlcError as exc:
            row["note"] = exc.one_line()[:120]
    return row


def host_latency(name: str, repeat: int, warmup: int) -> dict:
    """ort, llvm and c at one thread, interleaved; medians, ratios and agreement."""
    model = Model(model_path(name))
    feeds = make_feeds(model.graph)
    runners = {system: get_target(system).prepare(model, 1) for system in HOST_SYSTEMS}
    expected = runners["ort"].run(feeds)
    row: dict = {"model": name}
    for system in ("llvm", "c"):
        row[f"{system}_ok"] = agreement(runners[system].run(feeds), expected).ok
        row[f"{system}_compile_s"] = round(runners[system].compile_s, 2)
    times: dict[str, list[float]] = {system: [] for system in HOST_SYSTEMS}
    for round_ in range(warmup + repeat):
        for system, runner in runners.items():
            start = time.perf_counter()
            runner.run(feeds)
            if round_ >= warmup:
                times[system].append((time.perf_counter() - start) * 1e3)
    for system in HOST_SYSTEMS:
        row[f"{system}_ms"] = round(float(np.median(times[system])), 4)
    row["llvm_vs_ort"] = round(row["llvm_ms"] / row["ort_ms"], 3)
    row["c_vs_ort"] = round(row["c_ms"] / row["ort_ms"], 3)
    row["c_vs_llvm"] = round(row["c_ms"] / row["llvm_ms"], 3)
    return row


def kib(n) -> str:
    return "—" if n is None else f"{n / 1024:,.1f}"


def print_tables(footprints: list[dict], host: list[dict]) -> None:
    from rich.table import Table

    if footprints:
        table = Table(title="Cortex-M images (KiB): flash = text + data, RAM = data + bss",
                      caption="arena = planned tensors + kernel scratch; LB: the planner's lower "
                              "bound for the tensors; ms: QEMU emulation time, not the chip's")
        for heading in ("model", "core", "flash", "RAM", "weights", "arena", "planned",
                        "scratch", "LB", "planned/LB", "emulated ms", "note"):
            table.add_column(heading, justify="left" if heading in ("model", "core", "note")
                             else "right")
        for r in footprints:
            if not r["fits"]:
                table.add_row(r["model"], r["core"], *["—"] * 9, r["note"])
                continue
            ratio = f"{r['planned'] / r['lower_bound']:.2f}" if r["lower_bound"] else "—"
            table.add_row(r["model"], r["core"], kib(r["flash"]), kib(r["ram"]),
                          kib(r["weights"]), kib(r["arena"]), kib(r["planned"]),
                          kib(r["workspace"]), kib(r["lower_bound"]), ratio,
                          "—" if r["emulated_ms"] is None else f"{r['emulated_ms']:.2f}",
                          r["note"])
        print_wide(table)
    if host:
        table = Table(title="This CPU, 1 thread, interleaved: median ms",
                      caption="C: the loop IR rendered as C99 by mlc and built by the system "
                              "compiler; LLVM: the same loop IR through llvmlite")
        for heading in ("model", "onnxruntime", "llvm", "c", "llvm/ort", "c/ort", "c/llvm",
                        "ok"):
            table.add_column(heading, justify="left" if heading == "model" else "right")
        for r in host:
            ok = "yes" if r["llvm_ok"] and r["c_ok"] else "[red]NO[/]"
            table.add_row(r["model"], f"{r['ort_ms']:.3f}", f"{r['llvm_ms']:.3f}",
                          f"{r['c_ms']:.3f}", f"{r['llvm_vs_ort']:.2f}", f"{r['c_vs_ort']:.2f}",
                          f"{r['c_vs_llvm']:.2f}", ok)
        print_wide(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--models", default=",".join(ZOO_MODELS),
                        help="comma-separated model names (default: the zoo)")
    parser.add_argument("--cores", default="cortex-m4",
                        help="comma-separated Cortex-M cores (cortex-m0plus, -m4, -m7, -m33)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-host", action="store_true", help="skip the host latency table")
    parser.add_argument("--no-qemu", action="store_true",
                        help="build the images and report sizes, without running them")
    args = parser.parse_args(argv)
    try:
        names = select_models(args.models)
    except ValueError as err:
        parser.error(str(err))
    from mlc.backends.toolchain.cortex_m import CORES

    cores = [c.strip() for c in args.cores.split(",") if c.strip()]
    unknown = [c for c in cores if c not in CORES]
    if unknown:
        parser.error(f"unknown core {unknown[0]!r}; known: {', '.join(CORES)}")
    footprints, host = [], []
    with tempfile.TemporaryDirectory(prefix="mlc-mcu-bench-") as tmp:
        for name in names:
            for cpu in cores:
                print(f"{name}: building for {cpu}", file=sys.stderr, flush=True)
                footprints.append(footprint(name, cpu, Path(tmp), args.repeat, args.warmup,
                                            not args.no_qemu))
            if not args.no_host:
                print(f"{name}: timing on this CPU", file=sys.stderr, flush=True)
                host.append(host_latency(name, args.repeat, args.warmup))
    if args.json:
        print(json.dumps({"footprints": footprints, "host": host}, indent=2))
    else:
        print_tables(footprints, host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
