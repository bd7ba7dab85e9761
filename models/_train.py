"""Numpy training of the two digits models: manual backprop and Adam, a few seconds on one core.

Written out by hand (no framework) so the zoo needs nothing beyond numpy and scikit-learn. The CNN
trains BatchNormalization with batch statistics and keeps running statistics exactly as PyTorch
does (momentum 0.1, unbiased running variance), so the exported model carries real, trained BN
parameters for the fold-batch-norm pass to fold. Seeds are fixed; results are reproducible with
the same numpy and BLAS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


@dataclass
class Adam:
    """Adam over a dict of parameters, updated in place."""

    params: dict[str, np.ndarray]
    lr: float = 1e-2
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    t: int = 0
    m: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for k, g in grads.items():
            m = self.m.setdefault(k, np.zeros_like(g))
            v = self.v.setdefault(k, np.zeros_like(g))
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            mhat = m / (1 - self.beta1 ** self.t)
            vhat = v / (1 - self.beta2 ** self.t)
            self.params[k] -= self.lr * mhat / (np.sqrt(vhat) + self.eps)


def softmax_xent(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = float(-np.log(p[np.arange(n), y] + 1e-12).mean())
    p[np.arange(n), y] -= 1.0
    return loss, p / n


def _he(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    return rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)


def _batches(rng: np.random.Generator, n: int, size: int):
    order = rng.permutation(n)
    for i in range(0, n, size):
        yield order[i:i + size]


# -- MLP: 64 → 64 → 32 → 10 ---------------------------------------------------------------------

MLP_SIZES = (64, 64, 32, 10)


def train_mlp(x: np.ndarray, y: np.ndarray, *, seed: int = 0, epochs: int = 60,
              batch: int = 32) -> dict[str, np.ndarray]:
    """Returns float32 weights `fc{i}.weight` [out, in] and `fc{i}.bias` (PyTorch layout)."""
    rng = np.random.default_rng(seed)
    p: dict[str, np.ndarray] = {}
    for i, (k, n) in enumerate(zip(MLP_SIZES[:-1], MLP_SIZES[1:]), start=1):
        p[f"fc{i}.weight"] = _he(rng, (n, k), k)
        p[f"fc{i}.bias"] = np.zeros(n)
    opt = Adam(p, lr=3e-3)
    layers = len(MLP_SIZES) - 1
    x = x.astype(np.float64)
    for _ in range(epochs):
        for idx in _batches(rng, len(x), batch):
            acts = [x[idx]]
            for i in range(1, layers + 1):
                z = acts[-1] @ p[f"fc{i}.weight"].T + p[f"fc{i}.bias"]
                acts.append(np.maximum(z, 0) if i < layers else z)
            _, d = softmax_xent(acts[-1], y[idx])
            grads = {}
            for i in range(layers, 0, -1):
                grads[f"fc{i}.weight"] = d.T @ acts[i - 1]
                grads[f"fc{i}.bias"] = d.sum(axis=0)
                if i > 1:
                    d = (d @ p[f"fc{i}.weight"]) * (acts[i - 1] > 0)
            opt.step(grads)
    return {k: v.astype(np.float32) for k, v in p.items()}


# -- CNN: conv3x3(8)+BN+ReLU, maxpool 2, conv3x3(16)+BN+ReLU, flatten, linear 10 -------------------


def _im2col(x: np.ndarray) -> np.ndarray:
    """[B, C, H, W] → [B*H*W, C*9] patches of a 3×3, pad-1 convolution (weight order C, kh, kw)."""
    b, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = sliding_window_view(xp, (3, 3), axis=(2, 3))  # [B, C, H, W, 3, 3]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(b * h * w, c * 9)


def _col2im(dcols: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    b, c, h, w = shape
    d = dcols.reshape(b, h, w, c, 3, 3)
    dxp = np.zeros((b, c, h + 2, w + 2))
    for i in range(3):
        for j in range(3):
            dxp[:, :, i:i + h, j:j + w] += d[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1]


def _conv_fwd(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    cols = _im2col(x)
    out = cols @ w.reshape(w.shape[0], -1).T + b
    n, _, h, wd = x.shape
    return out.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def _conv_bwd(dout: np.ndarray, cols: np.ndarray, w: np.ndarray, x_shape):
    cout = w.shape[0]
    d = dout.transpose(0, 2, 3, 1).reshape(-1, cout)
    dw = (d.T @ cols).reshape(w.shape)
    db = d.sum(axis=0)
    dx = _col2im(d @ w.reshape(cout, -1), x_shape)
    return dx, dw, db


def _bn_fwd(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, state: dict, name: str):
    mean = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    count = x.size // x.shape[1]
    state[f"{name}.running_mean"] = (1 - BN_MOMENTUM) * state[f"{name}.running_mean"] + BN_MOMENTUM * mean
    state[f"{name}.running_var"] = ((1 - BN_MOMENTUM) * state[f"{name}.running_var"]
                                    + BN_MOMENTUM * var * count / (count - 1))
    inv = 1.0 / np.sqrt(var + BN_EPS)
    xhat = (x - mean[None, :, None, None]) * inv[None, :, None, None]
    return xhat * gamma[None, :, None, None] + beta[None, :, None, None], (xhat, inv)


def _bn_bwd(dout: np.ndarray, gamma: np.ndarray, cache):
    xhat, inv = cache
    axes = (0, 2, 3)
    dgamma = (dout * xhat).sum(axis=axes)
    dbeta = dout.sum(axis=axes)
    dxhat = dout * gamma[None, :, None, None]
    dx = (dxhat - dxhat.mean(axis=axes, keepdims=True)
          - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)) * inv[None, :, None, None]
    return dx, dgamma, dbeta


def _maxpool2(x: np.ndarray):
    b, c, h, w = x.shape
    win = x.reshape(b, c, h // 2, 2, w // 2, 2)
    out = win.max(axis=(3, 5))
    mask = win == out[:, :, :, None, :, None]
    mask = mask / mask.sum(axis=(3, 5), keepdims=True)  # ties share the gradient
    return out, mask


def _maxpool2_bwd(dout: np.ndarray, mask: np.ndarray) -> np.ndarray:
    d = mask * dout[:, :, :, None, :, None]
    b, c, h2, _, w2, _ = d.shape
    return d.reshape(b, c, h2 * 2, w2 * 2)


CNN_CHANNELS = (8, 16)


def train_cnn(x: np.ndarray, y: np.ndarray, *, seed: int = 0, epochs: int = 40,
              batch: int = 32) -> dict[str, np.ndarray]:
    """x: [N, 1, 8, 8]. Returns float32 PyTorch-named tensors: conv{i}.weight/bias,
    bn{i}.weight/bias/running_mean/running_var, fc.weight [10, 256], fc.bias."""
    rng = np.random.default_rng(seed)
    c1, c2 = CNN_CHANNELS
    p = {
        "conv1.weight": _he(rng, (c1, 1, 3, 3), 9), "conv1.bias": rng.uniform(-0.3, 0.3, c1),
        "bn1.weight": np.ones(c1), "bn1.bias": np.zeros(c1),
        "conv2.weight": _he(rng, (c2, c1, 3, 3), c1 * 9), "conv2.bias": rng.uniform(-0.1, 0.1, c2),
        "bn2.weight": np.ones(c2), "bn2.bias": np.zeros(c2),
        "fc.weight": _he(rng, (10, c2 * 16), c2 * 16), "fc.bias": np.zeros(10),
    }
    state = {"bn1.running_mean": np.zeros(c1), "bn1.running_var": np.ones(c1),
             "bn2.running_mean": np.zeros(c2), "bn2.running_var": np.ones(c2)}
    opt = Adam(p, lr=3e-3)
    x = x.astype(np.float64)
    for _ in range(epochs):
        for idx in _batches(rng, len(x), batch):
            xb = x[idx]
            z1, cols1 = _conv_fwd(xb, p["conv1.weight"], p["conv1.bias"])
            n1, bn1 = _bn_fwd(z1, p["bn1.weight"], p["bn1.bias"], state, "bn1")
            a1 = np.maximum(n1, 0)
            m1, mask = _maxpool2(a1)
            z2, cols2 = _conv_fwd(m1, p["conv2.weight"], p["conv2.bias"])
            n2, bn2 = _bn_fwd(z2, p["bn2.weight"], p["bn2.bias"], state, "bn2")
            a2 = np.maximum(n2, 0)
            flat = a2.reshape(len(idx), -1)
            logits = flat @ p["fc.weight"].T + p["fc.bias"]

            _, d = softmax_xent(logits, y[idx])
            g = {"fc.weight": d.T @ flat, "fc.bias": d.sum(axis=0)}
            d = (d @ p["fc.weight"]).reshape(a2.shape) * (n2 > 0)
            d, g["bn2.weight"], g["bn2.bias"] = _bn_bwd(d, p["bn2.weight"], bn2)
            d, g["conv2.weight"], g["conv2.bias"] = _conv_bwd(d, cols2, p["conv2.weight"], m1.shape)
            d = _maxpool2_bwd(d, mask) * (n1 > 0)
            d, g["bn1.weight"], g["bn1.bias"] = _bn_bwd(d, p["bn1.weight"], bn1)
            _, g["conv1.weight"], g["conv1.bias"] = _conv_bwd(d, cols1, p["conv1.weight"], xb.shape)
            opt.step(g)
    return {k: v.astype(np.float32) for k, v in {**p, **state}.items()}
