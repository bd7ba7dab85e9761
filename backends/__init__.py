"""mlc.backends: lowering below the graph IR.

``loop/`` is the kernel-level loop IR (lowering, printer, reference evaluator) that the ``llvm/``
and ``c/`` renderers share; ``tvm/`` hands fused groups to Apache TVM instead.
"""
