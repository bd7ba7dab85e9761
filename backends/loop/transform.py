"""Generic loop schedules: vectorize and parallelize the plain loop nests of a kernel.

Placeholder until the loop transforms land: returns the kernel unchanged (still correct, serial).
"""

from __future__ import annotations

from .ir import Kernel
from .schedule import Schedules


def schedule_loops(kernel: Kernel, schedules: Schedules) -> Kernel:
    return kernel
