"""Hostile artifacts: a tampered ``manifest.json``, symlinks and special files inside the folder.

The loader trusts nothing in an artifact it did not check against the library itself: the I/O
count, shapes, dtypes and byte sizes come from ``mlc_io_count``/``mlc_io_desc``, and every entry
of the folder must be a plain file or folder (no symlink, FIFO, device) before anything is
``dlopen``ed. Each case runs ``mlc run DIR`` in a subprocess, because a regression corrupts
memory or runs a foreign constructor: it must exit non-zero with one ``error:`` line, no
traceback and no signal, within a timeout and an address-space limit.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from mlc.backends.c.driver import compile_host
from mlc.backends.llvm.driver import compile_graph
from mlc.backends.toolchain.cc import build_shared_library, find_c_compiler
from mlc.backends.toolchain.tools import ToolchainError
from mlc.ir import GraphBuilder

MLC = Path(sys.executable).with_name("mlc")
COMPILERS = {"llvm": compile_graph, "c": compile_host}
ADDRESS_SPACE = 4 << 30  # a runaway allocation fails instead of eating the machine
EVIL_C = """\
#include <stdio.h>
/* What an attacker's library does the moment it is dlopen'ed: runs code. */
__attribute__((constructor)) static void evil(void)
{
    FILE *f = fopen(MARKER, "w");
    if (f) { fputs("pwned", f); fclose(f); }
}
__attribute__((visibility("default"))) int mlc_abi_version(void) { return 2; }
"""


def two_output_graph():
    """x f32[2,4] -> relu(x @ w) f32[2,3] and x + x f32[2,4]: two outputs of different sizes,
    so a swapped, dropped or resized entry in the manifest is visible."""
    g = GraphBuilder("mlp")
    x = g.input("x", (2, 4))
    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    g.outputs(g.relu(g.matmul(x, g.const(w, name="w"))), g.add(x, x))
    return g.graph


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    try:
        find_c_compiler()
    except ToolchainError as exc:
        pytest.skip(f"no C compiler: {exc.one_line()}")
    root = tmp_path_factory.mktemp("built")
    graph = two_output_graph()
    for target, compile_fn in COMPILERS.items():
        compile_fn(graph, root / target)
    return {target: root / target for target in COMPILERS}


@pytest.fixture(params=sorted(COMPILERS))
def artifact(request, built, tmp_path) -> Path:
    """A private copy of the llvm or c artifact, to tamper with."""
    copy = tmp_path / "artifact"
    shutil.copytree(built[request.param], copy)
    return copy


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def mlc_run(directory: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([str(MLC), "run", str(directory)], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=_limits, cwd=directory.parent)


def refused(directory: Path, *fragments: str) -> str:
    """``mlc run`` fails cleanly (no signal, no traceback, one ``error:`` line holding every
    fragment); returns that line."""
    result = mlc_run(directory)
    assert 0 < result.returncode < 128, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def edit_manifest(directory: Path, change: Callable[[dict], None]) -> None:
    path = directory / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_the_untampered_artifact_runs(artifact):
    result = mlc_run(artifact)
    assert result.returncode == 0, result.stderr[-2000:]


# -- item 1: the manifest disagrees with what the library declares ------------------------------

def _shape(kind: str, i: int, shape: list[int]) -> Callable[[dict], None]:
    return lambda d: d[kind][i].update(shape=shape)


def _dtype(kind: str, i: int, dtype: str) -> Callable[[dict], None]:
    return lambda d: d[kind][i].update(dtype=dtype)


def _extra_output(d: dict) -> None:
    d["outputs"].append(dict(d["outputs"][0], name="extra"))


def _swap_outputs(d: dict) -> None:
    d["outputs"].reverse()


TAMPERS = {
    "output-shape-smaller": (_shape("outputs", 0, [1, 3]),
                             "says output 0 is f32[1,3] but model.so declares f32[2,3]"),
    "output-shape-larger": (_shape("outputs", 1, [2, 400]), "output 1 is f32[2,400]"),
    "output-same-bytes-other-shape": (_shape("outputs", 0, [3, 2]), "f32[3,2]"),
    "output-rank-changed": (_shape("outputs", 0, [6]), "f32[6] but"),
    "output-dtype-same-size": (_dtype("outputs", 0, "int32"), "i32[2,3]"),
    "input-shape-smaller": (_shape("inputs", 0, [1, 4]), "says input 0 is f32[1,4]"),
    "input-dtype-larger": (_dtype("inputs", 0, "float64"), "input 0 is f64[2,4]"),
    "inputs-emptied": (lambda d: d.update(inputs=[]), "0 inputs but model.so declares 1"),
    "outputs-emptied": (lambda d: d.update(outputs=[]), "0 outputs but model.so declares 2"),
    "extra-output": (_extra_output, "3 outputs but model.so declares 2"),
    "outputs-swapped": (_swap_outputs, "output 0 is f32[2,4] but model.so declares f32[2,3]"),
}


@pytest.mark.parametrize("case", sorted(TAMPERS))
def test_tampered_manifest_is_refused(artifact, case):
    change, message = TAMPERS[case]
    edit_manifest(artifact, change)
    line = refused(artifact, message, "the artifact was modified", "recompile")
    assert str(artifact) in line


# -- item 2: symlinks and special files inside the artifact ---------------------------------------

def evil_library(where: Path, marker: Path) -> Path:
    """A library whose constructor writes ``marker``: proof that it was dlopen'ed."""
    source = where / "evil.c"
    source.write_text(f'#define MARKER "{marker}"\n' + EVIL_C)
    return build_shared_library([source], where / "model.so", with_runtime=False)


