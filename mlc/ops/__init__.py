"""Core ops. Importing this package registers every op module listed below."""

from .registry import (REQUIRED, Attr, Cost, FusionKind, OpDef, OpError, all_ops, get_op,  # noqa: F401
                       register)

from . import fused, elementwise  # noqa: E402,F401  (registration side effects)
from . import nn, shape, reduce, norm, quant  # noqa: E402,F401
