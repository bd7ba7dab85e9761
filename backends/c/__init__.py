"""The C backend: loop-IR kernels rendered as portable C99, for the host and for microcontrollers.

- ``ctypes_table``: C types of dtypes in registers and memory, exact literals.
- ``exprs``: expressions with ``backends/loop/scalar.py``'s semantics (``mlc_ops.h`` helpers
  where plain C differs), shared subexpressions bound to temporaries.
- ``kernel``: one kernel as a C function: loops of every kind, scratch, parallel outlining.
- ``weights``: the constants as ``const`` arrays (``weights.c``) or an ``.incbin`` blob.
- ``module``: a lowered ``Program`` → ``model.h``, ``model.c`` (kernels + ``mlc_run``), weights.
- ``driver``: the drivers of the ``c`` (host shared library) and ``c-cortex-m*`` (ELF) targets.
- ``kernel_library``: single kernels compiled from C, for tests against the evaluator.

The LLVM backend renders the same loop IR and the same ``Program``; the two differ only in how
they spell it. C identifiers come from ``backends/names.py``, shared with the TVM backend.
"""
