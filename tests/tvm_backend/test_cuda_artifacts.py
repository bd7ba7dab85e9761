"""Acceptance: ``mlc compile -t cuda`` builds every zoo and light model here, without a GPU, with
exactly one GPU kernel per fused group (that tvm-llvm matches onnxruntime on them is
tests/models/test_compiled_targets.py)."""

from __future__ import annotations

import json

import pytest

from tests.tvm_backend.tools import need_nvcc, need_tvm

need_tvm()

import mlc  # noqa: E402
from mlc.backends.program import optimise  # noqa: E402
from mlc.testing.models import (ZOO_MODELS, light_model_path,  # noqa: E402
                                zoo_model_path)

from .gpu_kernels import assert_one_kernel_per_group  # noqa: E402


def _path(name: str) -> str:
    return zoo_model_path(name) if name in ZOO_MODELS else light_model_path(name)


# The light models whose fused groups differ in kind from the zoo's (bottlenecks, channel
# shuffles, inception branches, fire modules); the others repeat these patterns at greater
# compile cost (densenet121 and vgg19 take ~100 s each through nvcc).
CUDA_LIGHT = ("resnet50", "squeezenet", "shufflenet", "inception_v1")


@pytest.mark.parametrize("name", list(ZOO_MODELS) + [
    pytest.param(n, marks=pytest.mark.slow) for n in CUDA_LIGHT])
def test_cuda_artifact_has_one_kernel_per_fused_group(name, tmp_path):
    need_nvcc()
    graph = mlc.load(_path(name))
    out = mlc.compile(graph, target="cuda", output=tmp_path / "a")
    optimised, _ = optimise(graph, "O2")
    assert_one_kernel_per_group(out, optimised)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["options"]["arch"] == "sm_90"
