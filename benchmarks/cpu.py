"""CPU latency: mlc's llvm backend against onnxruntime and TVM's untuned llvm build, per model.

    python benchmarks/cpu.py [--json] [--models a,b] [--repeat N] [--warmup N] [--min-time S]
                             [--threads 1,2] [--no-tvm]

For each model: onnxruntime's, mlc llvm's and TVM's median latency at every thread count, the
ratios to onnxruntime, each one's compile seconds, and the GFLOP/s each reaches at one thread
(2 × the MACs ``mlc show --stats`` counts, over the median) beside the core's measured fp32 peak
(``mlc.testing.peak``). At the end the issue's speed bar: the geometric mean of mlc/onnxruntime at
one thread must be ≤ 2.0 and no model above 4.0.

Timing is interleaved: every runner of a model (each system at each thread count) is prepared
first; then, one thread count after the other, the systems are called round-robin, one call each
per round, ``--warmup`` untimed rounds then ``--repeat`` timed ones, so clock and thermal drift
and noisy neighbours hit all of them alike and the ratios at one thread count are fair. (Thread
counts are not interleaved with each other: mlc's runners of one model share one library and
its thread pool, and resizing the pool between calls — joining and starting threads — would be
timed as if a deployed model paid it.) Small models get more rounds, until the timed ones took
``--min-time`` seconds (at most ``MAX_ROUNDS``): on a shared machine one preemption costs
milliseconds, and the median of a handful of 0.1 ms calls is then whatever the scheduler did.

A system that is missing or fails on a model shows "n/a (why)" in its cells; the rest still run.
mlc's and TVM's outputs are checked against onnxruntime's (rtol 1e-4, atol 1e-5) on the first
call: a fast wrong answer is marked, not celebrated.

TVM: ``tvm.relax.frontend.onnx.from_onnx`` then ``tvm.compile`` (the default relax and TIR
pipelines, no tuning) for ``llvm -mcpu=<host>``, run by ``relax.VirtualMachine``. Its thread pool
is sized for each thread count with ``runtime.config_threadpool``, capped by ``TVM_NUM_THREADS``,
which this script raises to the largest ``--threads`` before TVM starts (TVM's default halves the
core count on x86 to skip hyper-threads). The untuned build has no parallel loops, so more
threads barely change its time. Without TVM (``pip install mlc[tvm]``) its columns say so.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from mlc.backends.toolchain.host import host_target
from mlc.backends.tvm import TVM
from mlc.inputs import make_feeds
from mlc.runtime import Model, agreement, get_target, target_names
from mlc.runtime.bench import Timing
from mlc.stats import graph_stats
from mlc.testing.bench import (System, add_round_options, check_round_options, one_line,
                               print_wide, run_rounds)
from mlc.testing.models import model_path, select_models
from mlc.testing.peak import measure_peak_gflops

DEFAULT_MODELS = ["resnet50", "squeezenet", "shufflenet", "inception_v1", "densenet121",
                  "bvlc_alexnet", "digits_cnn", "kws_dscnn", "ic_resnet8", "vww_mobilenet_v1_025"]
SYSTEMS = ("ort", "llvm", "tvm")  # column order; ort is the denominator of every ratio
GEOMEAN_BAR, MAX_BAR = 2.0, 4.0
NO_TVM = "n/a (install mlc[tvm])"


# -- the systems ----------------------------------------------------------------------------------

def prepare_target(name: str, model: Model, threads: list[int]) -> System:
    """A registered mlc runtime target (ort, llvm) prepared once per thread count. The llvm
    runners of one model load the same library and each resizes its one thread pool to its own
    count when called; ``setup`` does that untimed before the calls at a thread count begin."""
    system = System(name)
    if name not in target_names():
        system.error = f"n/a (no {name} target yet)"
        return system
    try:
        for t in threads:
            runner = get_target(name).prepare(model, t)
            system.compile_s = system.compile_s or runner.compile_s
            system.calls[t] = lambda feeds, r=runner: r.run(feeds)
            if hasattr(runner, "set_threads"):  # a compiled library: see below
                system.setup[t] = lambda r=runner, t=t: r.set_threads(t)
    except Exception as exc:  # one model failing to compile is a cell, not a crash
        system.fail(f"n/a (compile failed: {one_line(exc)})")
    return system


def prepare_tvm(path: Path, threads: list[int], cpu: str) -> System:
    """TVM's untuned llvm build of the ONNX file, one VM shared by every thread count."""
    system = System("tvm")
    try:
        import onnx
        import tvm.relax.frontend.onnx  # 0.27 wants the frontend imported explicitly
        import tvm_ffi
        from tvm import relax

        start = time.perf_counter()
        proto = onnx.load(str(path))
        mod = tvm.relax.frontend.onnx.from_onnx(proto, keep_params_in_input=False)
        executable = tvm.compile(mod, tvm.target.Target({"kind": "llvm", "mcpu": cpu}))
        device = tvm.cpu()
        vm = relax.VirtualMachine(executable, device)
        system.compile_s = time.perf_counter() - start
    except Exception as exc:  # TVM's frontend refusing a model is a finding, not our crash
        system.fail(f"n/a (TVM failed: {one_line(exc)})")
        return system
    initializers = {i.name for i in proto.graph.initializer}
    names = [i.name for i in proto.graph.input if i.name not in initializers]
    configure = tvm_ffi.get_global_func("runtime.config_threadpool")

    def call(feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        named = all(n in feeds for n in names)  # else the importer renamed them; order holds
        arrays = [feeds[n] for n in names] if named else list(feeds.values())
        out = vm["main"](*(tvm.runtime.tensor(a, device) for a in arrays))
        return [o.numpy() for o in ([out] if hasattr(out, "numpy") else out)]

    for t in threads:
        system.setup[t] = lambda t=t: configure(1, t)  # 1: "big" cores, t workers
        system.calls[t] = call
    return system


# -- measuring one model --------------------------------------------------------------------------

def measure(name: str, *, threads: list[int], repeat: int, warmup: int, min_time: float,
            with_tvm: bool, tvm_note: str, cpu: str, say: Callable[[str], None]) -> dict:
    """Prepare every system on one model, check their outputs, time them interleaved: a row."""
    path = model_path(name)
    model = Model(path)
    feeds = make_feeds(model.graph, None, seed=0)
    macs = graph_stats(model.graph)["macs"]
    say(f"{name}: preparing onnxruntime")
    systems = {"ort": prepare_target("ort", model, threads)}
    if systems["ort"].error:
        raise RuntimeError(f"{name}: onnxruntime failed: {systems['ort'].error}")
    say(f"{name}: compiling with mlc llvm")
    systems["llvm"] = prepare_target("llvm", model, threads)
    if with_tvm:
        say(f"{name}: compiling with TVM")
        systems["tvm"] = prepare_tvm(path, threads, cpu)
    else:
        systems["tvm"] = System("tvm", error=tvm_note)
    expected = systems["ort"].calls[threads[0]](feeds)
    for system in systems.values():
        if system.name != "ort" and system.calls:
            check(system, feeds, expected, threads[0])
    rounds = {str(t): run_rounds(systems, feeds, t, repeat=repeat, warmup=warmup,
                                 min_time=min_time,
                                 say=lambda r, t=t: say(f"{name}: {t} thread(s), round {r}"))
              for t in threads}
    return {**row(name, macs, systems, threads), "rounds": rounds}


def check(system: System, feeds, expected, t: int) -> None:
    """Run once (untimed) and compare with onnxruntime; a crash here removes the system."""
    try:
        if t in system.setup:
            system.setup[t]()
        system.agrees = agreement(system.calls[t](feeds), expected).ok
    except Exception as exc:
        system.fail(f"n/a (run failed: {one_line(exc)})")


def row(name: str, macs: int, systems: dict[str, System], threads: list[int]) -> dict:
    """The JSON row: per system its compile seconds, agreement and per-thread figures."""
    ort = ({t: Timing(tuple(systems["ort"].times[t])).median_ms for t in threads}
           if systems["ort"].error is None else {})  # ort failing mid-run leaves no ratios
    out: dict = {"model": name, "macs": macs, "systems": {}}
    for key in SYSTEMS:
        system = systems[key]
        entry: dict = {"error": system.error, "compile_s": _round(system.compile_s, 3),
                       "agrees": system.agrees if key != "ort" else True, "threads": {}}
        if system.error is None:
            for t in threads:
                timing = Timing(tuple(system.times[t]))
                entry["threads"][str(t)] = {
                    "median_ms": _round(timing.median_ms, 6),
                    "p90_ms": _round(timing.p90_ms, 6),
                    "ratio_to_ort": _round(timing.median_ms / ort[t], 4) if t in ort else None,
                    "gflops": _round(2 * macs / timing.median_ms / 1e6, 6),
                }
        out["systems"][key] = entry
    return out


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(float(x), digits)


# -- summary and output ---------------------------------------------------------------------------

def summary(rows: list[dict], t: int = 1) -> dict:
    """The speed bar over the models mlc ran at ``t`` threads: geomean and max of mlc/ort."""
    ratios = {r["model"]: r["systems"]["llvm"]["threads"][str(t)]["ratio_to_ort"]
              for r in rows
              if r["systems"]["llvm"]["threads"].get(str(t), {}).get("ratio_to_ort") is not None}
    missing = [r["model"] for r in rows if r["model"] not in ratios]
    if not ratios:
        return {"threads": t, "models": 0, "missing": missing, "geomean": None, "max": None,
                "max_model": None, "bar_holds": None}
    worst = max(ratios, key=ratios.get)
    geomean = math.exp(sum(math.log(v) for v in ratios.values()) / len(ratios))
    holds = geomean <= GEOMEAN_BAR and ratios[worst] <= MAX_BAR and not missing
    return {"threads": t, "models": len(ratios), "missing": missing, "geomean": round(geomean, 4),
            "max": ratios[worst], "max_model": worst, "bar_holds": holds}


def print_table(doc: dict) -> None:
    from rich.table import Table

    host, threads = doc["host"], doc["host"]["threads"]
    table = Table(title=f"CPU latency, median ms over interleaved rounds per thread count "
                        f"({host['cpu']}, "
                        f"fp32 peak {host['peak_gflops']:.0f} GFLOP/s per core)",
                  caption="x/ort: median over onnxruntime's at the same thread count; GF/s at 1 "
                          "thread = 2·MACs / median; ✗ = outputs differ from onnxruntime's")
    table.add_column("model")
    table.add_column("GMAC", justify="right")
    table.add_column("rounds", justify="right")
    for key, label in (("ort", "ort"), ("llvm", "mlc"), ("tvm", "TVM")):
        for t in threads:
            table.add_column(f"{label} {t}T", justify="right")
            if key != "ort":
                table.add_column(f"{label}/ort {t}T", justify="right")
        if 1 in threads:
            table.add_column(f"{label} GF/s", justify="right")
        if key != "ort":
            table.add_column(f"{label} compile s", justify="right")
    for r in doc["models"]:
        cells = [r["model"], f"{r['macs'] / 1e9:.3f}", "/".join(map(str, r["rounds"].values()))]
        for key in SYSTEMS:
            cells += system_cells(r["systems"][key], threads, ratios=key != "ort")
        table.add_row(*cells)
    print_wide(table, width=260)
    s = doc["summary"]
    if s["geomean"] is None:
        print(f"speed bar: n/a (no mlc llvm figures at 1 thread: {s['missing'] or 'no models'})")
    else:
        verdict = "holds" if s["bar_holds"] else "does NOT hold"
        missing = f"; not measured: {', '.join(s['missing'])}" if s["missing"] else ""
        print(f"speed bar (1 thread, mlc/ort): geomean {s['geomean']:.2f} (≤ {GEOMEAN_BAR}), max "
              f"{s['max']:.2f} on {s['max_model']} (≤ {MAX_BAR}) over {s['models']} models: "
              f"{verdict}{missing}")


def system_cells(entry: dict, threads: list[int], *, ratios: bool) -> list[str]:
    width = len(threads) * (2 if ratios else 1) + (1 if 1 in threads else 0) + (1 if ratios else 0)
    if entry["error"] is not None:
        return [entry["error"]] + ["—"] * (width - 1)
    mark = "" if entry["agrees"] in (True, None) else " ✗"
    cells = []
    for t in threads:
        figures = entry["threads"][str(t)]
        cells.append(f"{figures['median_ms']:.2f}{mark}")
        if ratios:
            ratio = figures["ratio_to_ort"]
            cells.append("—" if ratio is None else f"{ratio:.2f}")
    if 1 in threads:
        cells.append(f"{entry['threads']['1']['gflops']:.1f}")
    if ratios:
        cells.append(f"{entry['compile_s']:.1f}")
    return cells


def parse_threads(text: str) -> list[int]:
    counts = [int(p) for p in text.split(",") if p.strip()]
    if not counts or min(counts) < 1 or len(set(counts)) != len(counts):
        raise ValueError(f"--threads wants distinct positive counts, e.g. 1,2; got {text!r}")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--models", help="comma-separated model names (default: the light CNNs "
                                         "and the zoo's conv models)")
    add_round_options(parser, repeat=10, warmup=2)
    parser.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    parser.add_argument("--no-tvm", action="store_true", help="skip TVM")
    args = parser.parse_args(argv)
    try:
        names = select_models(args.models) if args.models else list(DEFAULT_MODELS)
        threads = parse_threads(args.threads)
    except ValueError as err:
        parser.error(str(err))
    check_round_options(parser, args)
    if not args.no_tvm:  # before TVM creates its thread pool, whose size this caps
        os.environ["TVM_NUM_THREADS"] = str(max(threads))
    with_tvm = not args.no_tvm and TVM.find() is not None
    note = "skipped (--no-tvm)" if args.no_tvm else NO_TVM
    cpu = host_target().cpu
    say = (lambda text: print(text, file=sys.stderr, flush=True))
    say("measuring the core's fp32 peak")
    peak = measure_peak_gflops()
    rows = [measure(name, threads=threads, repeat=args.repeat, warmup=args.warmup,
                    min_time=args.min_time,
                    with_tvm=with_tvm, tvm_note=note, cpu=cpu, say=say) for name in names]
    doc = {"host": {"cpu": cpu, "peak_gflops": round(peak, 2), "threads": threads,
                    "repeat": args.repeat, "warmup": args.warmup, "min_time": args.min_time},
           "models": rows, "summary": summary(rows)}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_table(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
