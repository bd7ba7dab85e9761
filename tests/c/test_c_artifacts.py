"""Acceptance of the C backend on whole models: the host library, the Cortex-M4 image under QEMU,
and the same sources under AddressSanitizer and UndefinedBehaviorSanitizer.

- every zoo model compiles with ``-std=c99 -Wall -Wextra -Werror -pedantic`` for the host (the
  ``c`` target, ``werror=True``), with no heap, I/O or mutable state, and for Cortex-M4 (the
  CMake project always uses -Werror); that the host library matches onnxruntime is
  tests/models/test_compiled_targets.py;
- under QEMU (mps2-an386) the Cortex-M4 image's outputs equal the host C library's: fp32 within
  1e-5 relative (atol 1e-6 for values near zero; the two builds differ only in FMA contraction
  and libm);
- the artifact's CMake project rebuilt with ASan + UBSan (-fno-sanitize-recover) runs every zoo
  model through the host harness, two threads in the pool, with no report, and outputs that
  agree with the host library's (rtol 1e-4, atol 1e-5: that build is -O2 for a generic x86-64,
  so its FMA contraction and vector widths, hence its rounding, differ).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest

import mlc
from mlc.backends.toolchain import cmake, cortex_m
from mlc.inputs import make_feeds
from mlc.runtime import Model, harness, load, read_manifest
from mlc.runtime.compare import agreement
from mlc.testing.models import ZOO_MODELS, zoo_model_path
from tests.compiled_models import ATOL, RTOL
from tests.mcu.tools import need


@functools.lru_cache(maxsize=None)
def _model(name: str) -> Model:
    return Model(zoo_model_path(name))


@functools.lru_cache(maxsize=None)
def _feeds(name: str) -> dict:
    return make_feeds(_model(name).graph)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """compiled(name, target) -> artifact folder, each built once for the module."""
    root = tmp_path_factory.mktemp("c-models")

    @functools.lru_cache(maxsize=None)
    def compiled(name: str, target: str) -> str:
        return mlc.compile(_model(name).graph, target=target, output=root / f"{name}-{target}",
                           werror=target == "c")

    return compiled


def _host_outputs(artifacts, name: str) -> list[np.ndarray]:
    return load(artifacts(name, "c")).run(_feeds(name))


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_compiles_warning_free_with_no_heap_or_io(artifacts, name):
    path = artifacts(name, "c")
    manifest = read_manifest(path)
    assert "-Werror" in manifest.options["cflags"] and "-pedantic" in manifest.options["cflags"]
    model_code = "".join((Path(path) / "model" / f).read_text() for f in ("model.c", "weights.c"))
    for banned in ("malloc", "calloc", "free(", "stdio", "printf", "static float", "static int"):
        assert banned not in model_code, banned  # no heap, no I/O, no hidden mutable state


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_on_qemu_cortex_m4_equals_host_c(artifacts, name):
    need("cmake", "arm-none-eabi-gcc", "qemu-system-arm")
    path = artifacts(name, "c-cortex-m4")
    manifest = read_manifest(path)
    flags = manifest.options["cflags"]  # as CMake compiled model.c
    assert {"-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-mcpu=cortex-m4"} <= set(flags)
    size = manifest.options["size"]
    assert size["flash"] >= manifest.weight_bytes  # the weights are const: in flash
    assert size["ram"] >= manifest.arena_bytes  # the arena is a static array: in RAM
    assert size["flash"] <= cortex_m.core("cortex-m4").flash_bytes
    got = load(path).run(_feeds(name))
    for a, b in zip(got, _host_outputs(artifacts, name)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_runs_clean_under_asan_and_ubsan(artifacts, name, tmp_path):
    need("cmake")
    path = artifacts(name, "c")
    executable = cmake.build_project(path, None, build_dir=tmp_path / "asan", sanitize=True)
    manifest = read_manifest(path)
    feeds = _feeds(name)
    inputs = [np.ascontiguousarray(feeds[t.name]).tobytes() for t in manifest.inputs]
    raw, times = harness.run_host_harness(executable, inputs,
                                          [t.nbytes for t in manifest.outputs], warmup=1,
                                          repeat=2, env={"MLC_NUM_THREADS": "2"})
    assert len(times) == 2
    got = [np.frombuffer(data, spec.numpy_dtype).reshape(spec.shape)
           for data, spec in zip(raw, manifest.outputs)]
    match = agreement(got, _host_outputs(artifacts, name), rtol=RTOL, atol=ATOL)
    assert match.ok, f"{name}: max abs err {match.max_abs_err}"
