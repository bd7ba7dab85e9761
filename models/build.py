"""Rebuild the model zoo: `python models/build.py [NAME ...] [--out DIR]`.

Each builder returns (ModelProto, MACs). Building writes NAME.onnx, checks it (ONNX checker with
full_check, one onnxruntime run with the declared shapes), measures the held-out accuracy of the
trained models on the exported file, and records everything in zoo.json, so the numbers there
describe the bytes on disk and nothing else. Building into the zoo folder itself also refreshes
the table in models/README.md.

From Python: `from models import build; build.build_model("kws_dscnn", out_dir)`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):  # run as a script: import `models` as a package, not its files
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
import onnx
import onnxruntime as ort

from models import digits, mlperf_tiny, transformer
from models._nn import OPSET, params_of

ZOO_DIR = Path(__file__).resolve().parent
ZOO_JSON = "zoo.json"

BUILDERS: dict[str, Callable[[], tuple[onnx.ModelProto, int]]] = {
    "digits_mlp": digits.digits_mlp,
    "digits_cnn": digits.digits_cnn,
    "kws_dscnn": mlperf_tiny.kws_dscnn,
    "ic_resnet8": mlperf_tiny.ic_resnet8,
    "vww_mobilenet_v1_025": mlperf_tiny.vww_mobilenet_v1_025,
    "ad_autoencoder": mlperf_tiny.ad_autoencoder,
    "tiny_transformer": transformer.tiny_transformer,
}
TRAINED = {"digits_mlp", "digits_cnn"}
DATASET = "sklearn digits, pixels/16, stratified 75/25 split (random_state=0), 450 test images"

_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT64: "int64"}


def _io(values) -> list[dict]:
    return [{"name": v.name, "shape": [d.dim_value for d in v.type.tensor_type.shape.dim],
             "dtype": _DTYPES[v.type.tensor_type.elem_type]} for v in values]


def example_feed(entry: dict, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs with a zoo entry's declared shapes (token ids in range for int64 inputs)."""
    rng = np.random.default_rng(seed)
    feed = {}
    for i in entry["inputs"]:
        if i["dtype"] == "int64":
            feed[i["name"]] = rng.integers(0, transformer.VOCAB, i["shape"], dtype=np.int64)
        else:
            feed[i["name"]] = rng.random(i["shape"], dtype=np.float32)
    return feed


def check_runs(path: Path, entry: dict) -> None:
    """The file must pass the full checker and run in onnxruntime with the declared output shapes."""
    onnx.checker.check_model(str(path), full_check=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    outs = sess.run(None, example_feed(entry))
    for out, decl in zip(outs, entry["outputs"]):
        if list(out.shape) != decl["shape"] or not np.all(np.isfinite(out)):
            raise RuntimeError(f"{path.name}: output {decl['name']} has shape {out.shape} "
                               f"(declared {decl['shape']}) or non-finite values")


def describe(name: str, path: Path, macs: int) -> dict:
    """The zoo.json entry of a written model file (accuracy measured separately)."""
    model = onnx.load(str(path))
    blob = path.read_bytes()
    builder = BUILDERS[name]
    inputs = _io(model.graph.input)
    return {
        "file": path.name,
        "description": (builder.__doc__ or "").strip().splitlines()[0],
        "trained": name in TRAINED,
        "accuracy": None,
        "dataset": DATASET if name in TRAINED else None,
        "input_shape": inputs[0]["shape"],
        "inputs": inputs,
        "outputs": _io(model.graph.output),
        "opset": OPSET,
        "params": params_of(model),
        "macs": macs,
        "bytes": len(blob),
        "sha256": hashlib.sha256(blob).hexdigest(),
        "ops": dict(sorted(Counter(n.op_type for n in model.graph.node).items())),
    }


def build_model(name: str, out_dir: Path) -> dict:
    """Build one model into out_dir/NAME.onnx, check it, and return its zoo.json entry."""
    if name not in BUILDERS:
        raise ValueError(f"unknown model {name!r}; choose from: {', '.join(BUILDERS)}")
    model, macs = BUILDERS[name]()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    path = Path(out_dir) / f"{name}.onnx"
    staged = path.with_name(f".{path.name}.tmp")  # replaces the old file only once it checks out
    staged.write_bytes(model.SerializeToString())
    try:
        entry = describe(name, staged, macs) | {"file": path.name}
        check_runs(staged, entry)
        if name in TRAINED:
            _, _, x_te, y_te = digits.digits_split()
            entry["accuracy"] = round(digits.accuracy(str(staged), x_te, y_te), 4)
    except BaseException:
        staged.unlink()
        raise
    os.replace(staged, path)
    return entry


def dump_json(zoo: dict) -> str:
    """Indented JSON with shapes kept on one line, so zoo.json reads like a table."""
    text = json.dumps(zoo, indent=2, ensure_ascii=False)
    return re.sub(r"\[\s+([-\d,\s]+?)\s+\]", lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]",
                  text) + "\n"


def readme_table(zoo: dict) -> str:
    rows = ["| model | input | params | MACs | accuracy | size |", "|---|---|---|---|---|---|"]
    for name, e in zoo.items():
        i = e["inputs"][0]
        acc = f"{e['accuracy']:.4f}" if e["accuracy"] is not None else "— (untrained)"
        rows.append(f"| `{name}` | `{i['name']}` {i['dtype']} {i['shape']} | {e['params']:,} | "
                    f"{e['macs']:,} | {acc} | {e['bytes'] / 1024:.0f} KiB |")
    return "\n".join(rows)


def update_readme(zoo: dict, readme: Path) -> None:
    start, end = "<!-- zoo-table:start -->", "<!-- zoo-table:end -->"
    text = readme.read_text()
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{readme_table(zoo)}\n{end}{tail}")


def build(names: list[str] | None = None, out_dir: Path = ZOO_DIR, log=print) -> dict:
    """Build the named models (all by default) into out_dir and merge them into its zoo.json."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    zoo_path = out_dir / ZOO_JSON
    old = json.loads(zoo_path.read_text()) if zoo_path.exists() else {}
    built = {}
    for name in names or list(BUILDERS):
        t0 = time.perf_counter()
        built[name] = build_model(name, out_dir)
        e = built[name]
        log(f"{name}: {e['params']:,} params, {e['macs']:,} MACs, {e['bytes']:,} bytes, "
            f"accuracy {e['accuracy']}, {time.perf_counter() - t0:.1f} s")
    zoo = {n: built.get(n, old.get(n)) for n in BUILDERS if n in built or n in old}
    zoo_path.write_text(dump_json(zoo))
    if out_dir.resolve() == ZOO_DIR:
        update_readme(zoo, ZOO_DIR / "README.md")
    return zoo


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help=f"models to build (default: all of {', '.join(BUILDERS)})")
    ap.add_argument("--out", type=Path, default=ZOO_DIR, help="output folder (default: models/)")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in BUILDERS]
    if unknown:
        ap.error(f"unknown model(s) {', '.join(unknown)}; choose from: {', '.join(BUILDERS)}")
    build(args.names or None, args.out)


if __name__ == "__main__":
    main()