def test_symlinked_library_is_not_loaded(artifact, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = tmp_path / "marker"
    (artifact / "model.so").unlink()
    (artifact / "model.so").symlink_to(evil_library(outside, marker))
    refused(artifact, "model.so", "symbolic link")
    assert not marker.exists()


def test_library_under_a_symlinked_folder_is_not_loaded(artifact, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = tmp_path / "marker"
    evil_library(outside, marker)
    (artifact / "lib").symlink_to(outside, target_is_directory=True)
    edit_manifest(artifact, lambda d: d.update(library="lib/model.so",
                                               files=d["files"] + ["lib/model.so"]))
    refused(artifact, "lib", "symbolic link")
    assert not marker.exists()


def test_symlinked_manifest_is_refused(artifact, tmp_path):
    outside = tmp_path / "manifest.json"
    shutil.move(artifact / "manifest.json", outside)
    (artifact / "manifest.json").symlink_to(outside)
    refused(artifact, "manifest.json", "symbolic link")


def test_symlink_to_a_file_inside_is_refused_too(artifact):
    (artifact / "model.so").rename(artifact / "real.so")
    (artifact / "model.so").symlink_to("real.so")
    refused(artifact, "model.so", "symbolic link")


@pytest.mark.parametrize("name", ["manifest.json", "plan.json", "stray"])
def test_fifo_in_the_artifact_is_refused_without_hanging(artifact, name):
    path = artifact / name
    path.unlink(missing_ok=True)
    os.mkfifo(path)
    refused(artifact, *(() if name == "manifest.json" else (name, "not a regular file")))


@pytest.mark.parametrize("target", sorted(COMPILERS))
def test_edge_descriptors_match_their_manifest(built, target, tmp_path):
    """A rank-0 input (dims NULL) and a model without inputs (no input table) load and run."""
    from mlc.runtime import load

    g = GraphBuilder("scalar")
    g.outputs(g.relu(g.input("x", ())))
    COMPILERS[target](g.graph, tmp_path / "scalar")
    assert load(tmp_path / "scalar").run({"x": np.array(-3, np.float32)})[0] == 0
    g = GraphBuilder("inputless")
    c = g.const(np.ones((2, 2), np.float32), name="c")
    g.outputs(g.add(c, c))
    COMPILERS[target](g.graph, tmp_path / "inputless")
    assert (load(tmp_path / "inputless").run({})[0] == 2).all()
