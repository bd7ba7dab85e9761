"""Shared fixtures. Model paths live in mlc.testing.models so benchmarks can use them too."""

from __future__ import annotations

import os

import pytest

from mlc.testing.models import (LIGHT_MODELS, ZOO_MODELS, light_model_dir,  # noqa: F401
                                light_model_path, zoo_model_path)


@pytest.fixture
def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
