"""Where the bundled zoo and the ONNX "light" models live."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "models"

LIGHT_MODELS = ["resnet50", "squeezenet", "shufflenet", "inception_v1", "inception_v2", "densenet121",
                "vgg19", "bvlc_alexnet", "zfnet512"]
ZOO_MODELS = ["digits_mlp", "digits_cnn", "kws_dscnn", "ic_resnet8", "vww_mobilenet_v1_025",
              "ad_autoencoder", "tiny_transformer"]


def light_model_dir() -> Path:
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def light_model_path(name: str) -> Path:
    return light_model_dir() / f"light_{name}.onnx"


def zoo_model_path(name: str) -> Path:
    return MODELS_DIR / f"{name}.onnx"
