"""The tiny C runtime linked into every mlc shared library: the C ABI (``mlc_runtime.h``), a
pthread pool (``thread_pool.c``), a timer and status strings (``runtime.c``); ``mcu/`` holds the
Cortex-M start-up code, linker scripts, semihosting and the harness.

The C files live in this package so an installed mlc can still build libraries;
``mlc.backends.toolchain.cc`` compiles them together with a model's sources into ``model.so``.
"""
