"""Untrusted names never reach TVM's generated code raw: the hostile model of tests/c/test_names
(names holding ``*/``, quotes, newlines, keywords, non-ASCII text, colliding spellings) compiles
for tvm-llvm and cuda, computes the right thing, and neither the CUDA source nor the Relax and
TIR modules contain any of those names raw; kernels are named from sanitized labels only."""

from __future__ import annotations

import re

import numpy as np

from tests.tvm_backend.tools import need_nvcc, need_tvm

need_tvm()

import mlc  # noqa: E402
from mlc.interp import run  # noqa: E402
from mlc.runtime import load, read_manifest  # noqa: E402
from tests.c.test_names import EVIL, evil_model  # noqa: E402


# the names that are not already plain identifiers: none may appear verbatim
RAW = [name for name in EVIL.values() if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)]


def assert_no_raw_name(text: str) -> None:
    for raw in RAW:
        assert raw not in text, raw
    assert not re.search(r"[^\x00-\x7f]", text)


def _graph(tmp_path):
    path = tmp_path / "evil.onnx"
    evil_model(path)
    return mlc.load(path)


def test_hostile_names_on_tvm_llvm_compute_correctly_and_stay_out(tmp_path):
    graph = _graph(tmp_path)
    out = mlc.compile(graph, target="tvm-llvm", output=tmp_path / "a", emit=("relax", "tir"))
    feeds = {v.name: np.random.default_rng(1).standard_normal(v.shape).astype(np.float32)
             for v in graph.inputs}
    want = run(graph, feeds, as_list=True)
    got = load(out).run(feeds)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    for name in ("model.relax.py", "model.tir.py"):
        assert_no_raw_name((tmp_path / "a" / name).read_text())


def test_hostile_names_never_reach_cuda_source(tmp_path):
    need_nvcc()
    out = mlc.compile(_graph(tmp_path), target="cuda", output=tmp_path / "a")
    source = (tmp_path / "a" / "kernels.cu").read_text()
    assert_no_raw_name(source)
    for group in read_manifest(out).options["groups"]:
        assert group["primfunc"] is None or re.fullmatch(r"k_[A-Za-z0-9_]+", group["primfunc"])
