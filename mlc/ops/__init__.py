"""Core ops: the definitions (reference kernel, type inference, attributes, fusion kind, cost).

The table they register into, and what an op definition is, belong to the IR
(``mlc/ir/op_registry.py``): the IR builds and verifies every node against it. Importing this
package registers every op module below; reading the table imports it on first use.
"""

from mlc.ir.op_registry import (REQUIRED, Attr, Cost, FusionKind, OpDef,  # noqa: F401
                                OpError, all_ops, get_op, register)

from . import fused, elementwise  # noqa: E402,F401  (registration side effects)
from . import nn, shape, reduce, norm, quant  # noqa: E402,F401
