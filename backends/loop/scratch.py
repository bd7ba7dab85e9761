"""Where each scratch buffer (``Allocate``) of a kernel lives: the stack or the workspace.

Why two places: small scratch (register tiles, packed panels up to 64 KiB) is cheapest as a stack
slot in the function that runs it, where LLVM can promote it to registers; large scratch (an
im2col matrix) would overflow a thread's stack, so it gets a 64-byte-aligned slice of a
caller-provided *workspace*. Every renderer and every caller uses this one layout.
"""

from __future__ import annotations

from .ir import Allocate, Kernel
from .visit import walk

STACK_LIMIT_BYTES = 64 * 1024
WORKSPACE_ALIGN = 64


def scratch_bytes(stmt: Allocate) -> int:
    return stmt.buffer.numel * stmt.buffer.dtype.itemsize


def on_stack(stmt: Allocate, limit: int = STACK_LIMIT_BYTES) -> bool:
    return scratch_bytes(stmt) <= limit


def scratch_placement(kernel: Kernel, stack_limit: int = STACK_LIMIT_BYTES
                      ) -> dict[str, int | None]:
    """Scratch buffer name → byte offset in the workspace, or None for a stack buffer. Large
    buffers are laid out one after another (each 64-byte aligned) in program order; a name that
    several Allocates reuse gets one slot, as large as the largest of them. ``stack_limit`` is
    the largest stack buffer: a microcontroller's few KiB of stack want a smaller one."""
    return _layout(kernel, stack_limit)[0]


def workspace_bytes(kernel: Kernel, stack_limit: int = STACK_LIMIT_BYTES) -> int:
    """Bytes of workspace the caller must pass to the kernel (0 when all scratch is small)."""
    return _layout(kernel, stack_limit)[1]


def _layout(kernel: Kernel, stack_limit: int) -> tuple[dict[str, int | None], int]:
    sizes: dict[str, int | None] = {}
    for alloc in (s for s in walk(kernel.body) if isinstance(s, Allocate)):
        name = alloc.buffer.name
        if on_stack(alloc, stack_limit):
            sizes.setdefault(name, None)
        else:
            sizes[name] = max(sizes.get(name) or 0, _round_up(scratch_bytes(alloc)))
    placement: dict[str, int | None] = {}
    offset = 0
    for name, size in sizes.items():
        placement[name] = None if size is None else offset
        offset += size or 0
    return placement, offset


def _round_up(n: int) -> int:
    return -(-n // WORKSPACE_ALIGN) * WORKSPACE_ALIGN

