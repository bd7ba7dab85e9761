"""Resize (opsets 10–19) and its predecessor Upsample (7, 9), resolved to an output size plus
per-axis scales. Resize-10 and Upsample use asymmetric coordinates and the core op's "simple"
nearest mode (truncate when enlarging, ceil when shrinking, as onnxruntime does); Resize ≥ 11
spells both out as attributes."""

from __future__ import annotations

import numpy as np

from mlc.errors import ShapeError
from mlc.ir import Value

from .context import ImportContext, NodeView
from .registry import converter

_MODES = {"nearest": "nearest", "linear": "linear", "bilinear": "linear", "cubic": "cubic"}


def _mode(n: NodeView, legacy: bool = False) -> str:
    mode = n.attr("mode", "nearest")
    if mode not in _MODES or (legacy and mode == "cubic"):
        raise n.error(f"mode {mode!r} is not supported (nearest, linear and cubic are)")
    return _MODES[mode]


def _floor_sizes(in_shape, scales) -> list[int]:
    """Output sizes as onnxruntime computes them: floor of a float32 product."""
    return [int(np.floor(np.float32(s) * np.float32(d))) for d, s in zip(in_shape, scales)]


def _legacy(ctx: ImportContext, n: NodeView, x: Value, scales: list[float]) -> Value:
    """Upsample and Resize-10: asymmetric coordinates, nearest floors (ceils when shrinking)."""
    if len(scales) != len(x.shape):
        raise ShapeError(f"{n.label}: {len(scales)} scales for a rank-{len(x.shape)} input")
    return ctx.emit("resize", x, size=_floor_sizes(x.shape, scales), scales=scales,
                    mode=_mode(n, legacy=True), coordinate_transformation_mode="asymmetric",
                    nearest_mode="simple")


@converter("Upsample", since=7, until=9, const_inputs=(1,))
def upsample(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    scales = list(n.attr("scales", [])) if n.opset < 9 else \
        [float(s) for s in np.asarray(n.const(1)).reshape(-1)]
    return _legacy(ctx, n, x, [float(s) for s in scales])


@converter("Resize", const_inputs=(1, 2, 3))
def resize(ctx: ImportContext, n: NodeView) -> Value:
    x = n.input(0)
    if n.opset < 11:
        return _legacy(ctx, n, x, [float(s) for s in np.asarray(n.const(1)).reshape(-1)])
    rank = len(x.shape)
    ctm = n.attr("coordinate_transformation_mode", "half_pixel")
    if n.attr("antialias", 0):
        raise n.error("antialias=1 is not supported")
    axes = n.attr("axes")
    axes = list(range(rank)) if axes is None else [int(a) % rank for a in axes]
    roi = [0.0] * rank + [1.0] * rank  # tf_crop_and_resize's crop box: starts, then ends
    if ctm == "tf_crop_and_resize":
        given_roi = [float(r) for r in np.asarray(n.const(1)).reshape(-1)]
        if len(given_roi) != 2 * len(axes):
            raise ShapeError(f"{n.label}: roi has {len(given_roi)} entries for {len(axes)} axes")
        for j, a in enumerate(axes):
            roi[a], roi[a + rank] = given_roi[j], given_roi[j + len(axes)]
    scales_in = n.const(2, default=None)
    sizes_in = n.const(3, default=None)
    scales = [1.0] * rank
    size = list(x.shape)
    if scales_in is not None and np.size(scales_in) > 0:
        given = [float(s) for s in np.asarray(scales_in).reshape(-1)]
        if len(given) != len(axes):
            raise ShapeError(f"{n.label}: {len(given)} scales for {len(axes)} axes")
        for a, s in zip(axes, given):
            scales[a] = s
        size = _floor_sizes(x.shape, scales)
        if ctm == "tf_crop_and_resize":  # the crop box is what gets scaled
            size = _floor_sizes([d * (roi[a + rank] - roi[a]) for a, d in enumerate(x.shape)],
                                scales)
    elif sizes_in is not None and np.size(sizes_in) > 0:
        given = [int(s) for s in np.asarray(sizes_in).reshape(-1)]
        if len(given) != len(axes):
            raise ShapeError(f"{n.label}: {len(given)} sizes for {len(axes)} axes")
        policy = n.attr("keep_aspect_ratio_policy", "stretch")
        ratios = [s / x.shape[a] for a, s in zip(axes, given)]
        if policy == "stretch":
            for a, s, r in zip(axes, given, ratios):
                size[a], scales[a] = s, r
        elif policy in ("not_larger", "not_smaller"):
            r = min(ratios) if policy == "not_larger" else max(ratios)
            for a in axes:
                size[a], scales[a] = int(r * x.shape[a] + 0.5), r
        else:
            raise n.error(f"keep_aspect_ratio_policy {policy!r} is not supported")
    else:
        raise ShapeError(f"{n.label}: needs either scales or sizes")
    return ctx.emit("resize", x, size=size, scales=scales, mode=_mode(n),
                    coordinate_transformation_mode=ctm,
                    nearest_mode=n.attr("nearest_mode", "round_prefer_floor"),
                    cubic_coeff_a=n.attr("cubic_coeff_a", -0.75),
                    exclude_outside=bool(n.attr("exclude_outside", 0)),
                    extrapolation_value=n.attr("extrapolation_value", 0.0),
                    roi=roi if ctm == "tf_crop_and_resize" else ())
