"""The loop IR: mlc's kernel-level IR, one IR under two renderers (backends/llvm, backends/c).

What a kernel is
    A ``Kernel`` (``ir.py``) is one function over ``Buffer`` parameters: the inputs, constants
    and outputs of one graph node or one fused group, each a dense row-major tensor addressed by a
    flat element offset. Its body is a tree of immutable statements — ``For`` loops (kind serial,
    parallel, vectorized or unrolled), ``Store``, ``Block``, ``Allocate`` (scratch), and
    ``Let``/``Assign`` for scalar accumulators — over typed expressions (``Const``, ``Var``,
    ``Load``, ``Binary``, ``Unary``, ``Call`` for intrinsics, ``Cast``, ``Select``). Every
    expression carries its dtype, so int8 data with int32 accumulation needs no new nodes. Scalar
    semantics (wrapping ints, C division, NaN-propagating max, casts) are written once in
    ``scalar.py``; folding, the evaluator and every renderer follow them. Which fields of a node
    are its children is written once too, in ``visit.py`` (``walk``, ``map_children``,
    ``Mutator``): transforms and analyses traverse through it.

How a fused group becomes one loop nest (``lower.py``, ``ops/``)
    Each op's lowering is defined once, by op name, in ``ops/``: elementwise, broadcast and
    injective ops as *compute* functions (output element at an index → expression of input
    elements), reductions as loop nests with accumulators. A group is lowered pull-style from its
    output: reading a value made inside the group calls its producer's compute function at that
    index, so producers inline into their consumer's loads and a chain becomes one nest over the
    output. With a reduction anchor (reduce_*, softmax) the nest is the anchor's; producers inline
    into its loads and the elementwise consumers run on each finished value before it is stored
    (falling back to a scratch buffer when the epilogue broadcasts the reduced value). Convs,
    matrix products, pools and norms are anchors of that kind too. Any other group the IR
    allows (several anchors, an anchor and several outputs, a fused node nested in a body)
    takes the staged form: each anchor fills a scratch buffer, then one nest per output.
    Every core op has a lowering; ``LoweringError`` is left for an op registered without one.

Where schedules plug in
    Without schedules lowering produces the plain serial reference nest. With a target's
    ``Schedules`` (``schedule.py``), ``lower_node(node, schedules=…)`` emits conv2d and matmul
    by their scheduled lowerings (tiled, weights packed at compile time, vectorized, parallel:
    ``ops/gemm*.py``) and then ``transform.schedule_loops`` vectorizes and parallelizes the
    other nests; ``lower_node(node, schedule=fn)`` takes any further ``fn: Kernel -> Kernel``.
    Because a schedule never changes what a kernel computes, ``evaluate`` (``evaluate.py``, a
    plain interpreter on numpy arrays) is the oracle for scheduled kernels and for the LLVM and
    C renderers alike; ``verify_kernel`` (``verify.py``) checks the
    static invariants a renderer relies on (bound variables, known buffers, matching dtypes).
    ``print_kernel`` (``printer.py``) shows any kernel as text (``--emit loop-ir``).
"""

__all__ = ["Buffer", "EvaluationError", "Kernel", "KernelError", "LoweringError", "evaluate",
           "kernel_args", "lower_node", "print_expr", "print_kernel", "verify_kernel"]

from .evaluate import EvaluationError, evaluate  # noqa: F401
from .ir import Buffer, Kernel  # noqa: F401
from .lower import LoweringError, kernel_args, lower_node  # noqa: F401
from .printer import print_expr, print_kernel  # noqa: F401
from .verify import KernelError, verify_kernel  # noqa: F401
