"""Acceptance: the llvm target matches onnxruntime on every zoo and light model, at 1 and 2 threads
(tests/compiled_models.py: the checks, shared with the c target)."""

from __future__ import annotations

import pytest

from mlc.runtime import Model
from mlc.testing.models import LIGHT_MODELS, ZOO_MODELS, light_model_path, zoo_model_path
from tests.compiled_models import check_model, random_weight_model


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_matches_onnxruntime(name):
    check_model(Model(zoo_model_path(name)), "llvm")


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_matches_onnxruntime(name):
    check_model(Model(light_model_path(name)), "llvm")


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_with_random_weights_matches_onnxruntime(name):
    model, atol = random_weight_model(name)
    check_model(model, "llvm", atol=atol)
