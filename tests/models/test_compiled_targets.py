"""Acceptance of every compiled target that runs on this host (llvm, c, tvm-llvm): each matches
onnxruntime on every zoo model at 1 and 2 threads, and (slow) on the light models with random
weights — the checks of tests/compiled_models.py, what `mlc compare MODEL --targets
ort,TARGET --threads N` runs. Target-specific checks live with their backend's tests
(tests/c/test_c_artifacts.py, tests/tvm_backend/test_cuda_artifacts.py)."""

from __future__ import annotations

import pytest

from mlc.runtime import Model
from mlc.testing.models import LIGHT_MODELS, ZOO_MODELS, zoo_model_path
from tests.compiled_models import check_model, random_weight_model
from tests.skips import need_target as need

# Light models, thread counts per target. They ship every weight as 0.02, which hides wrong
# channel indexing, so they are checked with random weights (tests/compiled_models.py); the file
# path itself (onnxruntime on the original file) is what the zoo models check on every target.
# The C and TVM builds of the big models are slow, so they check fewer models or one thread count
# within the suite's time budget: vgg19 (plain 3x3 convs, covered by the others) only on llvm.
FEW = ("squeezenet", "shufflenet", "resnet50")
RANDOM_WEIGHTS = {"llvm": (LIGHT_MODELS, (1, 2)), "c": (FEW, (1, 2)),
                  "tvm-llvm": ([m for m in LIGHT_MODELS if m != "vgg19"], (2,))}


def _cases(table: dict) -> list:
    return [pytest.param(target, name, threads, marks=pytest.mark.slow, id=f"{target}-{name}")
            for target, (names, threads) in table.items() for name in names]


@pytest.mark.parametrize("target", list(RANDOM_WEIGHTS))
@pytest.mark.parametrize("name", ZOO_MODELS)
def test_zoo_model_matches_onnxruntime(target, name):
    need(target)
    check_model(Model(zoo_model_path(name)), target)


@pytest.mark.parametrize("target, name, threads", _cases(RANDOM_WEIGHTS))
def test_light_model_with_random_weights_matches_onnxruntime(target, name, threads):
    need(target)
    model, atol = random_weight_model(name)
    check_model(model, target, atol=atol, threads=threads)
