"""plot_plan draws a deterministic PNG of the plan: right size, changes with the plan, refuses bad
paths in one line and never leaves a partial file."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from mlc.errors import MlcError
from mlc.memory import MemoryPlan, Placement
from mlc.memory.plot import DPI, HEIGHT_IN, WIDTH_IN, plot_plan

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_plan(b_offset: int = 4096) -> MemoryPlan:
    """Three tensors over four steps; ``a`` and ``c`` share offset 0 (disjoint lifetimes)."""
    tensors = [Placement("a", 4096, 0, 0, 1), Placement("b", 2048, b_offset, 1, 2),
               Placement("c", 4000, 0, 2, 3)]
    arena = max(t.offset + t.size for t in tensors)
    return MemoryPlan(arena=arena, alignment=64, strategy="greedy-size", lower_bound=6144,
                      naive_sum=10240, strategies={"naive": 10240, "greedy-size": arena},
                      tensors=tensors, order=["a", "b", "c", "d"],
                      value_offsets={t.name: t.offset for t in tensors}, include_io=False)


def png_size(path) -> tuple[int, int]:
    data = open(path, "rb").read(24)
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def pixels(path) -> np.ndarray:
    from matplotlib.image import imread

    return imread(str(path))


def test_writes_a_png_of_the_fixed_size(tmp_path):
    out = tmp_path / "plan.png"
    assert plot_plan(make_plan(), out, title="tiny") == str(out)
    assert png_size(out) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))
    assert os.listdir(tmp_path) == ["plan.png"]  # the staging file is gone


def test_same_plan_same_bytes_and_no_software_tag(tmp_path):
    first, second = tmp_path / "1.png", tmp_path / "2.png"
    plot_plan(make_plan(), first)
    plot_plan(make_plan(), second)
    assert first.read_bytes() == second.read_bytes()
    assert b"matplotlib" not in first.read_bytes().lower()


def test_picture_changes_when_the_plan_changes(tmp_path):
    first, moved = tmp_path / "1.png", tmp_path / "2.png"
    plot_plan(make_plan(), first)
    plot_plan(make_plan(b_offset=6144), moved)  # b higher up; arena grows
    a, b = pixels(first), pixels(moved)
    assert a.shape == b.shape
    assert np.mean(np.any(a != b, axis=-1)) > 0.001  # a visible share of pixels moved


def test_empty_plan_still_draws(tmp_path):
    empty = MemoryPlan(arena=0, alignment=16, strategy="naive", lower_bound=0, naive_sum=0,
                       strategies={"naive": 0}, tensors=[], order=[], value_offsets={},
                       include_io=False)
    out = tmp_path / "empty.png"
    plot_plan(empty, out)
    assert png_size(out) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))


@pytest.mark.parametrize("name, needle", [("missing/plan.png", "does not exist"),
                                          ("plan.svg", "only PNG")])
def test_bad_paths_are_one_clear_error(tmp_path, name, needle):
    with pytest.raises(MlcError) as info:
        plot_plan(make_plan(), tmp_path / name)
    assert needle in info.value.one_line()
    assert "\n" not in info.value.one_line()
    assert not (tmp_path / name).exists()


def test_existing_file_is_replaced_whole(tmp_path):
    out = tmp_path / "plan.png"
    out.write_bytes(b"old")
    plot_plan(make_plan(), out)
    assert out.read_bytes().startswith(PNG_MAGIC)


def test_file_mode_follows_the_umask(tmp_path):
    out = tmp_path / "plan.png"
    old = os.umask(0o022)
    try:
        plot_plan(make_plan(), out)
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


def test_the_pictures_docs_show_are_committed():
    import re

    from mlc.testing.models import REPO_ROOT

    text = (REPO_ROOT / "docs" / "memory.md").read_text()
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    assert len(pictures) >= 2
    for name in pictures:
        assert png_size(REPO_ROOT / "docs" / name) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))
        assert f"--plot docs/{name}" in text  # with the command that made it
