"""Where the repository is and which external tools a test needs (skip or fail, see tests.skips)."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlc.runtime import mcu
from tests.skips import skip_outside_ci

REPO = Path(__file__).resolve().parents[2]


def need(*tools: str) -> None:
    """Skip (outside CI) unless every tool is on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        hint = mcu.CMAKE_HINT if missing == ["cmake"] else mcu.ARM_HINT
        skip_outside_ci(f"{', '.join(missing)} not installed ({hint})")
