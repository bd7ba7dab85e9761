"""The tiny C runtime linked into every mlc shared library: the C ABI (``mlc_runtime.h``), a
pthread pool (``thread_pool.c``), a timer and status strings (``runtime.c``).

The C files live in this package so an installed mlc can still build libraries; ``build``
compiles them together with a model's sources into ``model.so``.
"""

from __future__ import annotations

from .build import (RUNTIME_DIR, RUNTIME_SOURCES, BuildError, ToolchainError,  # noqa: F401
                    build_shared_library, find_c_compiler)
