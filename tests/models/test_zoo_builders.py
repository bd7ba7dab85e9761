"""The bundled zoo: files are valid, run, match zoo.json, rebuild identically, keep their accuracy.

MACs and params are recomputed here from the ONNX files with ONNX's own shape inference, not with
the builders' helpers, so a slip in models/_nn.py cannot agree with itself.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from mlc.testing.models import MODELS_DIR, REPO_ROOT, ZOO_MODELS, zoo_model_path

if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from models import build, digits  # noqa: E402

UNTRAINED = ["kws_dscnn", "ic_resnet8", "vww_mobilenet_v1_025", "ad_autoencoder", "tiny_transformer"]
TRAINED = ["digits_mlp", "digits_cnn"]


@pytest.fixture(scope="module")
def zoo() -> dict:
    return json.loads((MODELS_DIR / "zoo.json").read_text())


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    """Static shape of every value, from ONNX shape inference (with shape-arithmetic propagation)."""
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    g = inferred.graph
    shapes = {i.name: list(i.dims) for i in g.initializer}
    for v in list(g.input) + list(g.value_info) + list(g.output):
        shapes[v.name] = [d.dim_value for d in v.type.tensor_type.shape.dim]
    return shapes


def _macs(model: onnx.ModelProto) -> int:
    """Conv/Gemm/MatMul multiply-accumulates, from the inferred shapes of each node's operands."""
    shapes = _shapes(model)
    total = 0
    for n in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "Conv":
            w, out = shapes[n.input[1]], shapes[n.output[0]]
            total += math.prod(out) * math.prod(w[1:])  # N·Cout·Ho·Wo · Cin/g·kh·kw
        elif n.op_type == "Gemm":
            a, b = shapes[n.input[0]], shapes[n.input[1]]
            m, k = a[::-1] if attrs.get("transA") else a
            nn = b[0] if attrs.get("transB") else b[1]
            total += m * nn * k
        elif n.op_type == "MatMul":
            out, a = shapes[n.output[0]], shapes[n.input[0]]
            total += math.prod(out) * a[-1]
    return total


def test_zoo_json_lists_every_model(zoo):
    assert list(zoo) == ZOO_MODELS


def test_folder_is_small():
    size = sum(p.stat().st_size for p in MODELS_DIR.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts)
    assert size < 5 * 1024 * 1024, f"models/ is {size / 2**20:.2f} MiB"


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_file_passes_full_checker(name):
    path = zoo_model_path(name)
    assert path.is_file(), f"{path} missing: run models/build.py"
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_runs_in_ort_with_declared_interface(name, zoo):
    entry = zoo[name]
    sess = _session(zoo_model_path(name))
    want_in = "tokens" if name == "tiny_transformer" else "input"
    assert [i.name for i in sess.get_inputs()] == [want_in]
    assert [o.name for o in sess.get_outputs()] == ["output"]
    assert sess.get_inputs()[0].shape == entry["input_shape"]
    assert sess.get_inputs()[0].type == ("tensor(int64)" if name == "tiny_transformer" else "tensor(float)")
    assert entry["input_shape"][0] == 1, "batch 1"
    outs = [sess.run(None, build.example_feed(entry, seed))[0] for seed in (0, 1)]
    for out in outs:
        assert list(out.shape) == entry["outputs"][0]["shape"]
        assert out.dtype == np.float32 and np.all(np.isfinite(out))
    assert not np.allclose(outs[0], outs[1]), "the output does not depend on the input"
    if zoo[name]["ops"].get("Softmax") and name != "tiny_transformer":
        np.testing.assert_allclose(outs[0].sum(), 1.0, rtol=1e-5)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_json_agrees_with_file(name, zoo):
    entry, path = zoo[name], zoo_model_path(name)
    blob = path.read_bytes()
    model = onnx.load_from_string(blob)
    assert entry["file"] == path.name
    assert entry["bytes"] == len(blob)
    assert entry["sha256"] == hashlib.sha256(blob).hexdigest()
    assert entry["params"] == sum(onnx.numpy_helper.to_array(i).size for i in model.graph.initializer)
    assert entry["macs"] == _macs(model)
    assert entry["ops"] == dict(Counter(n.op_type for n in model.graph.node))
    assert entry["inputs"][0]["shape"] == entry["input_shape"]
    assert entry["trained"] == (name in TRAINED)
    assert (entry["accuracy"] is None) == (name not in TRAINED)


