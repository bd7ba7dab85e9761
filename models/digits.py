"""The two trained models: scikit-learn's bundled 8×8 handwritten digits (no download).

Preprocessing, shared by training, export checks and anyone measuring accuracy: pixel values
0..16 divided by 16 (float32 in [0, 1]); a stratified 75/25 split with random_state=0
(1347 train, 450 test images). digits_mlp takes the 64 pixels row-major as [1, 64]; digits_cnn
takes the image as [1, 1, 8, 8]. Both output softmax probabilities [1, 10].
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort

from models import _train
from models._nn import GraphMaker

TEST_SIZE, SPLIT_SEED = 0.25, 0


def digits_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test); x is float32 [N, 64] in [0, 1], y int64 labels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=TEST_SIZE, random_state=SPLIT_SEED,
                                              stratify=y)
    return x_tr, y_tr, x_te, y_te


def accuracy(model: onnx.ModelProto | str, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of an exported model in onnxruntime, one image at a time (batch 1)."""
    blob = model if isinstance(model, str) else model.SerializeToString()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(blob, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    correct = 0
    for xi, yi in zip(x, y):
        probs = sess.run(None, {inp.name: xi.reshape(inp.shape)})[0]
        correct += int(np.argmax(probs) == yi)
    return correct / len(y)


def digits_mlp(seed: int = 0) -> tuple[onnx.ModelProto, int]:
    """MLP 64 → 64 → 32 → 10 with ReLU (Gemm layers, as PyTorch exports nn.Linear), Softmax."""
    x_tr, y_tr, _, _ = digits_split()
    w = _train.train_mlp(x_tr, y_tr, seed=seed)
    g = GraphMaker("digits_mlp")
    x = g.input("input", (1, 64))
    layers = len(_train.MLP_SIZES) - 1
    for i in range(1, layers + 1):
        x = g.gemm(x, g.param(f"fc{i}.weight", w[f"fc{i}.weight"]), g.param(f"fc{i}.bias", w[f"fc{i}.bias"]),
                   f"fc{i}")
        if i < layers:
            x = g.relu(x, f"relu{i}")
    y = g.rename_output(g.softmax(x, "softmax"), "output")
    doc = "MLP trained on scikit-learn digits (pixels/16, stratified 75/25 split, random_state=0)."
    return g.model([y], doc), g.macs


def digits_cnn(seed: int = 0) -> tuple[onnx.ModelProto, int]:
    """Conv3×3(8)+BN+ReLU, MaxPool 2, Conv3×3(16)+BN+ReLU, Flatten, Gemm 10, Softmax; BN unfolded."""
    x_tr, y_tr, _, _ = digits_split()
    w = _train.train_cnn(x_tr.reshape(-1, 1, 8, 8), y_tr, seed=seed)
    g = GraphMaker("digits_cnn")
    p = {k: g.param(k, v) for k, v in w.items()}
    x = g.input("input", (1, 1, 8, 8))
    for i in (1, 2):
        x = g.conv(x, p[f"conv{i}.weight"], p[f"conv{i}.bias"], f"conv{i}", pads=(1, 1, 1, 1))
        x = g.batch_norm(x, p[f"bn{i}.weight"], p[f"bn{i}.bias"], p[f"bn{i}.running_mean"],
                         p[f"bn{i}.running_var"], f"bn{i}", epsilon=_train.BN_EPS)
        x = g.relu(x, f"relu{i}")
        if i == 1:
            x = g.max_pool(x, 2, 2, "pool1")
    x = g.gemm(g.flatten(x, "flatten"), p["fc.weight"], p["fc.bias"], "fc")
    y = g.rename_output(g.softmax(x, "softmax"), "output")
    doc = "Small CNN trained on scikit-learn digits (pixels/16, stratified 75/25 split, random_state=0)."
    return g.model([y], doc), g.macs
