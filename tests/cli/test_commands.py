"""The commands on good input: import, show, run, compare, ops, --version."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import mlc


def test_version(invoke, mlc_exe):
    result = invoke("--version")
    assert result.exit_code == 0 and mlc.__version__ in result.stdout
    installed = mlc_exe("--version")
    assert installed.returncode == 0 and mlc.__version__ in installed.stdout


def test_import_to_text_ir_round_trips(models, invoke, tmp_path):
    out = tmp_path / "mlp.mlc"
    result = invoke("import", models.mlp, "-o", out)
    assert result.exit_code == 0, result.output
    assert out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    from mlc.interp import run

    y, = run(mlc.load(out), {"x": x}, as_list=True)
    np.testing.assert_allclose(y, models.expected(x), rtol=1e-5, atol=1e-6)


def test_import_to_onnx_runs_in_onnxruntime(models, invoke, tmp_path):
    import onnxruntime as ort

    out = tmp_path / "mlp.onnx"
    result = invoke("import", models.mlp, "-o", out)
    assert result.exit_code == 0, result.output
    onnx.checker.check_model(onnx.load(out))
    x = np.random.default_rng(1).standard_normal((2, 4)).astype(np.float32)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    y, = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(y, models.expected(x), rtol=1e-5, atol=1e-6)


def test_import_specialises_symbolic_dims(models, invoke, tmp_path):
    out = tmp_path / "sym.mlc"
    assert invoke("import", models.sym, "-o", out, "--shape", "x=5,4").exit_code == 0
    graph = mlc.load(out)
    assert tuple(graph.inputs[0].shape) == (5, 4) and tuple(graph.outputs[0].shape) == (5, 3)


def test_show_prints_the_ir(models, invoke):
    result = invoke("show", models.mlp)
    assert result.exit_code == 0, result.output
    for op in ("matmul", "add", "relu"):
        assert op in result.stdout
    assert result.stdout.lstrip().startswith("graph")


def test_show_accepts_its_own_text_ir(models, invoke, tmp_path):
    out = tmp_path / "mlp.mlc"
    invoke("import", models.mlp, "-o", out)
    assert invoke("show", out).stdout == invoke("show", models.mlp).stdout


def test_show_stats_json_contract(models, invoke):
    result = invoke("show", models.mlp, "--stats", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert set(stats) == {"nodes", "ops", "params", "macs", "activation_bytes"}
    assert all(isinstance(stats[k], int) for k in ("nodes", "params", "macs", "activation_bytes"))
    assert stats["nodes"] == 3 and stats["ops"] == {"matmul": 1, "add": 1, "relu": 1}
    assert stats["params"] == 4 * 3 + 3
    assert stats["macs"] == 2 * 4 * 3
    assert stats["activation_bytes"] == 3 * 2 * 3 * 4


def test_show_stats_table(models, invoke):
    result = invoke("show", models.mlp, "--stats")
    assert result.exit_code == 0, result.output
    for word in ("params", "MACs", "activation", "matmul"):
        assert word in result.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)


@pytest.mark.parametrize("target", ["ref", "ort"])
def test_run_prints_outputs(target, models, invoke):
    result = invoke("run", models.mlp, "--target", target)
    assert result.exit_code == 0, result.output
    assert "y" in result.stdout and "[2, 3]" in result.stdout and "float32" in result.stdout


def test_run_with_an_input_file_saves_outputs(models, invoke, tmp_path):
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    np.save(tmp_path / "x.npy", x)
    for target in ("ref", "ort"):
        folder = tmp_path / target
        result = invoke("run", models.mlp, "--target", target, "--input", f"x={tmp_path / 'x.npy'}",
                        "--output-dir", folder)
        assert result.exit_code == 0, result.output
        np.testing.assert_allclose(np.load(folder / "y.npy"), models.expected(x), rtol=1e-5,
                                   atol=1e-6)


def test_run_json(models, invoke, tmp_path):
    x = np.full((2, 4), 0.5, np.float32)
    np.save(tmp_path / "x.npy", x)
    result = invoke("run", models.mlp, "--json", "--input", f"x={tmp_path / 'x.npy'}")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["target"] == "ref" and doc["model"] == str(models.mlp)
    out, = doc["outputs"]
    assert out["name"] == "y" and out["shape"] == [2, 3] and out["dtype"] == "float32"
    expected = models.expected(x).reshape(-1)
    np.testing.assert_allclose(out["head"], expected[:len(out["head"])], rtol=1e-5, atol=1e-6)
    assert out["max"] == pytest.approx(float(expected.max()), rel=1e-5)
    assert out["file"] is None


def test_run_seed_changes_random_inputs(models, invoke):
    def head(seed):
        return json.loads(invoke("run", models.mlp, "--json", "--seed", seed).stdout)["outputs"][0]

    assert head(1) == head(1)
    assert head(1)["head"] != head(2)["head"]


def _check_compare_contract(doc, targets):
    assert set(doc) == {"model", "threads", "results"}
    assert isinstance(doc["model"], str) and isinstance(doc["threads"], int)
    assert [r["target"] for r in doc["results"]] == targets
    for row in doc["results"]:
        assert set(row) == {"target", "ok", "max_abs_err", "max_rel_err", "median_ms", "p90_ms",
                            "ratio_to_ort", "compile_s", "timing", "error"}
        assert isinstance(row["ok"], bool)
        for key in ("max_abs_err", "max_rel_err", "median_ms", "p90_ms", "ratio_to_ort",
                    "compile_s"):
            assert isinstance(row[key], float), key
        assert row["error"] is None or isinstance(row["error"], str)


def test_compare_json(models, invoke):
    result = invoke("compare", models.mlp, "--targets", "ref,ort", "--repeat", "3", "--warmup",
                    "1", "--threads", "2", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    _check_compare_contract(doc, ["ref", "ort"])
    assert doc["threads"] == 2 and doc["model"] == str(models.mlp)
    ref, ort = doc["results"]
    assert ref["ok"] and ref["max_abs_err"] <= 1e-5 and ref["median_ms"] > 0
    assert ort["ok"] and ort["max_abs_err"] == 0.0 and ort["ratio_to_ort"] == 1.0


def test_compare_with_the_installed_command(models, mlc_exe):
    result = mlc_exe("compare", models.sym, "--shape", "x=3,4", "--targets", "ref", "--repeat",
                     "2", "--json")
    assert result.returncode == 0, result.stderr
    _check_compare_contract(json.loads(result.stdout), ["ref"])


def test_compare_a_text_ir_model_against_its_export(models, invoke, tmp_path):
    out = tmp_path / "mlp.mlc"
    invoke("import", models.mlp, "-o", out)
    result = invoke("compare", out, "--repeat", "2", "--json")
    assert result.exit_code == 0, result.output
    _check_compare_contract(json.loads(result.stdout), ["ref", "ort"])


@pytest.fixture
def fake_target(scratch_target):
    """``add(name, run)``: a throw-away target whose runner calls ``run(feeds)``."""
    from mlc.runtime.targets import Runner

    def add(name, run):
        class FakeRunner(Runner):
            def run(self, feeds):
                return run(feeds)

        scratch_target(name, lambda model, threads: FakeRunner())

    return add


def test_compare_exits_1_when_a_target_is_off(models, invoke, fake_target):
    fake_target("test-zeros", lambda feeds: [np.zeros((2, 3), np.float32)])

    def crash(feeds):
        from mlc.runtime import TargetError

        raise TargetError("kernel crashed")

    fake_target("test-crash", crash)
    result = invoke("compare", models.mlp, "--targets", "test-zeros,test-crash,ref", "--repeat",
                    "1", "--json", "--seed", "3")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)  # the report is still printed
    _check_compare_contract(doc, ["test-zeros", "test-crash", "ref"])
    zeros, crashed, ref = doc["results"]
    assert not zeros["ok"] and zeros["error"] is None and zeros["max_abs_err"] > 0
    assert not crashed["ok"] and crashed["error"] == "kernel crashed"
    assert ref["ok"]
    assert "Traceback" not in result.stderr


def test_compare_tolerance_options(models, invoke, fake_target):
    def slightly_off(feeds):
        return [(models.expected(feeds["x"]) + 1e-3).astype(np.float32)]

    fake_target("test-off", slightly_off)
    args = ["compare", models.mlp, "--targets", "test-off", "--repeat", "1", "--json"]
    assert invoke(*args).exit_code == 1
    assert invoke(*args, "--atol", "1e-2").exit_code == 0


def test_compare_table(models, invoke):
    result = invoke("compare", models.mlp, "--repeat", "2")
    assert result.exit_code == 0, result.output
    for word in ("ref", "ort", "median"):
        assert word in result.stdout


def test_ops_lists_the_registry(invoke):
    from mlc.ops import all_ops

    result = invoke("ops", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == list(all_ops())
    relu = next(r for r in rows if r["name"] == "relu")
    assert relu == {"name": "relu", "inputs": ["x"], "fusion": "elemwise",
                    "onnx": list(all_ops()["relu"].onnx)}
    table = invoke("ops")
    assert "relu" in table.stdout and "conv2d" in table.stdout