def test_macs_of_known_architectures(zoo):
    """Hand-counted MACs of the published MLPerf Tiny architectures (and the digits models)."""
    kws = 64 * 25 * 5 * 10 * 4 + 4 * (64 * 25 * 5 * 9 + 64 * 25 * 5 * 64) + 64 * 12
    resnet8 = (16 * 32 * 32 * 3 * 9 + 2 * 16 * 32 * 32 * 16 * 9
               + 32 * 16 * 16 * (16 * 9 + 32 * 9 + 16) + 64 * 8 * 8 * (32 * 9 + 64 * 9 + 32) + 64 * 10)
    ae = 640 * 128 + 3 * 128 * 128 + 128 * 8 + 8 * 128 + 3 * 128 * 128 + 128 * 640
    layer = 4 * 64 * 128 * 128 + 2 * (2 * 64 * 64 * 64) + 2 * 64 * 128 * 512
    transformer = 2 * layer + 128 * 2
    mlp = 64 * 64 + 64 * 32 + 32 * 10
    cnn = 8 * 8 * 8 * 9 + 16 * 4 * 4 * 8 * 9 + 256 * 10
    expected = {"kws_dscnn": kws, "ic_resnet8": resnet8, "ad_autoencoder": ae,
                "tiny_transformer": transformer, "digits_mlp": mlp, "digits_cnn": cnn}
    assert {n: zoo[n]["macs"] for n in expected} == expected


def test_exporter_patterns_are_kept():
    """The graphs keep what real exporters write, so mlc's passes have work to do."""
    ops = {n: Counter(node.op_type for node in onnx.load(str(zoo_model_path(n))).graph.node)
           for n in ZOO_MODELS}
    for name in ["digits_cnn", "kws_dscnn", "ic_resnet8", "vww_mobilenet_v1_025", "ad_autoencoder"]:
        assert ops[name]["BatchNormalization"] >= 2, f"{name}: BatchNormalization must stay unfolded"
    vww = onnx.load(str(zoo_model_path("vww_mobilenet_v1_025")))
    clips = [n for n in vww.graph.node if n.op_type == "Clip"]
    assert clips and all(len(n.input) == 3 for n in clips), "ReLU6 is Clip with min/max inputs"
    assert any(a.name == "auto_pad" for n in vww.graph.node for a in n.attribute)
    assert ops["tiny_transformer"]["Erf"] == 2 and ops["tiny_transformer"]["LayerNormalization"] == 5


def test_transformer_has_shape_arithmetic_chain():
    model = onnx.load(str(zoo_model_path("tiny_transformer")))
    producer = {o: n for n in model.graph.node for o in n.output}
    chains = 0
    for reshape in (n for n in model.graph.node if n.op_type == "Reshape"):
        concat = producer.get(reshape.input[1])
        if concat is None or concat.op_type != "Concat":
            continue
        for u in (producer.get(i) for i in concat.input):
            if u is not None and u.op_type == "Unsqueeze":
                gather = producer[u.input[0]]
                chains += gather.op_type == "Gather" and producer[gather.input[0]].op_type == "Shape"
    assert chains >= 2
    reduce = [n for n in model.graph.node if n.op_type == "ReduceMean"]
    assert len(reduce) == 1 and [a.name for a in reduce[0].attribute] == ["axes", "keepdims"]


@pytest.mark.parametrize("name", UNTRAINED)
def test_untrained_rebuild_is_byte_identical(name, tmp_path):
    build.build_model(name, tmp_path)
    assert (tmp_path / f"{name}.onnx").read_bytes() == zoo_model_path(name).read_bytes()


@pytest.mark.parametrize("name", TRAINED)
def test_recorded_accuracy_is_reproduced_by_ort(name, zoo):
    _, _, x_te, y_te = digits.digits_split()
    assert len(y_te) == 450 and x_te.min() >= 0.0 and x_te.max() <= 1.0
    acc = digits.accuracy(str(zoo_model_path(name)), x_te, y_te)
    assert acc >= 0.95
    # One image of 450 may flip between onnxruntime versions when two classes nearly tie.
    assert acc == pytest.approx(zoo[name]["accuracy"], abs=1 / 450 + 1e-9)


def test_trained_rebuild_is_deterministic(tmp_path):
    """Training twice gives the same bytes (the committed file may differ under another BLAS).
    The MLP shows it for the training loop both digits models share; the CNN's run is ~3 min."""
    name = "digits_mlp"
    first = build.build_model(name, tmp_path / "a")
    second = build.build_model(name, tmp_path / "b")
    assert first["sha256"] == second["sha256"]
    assert first["accuracy"] >= 0.95


def test_build_script_writes_requested_models_only(tmp_path):
    script = MODELS_DIR / "build.py"
    run = subprocess.run([sys.executable, str(script), "kws_dscnn", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert list(json.loads((tmp_path / "zoo.json").read_text())) == ["kws_dscnn"]
    assert (tmp_path / "kws_dscnn.onnx").read_bytes() == zoo_model_path("kws_dscnn").read_bytes()
    bad = subprocess.run([sys.executable, str(script), "resnet9000", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "unknown model(s) resnet9000" in bad.stderr


def test_builders_do_not_import_mlc(tmp_path):
    code = ("import sys; from models import build; build.build_model('ad_autoencoder', sys.argv[1]); "
            "bad = sorted(m for m in sys.modules if m == 'mlc' or m.startswith('mlc.')); "
            "assert not bad, bad")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
