"""How a cuda artifact's kernels reach TVM without compiling at load: the loader registers TVM's
``tvm_callback_cuda_compile`` global, and for the artifact's own source (matched by digest) it
answers with the nvcc-built ``kernels.fatbin``. The GPU half (TVM calling the hook while loading
the module) needs a GPU machine; here the hook is called exactly as TVM's runtime calls it."""

from __future__ import annotations

import json

import pytest

from tests.tvm_backend.tools import need_nvcc, need_tvm

need_tvm()

import mlc  # noqa: E402
from mlc.backends.tvm.driver import source_digest  # noqa: E402
from mlc.runtime import read_manifest  # noqa: E402
from mlc.backends.toolchain.artifact import ArtifactError  # noqa: E402
from mlc.runtime.tvm_executable import _offer_fatbin  # noqa: E402
from mlc.testing.models import zoo_model_path  # noqa: E402


@pytest.fixture(scope="module")
def cuda_artifact(tmp_path_factory):
    need_nvcc()
    out = tmp_path_factory.mktemp("cuda") / "a"
    mlc.compile(mlc.load(zoo_model_path("digits_cnn")), target="cuda", output=out)
    return out


def test_the_hook_answers_the_artifacts_source_with_its_fatbin(cuda_artifact):
    import tvm

    manifest = read_manifest(cuda_artifact)
    source = (cuda_artifact / "kernels.cu").read_text()
    assert manifest.options["cuda_source_sha256"] == source_digest(source)
    _offer_fatbin(cuda_artifact, manifest)
    hook = tvm.get_global_func("tvm_callback_cuda_compile")
    assert bytes(hook(source)) == (cuda_artifact / "kernels.fatbin").read_bytes()


def test_the_kernels_in_the_library_are_the_source_in_the_artifact(cuda_artifact):
    """What TVM will hand the hook is the source it stored in model.so: that string must be
    kernels.cu byte for byte, or the digest would never match and the GPU would compile."""
    blob = (cuda_artifact / "model.so").read_bytes()
    source = (cuda_artifact / "kernels.cu").read_bytes()
    assert source in blob


def test_an_artifact_without_its_fatbin_is_refused(cuda_artifact, tmp_path):
    manifest = read_manifest(cuda_artifact)
    broken = json.loads((cuda_artifact / "manifest.json").read_text())
    broken["options"].pop("fatbin")
    from mlc.backends.toolchain.artifact import Manifest

    with pytest.raises(ArtifactError, match="precompiled kernels"):
        _offer_fatbin(cuda_artifact, Manifest.from_json(broken))
    assert manifest.options["fatbin"] == "kernels.fatbin"
