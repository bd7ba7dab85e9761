"""Where the bundled zoo and the ONNX "light" models live."""

from __future__ import annotations

from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO_ROOT / "models"

LIGHT_MODELS = ["resnet50", "squeezenet", "shufflenet", "inception_v1", "inception_v2", "densenet121",
                "vgg19", "bvlc_alexnet", "zfnet512"]
ZOO_MODELS = ["digits_mlp", "digits_cnn", "kws_dscnn", "ic_resnet8", "vww_mobilenet_v1_025",
              "ad_autoencoder", "tiny_transformer"]


def light_model_path(name: str) -> Path:
    """The light model ``name`` as the onnx package ships it (among its backend test data)."""
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / f"light_{name}.onnx"


def zoo_model_path(name: str) -> Path:
    return MODELS_DIR / f"{name}.onnx"


ALL_MODELS = ZOO_MODELS + LIGHT_MODELS


def model_path(name: str) -> Path:
    """A zoo model or a light model, by its short name."""
    return zoo_model_path(name) if name in ZOO_MODELS else light_model_path(name)


def select_models(spec: str | None) -> list[str]:
    """``"a,b"`` → those names (checked); None or "" → every zoo and light model.

    Raises ValueError naming the unknown names and the known ones (benchmarks turn it into a
    usage error)."""
    names = [n.strip() for n in spec.split(",") if n.strip()] if spec else list(ALL_MODELS)
    unknown = [n for n in names if n not in ALL_MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(ALL_MODELS)}")
    return names


def randomize_weights(graph, seed: int = 0):
    """Replace float constants by random ones (He-scaled weights, statistics in [0.5, 1.5]).

    The light models ship every weight as 0.02, so their outputs are uniform and would hide a
    wrong fold; random weights make every channel count.
    """
    rng = np.random.default_rng(seed)
    for name, value in list(graph.constants.items()):
        array = value.const
        if array.dtype != np.float32:
            continue
        if array.ndim >= 2:
            new = rng.standard_normal(array.shape) * np.sqrt(2.0 / np.prod(array.shape[1:]))
        else:
            new = rng.uniform(0.5, 1.5, array.shape)
        fresh = graph.add_constant(new.astype(np.float32), name=name + ".random")
        value.replace_all_uses_with(fresh)
        graph.remove_constant(value)
        graph.rename(fresh, name)
    return graph
