"""Small ONNX models written to disk, good and bad, and ways to invoke the CLI.

The models are built with onnx.helper so CLI tests need nothing but the importer: an MLP
(MatMul → Add → Relu), one with a symbolic batch dim, one with ops nobody supports, and broken files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper
from tests.skips import skip_outside_ci

RNG = np.random.default_rng(42)
W = RNG.standard_normal((4, 3)).astype(np.float32)
B = RNG.standard_normal((3,)).astype(np.float32)


def _model(nodes, inputs, outputs, initializers=(), extra_opsets=()) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "tiny", inputs, outputs, initializer=list(initializers))
    opsets = [helper.make_opsetid("", 17), *(helper.make_opsetid(d, 1) for d in extra_opsets)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=8)


def mlp_model(batch: int | str = 2) -> onnx.ModelProto:
    """y = relu(x @ W + B); x: f32[batch, 4]."""
    return _model([helper.make_node("MatMul", ["x", "w"], ["h"]),
                   helper.make_node("Add", ["h", "b"], ["z"]),
                   helper.make_node("Relu", ["z"], ["y"])],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 3])],
                  [numpy_helper.from_array(W, "w"), numpy_helper.from_array(B, "b")])


def unsupported_model() -> onnx.ModelProto:
    """A made-up op in the default domain and a contrib op."""
    return _model([helper.make_node("FrobnicateNd", ["x"], ["t"]),
                   helper.make_node("Tokenizer", ["t"], ["y"], domain="com.microsoft")],
                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4])],
                  extra_opsets=["com.microsoft"])


def escaping_model() -> onnx.ModelProto:
    """The MLP with its weight stored as external data in ``../secret.bin``, outside its folder."""
    model = mlp_model()
    weight = model.graph.initializer[0]
    weight.ClearField("raw_data")
    weight.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret.bin"), ("offset", "0"), ("length", str(W.nbytes))):
        weight.external_data.add(key=key, value=value)
    return model


class Models:
    def __init__(self, folder: Path):
        self.folder = folder
        self.mlp = self._write("mlp.onnx", mlp_model())
        self.sym = self._write("sym.onnx", mlp_model("batch"))
        self.unsupported = self._write("unsupported.onnx", unsupported_model())
        (folder.parent / "secret.bin").write_bytes(W.tobytes())  # what the escaping path reaches for
        self.escaping = self._write("escaping.onnx", escaping_model())
        data = self.mlp.read_bytes()
        self.truncated = folder / "truncated.onnx"
        self.truncated.write_bytes(data[: len(data) // 2])
        self.text = folder / "notes.onnx"
        self.text.write_text("these are my notes, not a model\n")
        self.missing = folder / "missing.onnx"

    def _write(self, name: str, model: onnx.ModelProto) -> Path:
        path = self.folder / name
        onnx.save(model, path)
        return path

    @staticmethod
    def expected(x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ W + B, 0)


@pytest.fixture
def models(tmp_path) -> Models:
    folder = tmp_path / "models"
    folder.mkdir()
    return Models(folder)


@pytest.fixture
def invoke():
    """Run ``mlc ARGS`` in-process through click's CliRunner (stdout and stderr kept apart)."""
    from mlc.cli import cli

    def run(*args):
        return CliRunner().invoke(cli, [str(a) for a in args])

    return run


def mlc_executable() -> Path:
    return Path(sys.executable).parent / "mlc"


@pytest.fixture
def mlc_exe():
    """Run the installed ``mlc`` console script in a subprocess, as a user would."""
    exe = mlc_executable()
    if not exe.exists():
        skip_outside_ci(f"no mlc console script next to {sys.executable}; run pip install -e .")

    def run(*args, cwd=None):
        env = dict(os.environ, COLUMNS="200")
        return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                              timeout=120, cwd=cwd, env=env)

    return run


@pytest.fixture
def one_line_error():
    return assert_one_line_error


def assert_one_line_error(stderr: str, *needles: str) -> str:
    """stderr is exactly one line ``error: ...`` with no traceback, containing each needle."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])
    return lines[0]
