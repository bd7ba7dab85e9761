"""Where the repository is and which external tools a test needs (skip or fail, see tests.skips)."""

from __future__ import annotations

from pathlib import Path

from mlc.backends.toolchain.tools import ARM_GCC, ARM_SIZE, CMAKE, QEMU_ARM
from tests.skips import skip_outside_ci

REPO = Path(__file__).resolve().parents[2]
TOOLS = {tool.name: tool for tool in (CMAKE, ARM_GCC, ARM_SIZE, QEMU_ARM)}


def need(*names: str) -> None:
    """Skip (outside CI) unless every tool is on PATH."""
    missing = [TOOLS[name] for name in names if TOOLS[name].find() is None]
    if missing:
        skip_outside_ci(f"{', '.join(t.name for t in missing)} not installed ({missing[0].hint})")
