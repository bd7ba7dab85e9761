"""Fixtures for the Cortex-M / harness tests: the fake models built once per session.

Why session-scoped builds: each CMake configure + build takes about a second, and several tests
look at the same image (outputs, status codes, faults), so each model is built once per target.
Tools are checked first: a missing cmake, arm-none-eabi-gcc or qemu skips on a developer's
machine and fails in CI (tests.skips).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlc.backends.toolchain import cmake
from tests.mcu import fake_models
from tests.mcu.tools import REPO, need


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> Path:
    """A folder with the fake models' sources: scale/, small/ (tiny weight table), two/."""
    root = tmp_path_factory.mktemp("models")
    fake_models.write_scale(root / "scale")
    fake_models.write_scale(root / "small", w=16)
    fake_models.write_two(root / "two")
    return root


@pytest.fixture(scope="session")
def builds(tmp_path_factory, models):
    """build(model, cpu, **options) -> artifact, cached per arguments for the session."""
    cache: dict[tuple, Path] = {}
    root = tmp_path_factory.mktemp("builds")

    def build(model: str, cpu: str | None, **options) -> Path:
        need("cmake", *(("arm-none-eabi-gcc",) if cpu else ()))
        key = (model, cpu, tuple(sorted(options.items())))
        if key not in cache:
            folder = root / f"{model}-{cpu or 'host'}-{len(cache)}"
            cache[key] = cmake.build_project(REPO, cpu, build_dir=folder,
                                           model_dir=models / model, **options)
        return cache[key]

    return build
