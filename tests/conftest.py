"""Shared fixtures: paths to the bundled zoo and the ONNX light models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"


def light_model_dir() -> Path:
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


LIGHT_MODELS = ["resnet50", "squeezenet", "shufflenet", "inception_v1", "inception_v2", "densenet121",
                "vgg19", "bvlc_alexnet", "zfnet512"]
ZOO_MODELS = ["digits_mlp", "digits_cnn", "kws_dscnn", "ic_resnet8", "vww_mobilenet_v1_025",
              "ad_autoencoder", "tiny_transformer"]


def light_model_path(name: str) -> Path:
    return light_model_dir() / f"light_{name}.onnx"


def zoo_model_path(name: str) -> Path:
    return MODELS / f"{name}.onnx"


@pytest.fixture
def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
