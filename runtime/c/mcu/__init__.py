"""Bare-metal Cortex-M support files (startup, linker scripts, semihosting, SysTick timer, the
run harness). They are C and linker scripts, not Python: this package only exists so setuptools
ships them as package data next to ``mlc.runtime.c``; ``mlc.backends.toolchain.cmake`` builds
them and ``mlc.runtime.harness`` runs them."""
