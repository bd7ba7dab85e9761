"""Bad input gives one line on stderr, a non-zero exit, no traceback and no half-written output."""

from __future__ import annotations

import os

import numpy as np
import pytest

BAD_MODELS = {
    "truncated": ("truncated", ()),
    "not-onnx": ("text", ()),
    "missing": ("missing", ("missing.onnx",)),
    "unsupported": ("unsupported", ("FrobnicateNd", "Tokenizer")),
    "symbolic-dim": ("sym", ("batch",)),
    "escaping-external-data": ("escaping", ("../secret.bin",)),
}


def _listing(folder) -> set[str]:
    return set(os.listdir(folder))


@pytest.mark.parametrize("case", BAD_MODELS)
def test_import_of_a_bad_model_fails_cleanly(case, models, invoke, one_line_error, tmp_path):
    attr, needles = BAD_MODELS[case]
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("import", getattr(models, attr), "-o", out / "model.mlc")
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    one_line_error(result.stderr, *needles)
    assert _listing(out) == set()  # neither model.mlc, nor a sidecar, nor a staging folder


@pytest.mark.parametrize("case", ["truncated", "not-onnx", "unsupported", "symbolic-dim",
                                  "escaping-external-data"])
def test_the_installed_command_fails_cleanly(case, models, mlc_exe, one_line_error, tmp_path):
    attr, needles = BAD_MODELS[case]
    result = mlc_exe("import", getattr(models, attr), "-o", tmp_path / "model.onnx")
    assert result.returncode == 1, result.stderr
    one_line_error(result.stderr, *needles)
    assert not (tmp_path / "model.onnx").exists()


def test_missing_file_with_the_installed_command(models, mlc_exe, one_line_error):
    result = mlc_exe("run", models.missing)
    assert result.returncode == 1
    one_line_error(result.stderr, "not found", str(models.missing))


@pytest.mark.parametrize("command", ["show", "run", "compare"])
def test_every_model_command_reports_a_bad_model(command, models, invoke, one_line_error):
    result = invoke(command, models.truncated)
    assert result.exit_code == 1
    one_line_error(result.stderr)


def test_wrong_model_extension(models, invoke, one_line_error, tmp_path):
    path = tmp_path / "model.pb"
    path.write_bytes(models.mlp.read_bytes())
    one_line_error(invoke("show", path).stderr, "model.pb", ".onnx")


def test_output_format_is_checked_before_work(models, invoke, one_line_error, tmp_path):
    result = invoke("import", models.mlp, "-o", tmp_path / "model.txt")
    assert result.exit_code == 1
    one_line_error(result.stderr, ".mlc", ".onnx")
    assert not (tmp_path / "model.txt").exists()


def test_missing_output_folder(models, invoke, one_line_error, tmp_path):
    result = invoke("import", models.mlp, "-o", tmp_path / "nope" / "model.mlc")
    assert result.exit_code == 1
    one_line_error(result.stderr, "does not exist")


def test_unresolved_dim_names_the_input_and_the_fix(models, invoke, one_line_error):
    result = invoke("run", models.sym)
    assert result.exit_code == 1
    one_line_error(result.stderr, "x", "--shape")


@pytest.mark.parametrize("spec", ["x", "x=1,a", "x=", "=2,4", "x=2;4"])
def test_malformed_shape(spec, models, invoke, one_line_error):
    if spec == "x=":  # a valid scalar spec, which the rank-2 input then refuses
        result = invoke("run", models.sym, "--shape", spec)
        assert result.exit_code == 1
        one_line_error(result.stderr)
        return
    result = invoke("run", models.sym, "--shape", spec)
    assert result.exit_code == 1
    one_line_error(result.stderr, "--shape")


def test_input_name_that_does_not_exist(models, invoke, one_line_error, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 4), np.float32))
    result = invoke("run", models.mlp, "--input", f"nope={tmp_path / 'a.npy'}")
    assert result.exit_code == 1
    one_line_error(result.stderr, "nope", "x")


def test_input_with_the_wrong_shape(models, mlc_exe, one_line_error, tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((4, 2), np.float32))
    result = mlc_exe("compare", models.mlp, "--input", f"x={tmp_path / 'a.npy'}", "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    one_line_error(result.stderr, "[4, 2]", "[2, 4]")


def test_input_file_missing_or_not_npy(models, invoke, one_line_error, tmp_path):
    (tmp_path / "t.npy").write_text("hello")
    for spec, needle in [(f"x={tmp_path / 'none.npy'}", "not found"),
                         (f"x={tmp_path / 't.npy'}", "t.npy")]:
        result = invoke("run", models.mlp, "--input", spec)
        assert result.exit_code == 1
        one_line_error(result.stderr, needle)


def test_unknown_target(models, invoke, one_line_error):
    for args in (["run", models.mlp, "--target", "nope"],
                 ["compare", models.mlp, "--targets", "ref,nope"]):
        result = invoke(*args)
        assert result.exit_code == 1
        one_line_error(result.stderr, "nope", "ref", "ort")


def test_usage_errors_exit_2(models, invoke):
    assert invoke("import", models.mlp).exit_code == 2  # -o is required
    assert invoke("compare", models.mlp, "--repeat", "0").exit_code == 2
    result = invoke("frobnicate")
    assert result.exit_code == 2 and "No such command" in result.stderr


def test_usage_error_with_the_installed_command(mlc_exe):
    result = mlc_exe("show")
    assert result.returncode == 2
    assert "Missing argument" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_exits_130_quietly(models, invoke, monkeypatch):
    import mlc.cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mlc.cli, "_model", interrupted)
    result = invoke("show", models.mlp)
    assert result.exit_code == 130
    assert "Traceback" not in result.stderr and "error" not in result.stderr


def test_failure_while_saving_leaves_nothing(models, invoke, one_line_error, monkeypatch, tmp_path):
    import mlc
    from mlc.errors import MlcError

    def half_save(graph, path):
        with open(path, "w") as f:
            f.write("graph @half")
        raise MlcError("disk full")

    monkeypatch.setattr(mlc, "save", half_save)
    out = tmp_path / "out"
    out.mkdir()
    result = invoke("import", models.mlp, "-o", out / "model.mlc")
    assert result.exit_code == 1
    one_line_error(result.stderr, "disk full")
    assert _listing(out) == set()


def test_bugs_keep_their_traceback(models, invoke, monkeypatch):
    import mlc.cli

    def bug(*args, **kwargs):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr(mlc.cli, "_model", bug)
    result = invoke("show", models.mlp)
    assert result.exit_code != 0
    assert isinstance(result.exception, ZeroDivisionError)  # not swallowed into "error: ..."
