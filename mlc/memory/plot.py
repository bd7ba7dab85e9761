"""The plan as a picture: each tensor a rectangle in (execution step, arena offset).

A student reads the arena size as the height of the tallest stack, the lower bound as the line no
plan can get below, and the gap between the two as what the strategy wasted. The picture is drawn
with matplotlib's Agg canvas directly (no pyplot, no display, no global backend switch), at a fixed
size and DPI and without a ``Software`` tag, so the PNGs committed under docs/ do not churn.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

from mlc.errors import MlcError

if TYPE_CHECKING:
    from mlc.memory import MemoryPlan

WIDTH_IN, HEIGHT_IN, DPI = 10.0, 6.0, 100  # 1000 × 600 pixels
LABEL_SHARE = 0.06  # label a tensor whose rectangle is at least this share of the arena's height
KIB = 1024.0
AXES_WIDTH_PX = 0.90 * WIDTH_IN * DPI  # see subplots_adjust below
CHAR_PX = 5.0  # a 7-point character, roughly


def plot_plan(plan: MemoryPlan, path: str | os.PathLike, title: str | None = None) -> str:
    """Draw ``plan`` into the PNG ``path`` (written to a temporary file, then renamed into place,
    so a failure never leaves half a picture). Returns the path written."""
    path = os.fspath(path)
    folder = check_png_path(path)
    figure = _draw(plan, title)
    handle, staging = tempfile.mkstemp(prefix=".mlc-plot-", suffix=".png", dir=folder)
    os.close(handle)
    try:
        figure.savefig(staging, format="png", dpi=DPI, metadata={"Software": None})
        os.chmod(staging, 0o666 & ~_umask())  # mkstemp makes 0600; a picture is for sharing
        os.replace(staging, path)
    finally:
        if os.path.exists(staging):
            os.remove(staging)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_png_path(path: str) -> str:
    """The folder to stage in; refuse a path we cannot write before drawing anything."""
    if not path.lower().endswith(".png"):
        raise MlcError(f"cannot write plot {path}: only PNG is supported", hint="name it PLAN.png")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise MlcError(f"cannot write plot {path}: folder {folder} does not exist",
                       hint="create it first")
    if os.path.isdir(path):
        raise MlcError(f"cannot write plot {path}: it is a folder", hint="name a .png file")
    if not os.access(folder, os.W_OK):
        raise MlcError(f"cannot write plot {path}: folder {folder} is not writable")
    return folder


def _draw(plan: MemoryPlan, title: str | None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    tensors = sorted(plan.tensors, key=lambda t: (t.start, t.offset, t.name))
    steps = max([len(plan.order)] + [t.end + 1 for t in tensors]) or 1
    top = max(plan.arena, plan.lower_bound, 1) / KIB
    colours = _palette(len(tensors))
    for index, t in enumerate(tensors):
        ax.add_patch(Rectangle((t.start, t.offset / KIB), t.end + 1 - t.start, t.size / KIB,
                               facecolor=colours[index], edgecolor="white", linewidth=0.4))
        chars = int((t.end + 1 - t.start) / steps * AXES_WIDTH_PX / CHAR_PX)
        if t.size / KIB >= LABEL_SHARE * top and chars >= 4:
            ax.text(t.start + (t.end + 1 - t.start) / 2, (t.offset + t.size / 2) / KIB,
                    _short(t.name, chars), ha="center", va="center", fontsize=7, clip_on=True)
    ax.axhline(plan.arena / KIB, color="black", linewidth=1.5, zorder=3,
               label=f"arena ({plan.strategy}) {_bytes(plan.arena)}")
    ax.axhline(plan.lower_bound / KIB, color="tab:red", linestyle="--", linewidth=1.5, zorder=4,
               label=f"lower bound {_bytes(plan.lower_bound)}")
    if not tensors:
        ax.text(steps / 2, top / 2, "no intermediate tensors to plan", ha="center", va="center")
    ax.set_xlim(0, steps)
    ax.set_ylim(0, top * 1.08)
    ax.set_xlabel("execution step (node index in the planned order)")
    ax.set_ylabel("arena offset (KiB)")
    ax.set_title(title or f"memory plan: {len(tensors)} tensors, {steps} steps")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    ratio = plan.arena / plan.lower_bound if plan.lower_bound else 1.0
    where = "in" if plan.include_io else "outside"
    figure.text(0.01, 0.01, f"strategy {plan.strategy}: arena {plan.arena} bytes = {ratio:.3f} × "
                            f"lower bound {plan.lower_bound}; naive sum {plan.naive_sum}; "
                            f"alignment {plan.alignment}; graph inputs/outputs {where} the arena",
                fontsize=8, color="dimgray")
    figure.subplots_adjust(left=0.08, right=0.98, top=0.93, bottom=0.13)
    return figure


def _palette(n: int) -> list:
    """Distinct colours, neighbours in start order far apart in the cycle (tab20, then tab20b)."""
    from matplotlib import colormaps

    cycle = list(colormaps["tab20"].colors) + list(colormaps["tab20b"].colors)
    stride = 7  # coprime with 40: consecutive tensors never share a hue family
    return [cycle[(i * stride) % len(cycle)] for i in range(n)]


def _short(name: str, limit: int) -> str:
    """The name, cut to ``limit`` characters (what fits in its rectangle)."""
    return name if len(name) <= limit else name[: max(limit - 1, 1)] + "…"


def _bytes(n: int) -> str:
    return f"{n / KIB:.1f} KiB" if n >= KIB else f"{n} B"
