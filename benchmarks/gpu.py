"""GPU latency: mlc's cuda target against TVM's own ONNX path and PyTorch eager, per model.

    python benchmarks/gpu.py [--json] [--models a,b] [--target cuda|tvm-llvm] [--arch sm_90]
                             [--repeat N] [--warmup N] [--min-time S]
                             [--build DIR | --artifacts DIR]

For each model (default: the zoo and the light models resnet50, squeezenet, shufflenet,
inception_v1), three systems in one process, timed interleaved round-robin (``run_rounds``: every
round calls each system once, so clock drift and a noisy neighbour hit all alike), each call
synchronised with the device and its inputs already there:

- ``mlc``: ``mlc compile -t cuda`` — mlc's optimised, fused graph, one TVM kernel per group;
- ``tvm``: TVM's ONNX frontend and its default pipeline for the target on the same ONNX file
  (``mlc.backends.tvm.onnx_baseline``), written and loaded as the same kind of artifact;
- ``torch``: PyTorch eager, fp32, batch 1, on the torchvision architecture equivalent to the model
  (random weights; only for resnet50, squeezenet, shufflenet and inception_v1, and only when
  PyTorch with torchvision is installed).

Outputs of mlc and TVM are checked against onnxruntime's (rtol 1e-4, atol 1e-5). The summary
holds the issue's bars: mlc no slower than TVM's ONNX path on each model, and the geometric mean
of mlc / PyTorch within 1.5.

The GPU machine has no TVM compiler toolchain to spare, so the work splits in two: ``--build DIR``
compiles both artifacts of every model here (nvcc builds the kernels ahead of time) and stores the
feeds and onnxruntime's outputs beside them; ``--artifacts DIR`` then only loads and times them —
it needs numpy, TVM's runtime and ``mlc.runtime``, not the model files or onnxruntime
(benchmarks/gpu_device.sh carries it over). ``--target tvm-llvm`` runs the same comparison on this
CPU, which is how CI checks the script without a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from mlc.testing.bench import (System, add_round_options, check_round_options, one_line,
                               print_wide, run_rounds)

SYSTEMS = ("mlc", "tvm", "torch")
DEFAULT_MODELS = ["digits_mlp", "digits_cnn", "kws_dscnn", "ic_resnet8", "vww_mobilenet_v1_025",
                  "ad_autoencoder", "tiny_transformer", "resnet50", "squeezenet", "shufflenet",
                  "inception_v1"]
# The torchvision architecture each light model is (shufflenet: torchvision has only v2 of it).
TORCHVISION = {"resnet50": ("resnet50", {}), "squeezenet": ("squeezenet1_0", {}),
               "shufflenet": ("shufflenet_v2_x1_0", {}),
               "inception_v1": ("googlenet", {"aux_logits": False, "init_weights": False})}
TORCH_BAR = 1.5  # geometric mean of mlc / PyTorch eager
RTOL, ATOL = 1e-4, 1e-5


# -- building (on a machine with TVM and nvcc, GPU or not) ----------------------------------------

def build(names: list[str], folder: Path, target: str, arch: str,
          say: Callable[[str], None]) -> dict:
    """Both artifacts and the reference data of each model under ``folder/<model>/``; returns
    {model: error or None} (a model TVM's ONNX path refuses still gets its mlc artifact)."""
    import mlc
    from mlc.backends.tvm.onnx_baseline import build_onnx_baseline
    from mlc.inputs import make_feeds
    from mlc.runtime import Model, get_target
    from mlc.testing.models import model_path

    errors = {}
    for name in names:
        place = folder / name
        place.mkdir(parents=True, exist_ok=True)
        model = Model(model_path(name))
        feeds = make_feeds(model.graph, None, seed=0)
        expected = get_target("ort").prepare(model, 1).run(feeds)
        np.savez(place / "io.npz", **{f"in:{k}": v for k, v in feeds.items()},
                 **{f"out:{i}": v for i, v in enumerate(expected)})
        say(f"{name}: mlc compile -t {target}")
        try:
            mlc.compile(model.graph, target=target, output=place / "mlc", arch=arch)
        except Exception as exc:
            errors[name] = f"mlc: {one_line(exc)}"
        say(f"{name}: TVM's ONNX path for {target}")
        try:
            build_onnx_baseline(model_path(name), place / "tvm", target, arch)
        except Exception as exc:
            errors.setdefault(name, f"tvm: {one_line(exc)}")
    return errors


# -- running (on the machine with the device) -----------------------------------------------------

def load_io(place: Path) -> tuple[dict, list]:
    data = np.load(place / "io.npz")
    feeds = {k[3:]: data[k] for k in data.files if k.startswith("in:")}
    outputs = sorted((int(k[4:]), data[k]) for k in data.files if k.startswith("out:"))
    return feeds, [v for _, v in outputs]


def prepare_artifact(name: str, folder: Path, feeds: dict, expected: list) -> System:
    """A system timing the artifact in ``folder``: one synchronised call on staged inputs."""
    from mlc.runtime import agreement, load

    system = System(name)
    if not (folder / "manifest.json").is_file():
        system.fail("n/a (not built)")
        return system
    try:
        executable = load(folder, threads=1)
        system.agrees = agreement(executable.run(feeds), expected, rtol=RTOL, atol=ATOL).ok
        system.compile_s = executable.manifest.compile_seconds
        call = executable.timed_call(feeds)
        system.calls[1] = lambda _feeds: call()
        options = executable.manifest.options
        system.kernels = options.get("gpu_kernels", options.get("kernels"))
    except Exception as exc:  # no GPU, no TVM, an artifact that fails: a cell, not a crash
        system.fail(f"n/a ({one_line(exc)})")
    return system


def prepare_torch(name: str, feeds: dict, on_gpu: bool) -> System:
    """PyTorch eager on the torchvision equivalent of ``name`` (random weights, fp32, eval)."""
    system = System("torch")
    if name not in TORCHVISION:
        system.fail("n/a (no torchvision equivalent)")
        return system
    try:
        import torch
        import torchvision
    except ImportError:
        system.fail("n/a (PyTorch with torchvision not installed)")
        return system
    try:
        builder, kwargs = TORCHVISION[name]
        device = torch.device("cuda" if on_gpu else "cpu")
        if not on_gpu:
            torch.set_num_threads(1)
        net = getattr(torchvision.models, builder)(weights=None, **kwargs).eval().to(device)
        (x,) = [torch.from_numpy(np.ascontiguousarray(v)).to(device) for v in feeds.values()]
        sync = torch.cuda.synchronize if on_gpu else (lambda: None)

        def call(_feeds):
            with torch.no_grad():
                net(x)
            sync()
        call(None)
        system.calls[1] = call
    except Exception as exc:
        system.fail(f"n/a ({one_line(exc)})")
    return system


def measure(name: str, place: Path, *, on_gpu: bool, repeat: int, warmup: int, min_time: float,
            say: Callable[[str], None]) -> dict:
    feeds, expected = load_io(place)
    systems = {"mlc": prepare_artifact("mlc", place / "mlc", feeds, expected),
               "tvm": prepare_artifact("tvm", place / "tvm", feeds, expected),
               "torch": prepare_torch(name, feeds, on_gpu)}
    rounds = run_rounds(systems, feeds, 1, repeat=repeat, warmup=warmup, min_time=min_time,
                        say=lambda r: say(f"{name}: round {r}"))
    return row(name, systems, rounds)


def row(name: str, systems: dict[str, System], rounds: int) -> dict:
    out: dict = {"model": name, "rounds": rounds, "systems": {}}
    for key, system in systems.items():
        times = system.times.get(1, [])
        out["systems"][key] = {
            "error": system.error, "agrees": system.agrees, "kernels": system.kernels,
            "compile_s": system.compile_s,
            "median_ms": round(float(np.median(times)), 4) if system.error is None else None,
            "p90_ms": round(float(np.percentile(times, 90)), 4) if system.error is None else None}
    mlc_ms = out["systems"]["mlc"]["median_ms"]
    for other in ("tvm", "torch"):
        theirs = out["systems"][other]["median_ms"]
        out[f"mlc_vs_{other}"] = round(mlc_ms / theirs, 3) if mlc_ms and theirs else None
    return out


def summary(rows: list[dict]) -> dict:
    vs_tvm = {r["model"]: r["mlc_vs_tvm"] for r in rows if r["mlc_vs_tvm"] is not None}
    vs_torch = [r["mlc_vs_torch"] for r in rows if r["mlc_vs_torch"] is not None]
    geomean = math.exp(sum(map(math.log, vs_torch)) / len(vs_torch)) if vs_torch else None
    return {"slower_than_tvm": sorted(m for m, v in vs_tvm.items() if v > 1.0),
            "compared_with_tvm": len(vs_tvm),
            "torch_geomean": round(geomean, 3) if geomean else None,
            "compared_with_torch": len(vs_torch),
            "tvm_bar_holds": bool(vs_tvm) and all(v <= 1.0 for v in vs_tvm.values()),
            "torch_bar_holds": geomean is not None and geomean <= TORCH_BAR,
            "all_agree": all(s["agrees"] is not False for r in rows
                             for s in r["systems"].values())}


def print_table(doc: dict) -> None:
    from rich.table import Table

    table = Table(title=f"{doc['device']} — median ms, batch 1, fp32 ({doc['target']})")
    for column in ("model", "mlc", "tvm (onnx)", "torch eager", "mlc/tvm", "mlc/torch",
                   "kernels mlc/tvm"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in doc["models"]:
        cells = []
        for key in SYSTEMS:
            s = r["systems"][key]
            mark = " ✗" if s["agrees"] is False else ""
            cells.append(s["error"] if s["error"] else f"{s['median_ms']:.3f}{mark}")
        ratios = [f"{r[k]:.2f}" if r[k] is not None else "—" for k in ("mlc_vs_tvm",
                                                                        "mlc_vs_torch")]
        kernels = f"{r['systems']['mlc']['kernels'] or '—'}/{r['systems']['tvm']['kernels'] or '—'}"
        table.add_row(r["model"], *cells, *ratios, kernels)
    print_wide(table)
    s = doc["summary"]
    verdict = "holds" if s["tvm_bar_holds"] else "does NOT hold"
    slower = ", ".join(s["slower_than_tvm"]) or "—"
    print(f"mlc no slower than TVM's ONNX path: {verdict} ({s['compared_with_tvm']} models; "
          f"slower on: {slower})")
    geomean = "—" if s["torch_geomean"] is None else f"{s['torch_geomean']:.2f}"
    print(f"mlc / PyTorch eager geomean {geomean} (bar ≤ {TORCH_BAR}) over "
          f"{s['compared_with_torch']} models: {'holds' if s['torch_bar_holds'] else 'not met'}")


def device_name(target: str) -> str:
    if target != "cuda":
        import platform

        return f"CPU {platform.processor() or platform.machine()} (tvm-llvm)"
    try:
        import tvm

        device = tvm.cuda(0)
        return str(device.device_name) if device.exist else "no CUDA GPU"
    except Exception as exc:
        return f"unknown GPU ({one_line(exc)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--models", help="comma-separated model names (default: the zoo and four "
                                         "light models)")
    parser.add_argument("--target", choices=("cuda", "tvm-llvm"), default="cuda")
    parser.add_argument("--arch", default="sm_90", help="cuda: the GPU architecture (sm_90)")
    add_round_options(parser, repeat=50, warmup=5)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--build", metavar="DIR", help="only build the artifacts into DIR")
    mode.add_argument("--artifacts", metavar="DIR", help="only time the artifacts built in DIR")
    args = parser.parse_args(argv)
    check_round_options(parser, args)
    say = (lambda text: print(text, file=sys.stderr, flush=True))
    if args.artifacts:
        folder = Path(args.artifacts)
        names = args.models.split(",") if args.models else sorted(
            p.name for p in folder.iterdir() if (p / "io.npz").is_file())
    else:
        from mlc.testing.models import select_models

        try:
            names = select_models(args.models) if args.models else list(DEFAULT_MODELS)
        except ValueError as err:
            parser.error(str(err))
        folder = Path(args.build or tempfile.mkdtemp(prefix="mlc-gpu-bench-"))
        errors = build(names, folder, args.target, args.arch, say)
        if args.build:
            (folder / "build.json").write_text(json.dumps(
                {"target": args.target, "arch": args.arch, "models": names, "errors": errors},
                indent=1) + "\n")
            print(json.dumps({"built": names, "errors": errors, "folder": str(folder)}) if
                  args.json else f"built {len(names)} models into {folder}"
                  + "".join(f"\n  {m}: {e}" for m, e in errors.items()))
            return 0
    rows = [measure(name, folder / name, on_gpu=args.target == "cuda", repeat=args.repeat,
                    warmup=args.warmup, min_time=args.min_time, say=say) for name in names]
    doc = {"device": device_name(args.target), "target": args.target, "repeat": args.repeat,
           "warmup": args.warmup, "models": rows, "summary": summary(rows)}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_table(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
