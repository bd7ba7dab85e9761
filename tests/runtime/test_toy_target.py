"""Adding a target is one module: tests/runtime/toy_target.py registers ``toy``, and with nothing
else changed it is a compile target in ``mlc compile --help``, runs in ``mlc compare`` and gets
its column in docs/ops.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlc import docs_ops
from mlc.ops import all_ops
from mlc.runtime.targets import TARGETS
from mlc.testing.models import zoo_model_path
from tests.cli.conftest import mlc_executable

TOY = Path(__file__).with_name("toy_target.py")


def mlc(*args: str, plugin: bool = True) -> subprocess.CompletedProcess:
    """The installed command in a fresh process, so the plugin registers from scratch."""
    command = [str(mlc_executable()), *(["--plugin", str(TOY)] if plugin else []), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_the_toy_target_is_a_compile_target_in_help():
    result = mlc("compile", "--help")
    assert result.returncode == 0, result.stderr
    choices = result.stdout.split("--target [", 1)[1].split("]", 1)[0]
    assert "toy" in choices.split("|") and "llvm" in choices.split("|")
    assert "toy" not in mlc("compile", "--help", plugin=False).stdout


def test_the_toy_target_compiles_runs_and_compares_with_onnxruntime(tmp_path):
    model = zoo_model_path("digits_mlp")
    result = mlc("compile", model, "-t", "toy", "-o", str(tmp_path / "art"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["target"] == "toy"
    result = mlc("compare", model, "--targets", "ort,toy", "--repeat", "2", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["target"]: r for r in json.loads(result.stdout)["results"]}
    assert rows["toy"]["ok"] and rows["toy"]["compile_s"] > 0
    listed = json.loads(mlc("targets", "--json").stdout)
    assert [t["name"] for t in listed][-1] == "toy"


def test_a_flag_the_toy_does_not_take_is_refused_by_name(tmp_path):
    result = mlc("compile", zoo_model_path("digits_mlp"), "-t", "toy", "-o", str(tmp_path / "a"),
                 "--weights", "c")
    assert result.returncode == 1
    assert result.stderr.startswith("error: target toy takes no option 'weights'")
    assert not (tmp_path / "a").exists()


@pytest.fixture
def toy_registered():
    sys.path.insert(0, str(TOY.parent))
    try:
        import toy_target  # noqa: F401  (registers "toy")
    finally:
        sys.path.remove(str(TOY.parent))
    yield
    TARGETS.remove("toy")
    sys.modules.pop("toy_target", None)


def test_docs_ops_gets_a_toy_column(toy_registered):
    text = docs_ops.generate(conformance=False)
    header = next(line for line in text.splitlines() if line.startswith("| op | inputs"))
    assert header.rstrip(" |").endswith("| tvm | toy")
    assert "- `toy` (toy): the toy target interprets every op" in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) == len(all_ops()) and all(row.endswith("| ✓ |") for row in rows)


def test_a_broken_plugin_is_one_line_naming_the_file_and_line(tmp_path):
    result = subprocess.run([str(mlc_executable()), "--plugin", str(tmp_path / "nope.py"),
                             "targets"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.startswith("error: plugin ") and "nope.py does not exist" in result.stderr
    bad = tmp_path / "bad_target.py"
    bad.write_text("from mlc.runtime.targets import Target, register_target\n\n"
                   "register_target(Target('ref', 'a second ref'))\n")
    result = subprocess.run([str(mlc_executable()), "--plugin", str(bad), "targets"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "failed while loading at line 3: ValueError: target ref registered twice" in \
        result.stderr
