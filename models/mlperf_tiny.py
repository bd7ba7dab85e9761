"""MLPerf Tiny reference architectures with seeded random weights (untrained: no accuracy).

Shapes follow the MLPerf Tiny v1.x Keras references, exported NCHW with explicit asymmetric
padding where Keras' 'same' puts the odd pixel at the end (as tf2onnx writes it), except
vww_mobilenet_v1_025, which keeps `auto_pad=SAME_UPPER` on its convolutions so the frontend's
auto_pad resolution has a real model to work on.
"""

from __future__ import annotations

import onnx

from models._nn import GraphMaker, T, same_upper_pads
from models._weights import RandomLayers


def _same_pads(x: T, k: tuple[int, int], stride: int) -> tuple[int, int, int, int]:
    (pt, pb), (pl, pr) = same_upper_pads(x.shape[2], k[0], stride), same_upper_pads(x.shape[3], k[1], stride)
    return pt, pl, pb, pr


def _head(g: GraphMaker, r: RandomLayers, x: T, classes: int) -> T:
    """AveragePool over the whole remaining map, Flatten, Gemm, Softmax → `output`."""
    x = g.avg_pool(x, (x.shape[2], x.shape[3]), "pool")
    x = g.flatten(x, "flatten")
    x = r.dense(x, classes, "fc")
    return g.rename_output(g.softmax(x, "softmax"), "output")


def kws_dscnn(seed: int = 1) -> tuple[onnx.ModelProto, int]:
    """Keyword spotting DS-CNN (small): 49×10 MFCC frames → 12 keywords."""
    g = GraphMaker("kws_dscnn")
    r = RandomLayers(g, seed)
    x = g.input("input", (1, 1, 49, 10))
    x = r.conv(x, 64, (10, 4), "conv1", strides=(2, 2), pads=_same_pads(x, (10, 4), 2))
    x = g.relu(r.bn(x, "bn1"), "relu1")
    for i in range(1, 5):
        s = f"block{i}"
        x = r.conv(x, 64, (3, 3), f"{s}.dw", pads=(1, 1, 1, 1), group=64)
        x = g.relu(r.bn(x, f"{s}.dw_bn"), f"{s}.dw_relu")
        x = r.conv(x, 64, (1, 1), f"{s}.pw")
        x = g.relu(r.bn(x, f"{s}.pw_bn"), f"{s}.pw_relu")
    y = _head(g, r, x, 12)
    doc = "MLPerf Tiny keyword spotting DS-CNN (small), random He-init weights, untrained."
    return g.model([y], doc), g.macs


def ic_resnet8(seed: int = 2) -> tuple[onnx.ModelProto, int]:
    """Image classification ResNet-8 for 32×32 CIFAR-10 images → 10 classes."""
    g = GraphMaker("ic_resnet8")
    r = RandomLayers(g, seed)
    x = g.input("input", (1, 3, 32, 32))
    x = r.conv(x, 16, (3, 3), "conv1", pads=(1, 1, 1, 1))
    x = g.relu(r.bn(x, "bn1"), "relu1")
    for stage, (c, stride) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
        s = f"stage{stage}"
        y = r.conv(x, c, (3, 3), f"{s}.conv1", strides=(stride, stride), pads=_same_pads(x, (3, 3), stride))
        y = g.relu(r.bn(y, f"{s}.bn1"), f"{s}.relu1")
        y = r.conv(y, c, (3, 3), f"{s}.conv2", pads=(1, 1, 1, 1))
        y = r.bn(y, f"{s}.bn2")
        shortcut = x if stride == 1 else r.conv(x, c, (1, 1), f"{s}.shortcut", strides=(stride, stride))
        x = g.relu(g.add(shortcut, y, f"{s}.add"), f"{s}.relu2")
    y = _head(g, r, x, 10)
    doc = "MLPerf Tiny image classification ResNet-8, random He-init weights, untrained."
    return g.model([y], doc), g.macs


# MobileNetV1 (alpha 1) depthwise-separable blocks: (pointwise channels, depthwise stride).
_MOBILENET_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + \
                    [(1024, 2), (1024, 1)]


def vww_mobilenet_v1_025(seed: int = 3) -> tuple[onnx.ModelProto, int]:
    """Visual wake words MobileNetV1, width 0.25, 96×96 RGB → person / no person."""
    g = GraphMaker("vww_mobilenet_v1_025")
    r = RandomLayers(g, seed)
    x = g.input("input", (1, 3, 96, 96))
    x = r.conv(x, 8, (3, 3), "conv1", strides=(2, 2), bias=False, auto_pad="SAME_UPPER")
    x = g.relu6(r.bn(x, "bn1"), "relu1")
    for i, (c, stride) in enumerate(_MOBILENET_BLOCKS, start=1):
        s = f"block{i}"
        cin = x.shape[1]
        x = r.conv(x, cin, (3, 3), f"{s}.dw", strides=(stride, stride), group=cin, bias=False,
                   auto_pad="SAME_UPPER")
        x = g.relu6(r.bn(x, f"{s}.dw_bn"), f"{s}.dw_relu6")
        x = r.conv(x, c // 4, (1, 1), f"{s}.pw", bias=False)
        x = g.relu6(r.bn(x, f"{s}.pw_bn"), f"{s}.pw_relu6")
    y = _head(g, r, x, 2)
    doc = "MLPerf Tiny visual wake words MobileNetV1 0.25, random He-init weights, untrained."
    return g.model([y], doc), g.macs


def ad_autoencoder(seed: int = 4) -> tuple[onnx.ModelProto, int]:
    """Anomaly detection fully-connected autoencoder (ToyADMOS): 640 log-mel features in and out."""
    g = GraphMaker("ad_autoencoder")
    r = RandomLayers(g, seed)
    x = g.input("input", (1, 640))
    widths = [128] * 4 + [8] + [128] * 4
    for i, n in enumerate(widths, start=1):
        x = r.dense(x, n, f"dense{i}")
        x = g.relu(r.bn(x, f"bn{i}"), f"relu{i}")
    y = g.rename_output(r.dense(x, 640, "dense10"), "output")
    doc = "MLPerf Tiny anomaly detection FC autoencoder (ToyADMOS), random He-init weights, untrained."
    return g.model([y], doc), g.macs
