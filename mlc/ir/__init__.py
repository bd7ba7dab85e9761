"""The graph IR: Graph, Node, Value, TensorType, dtypes, a builder, graph surgery and a verifier."""

from .builder import GraphBuilder  # noqa: F401
from .dtypes import DType  # noqa: F401
from .graph import Graph, Node, Use, Value  # noqa: F401
from .surgery import (is_dead, remove_dead, remove_if_dead, remove_unused,  # noqa: F401
                      replace_node, replace_uses)
from .types import TensorType  # noqa: F401
from .verify import verify  # noqa: F401
