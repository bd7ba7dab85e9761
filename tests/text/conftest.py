"""A scratch op with one attribute of every kind, registered only for the test that asks for it.

The printer's attribute rules (declaration order, defaults left out, one spelling per kind) are
tested on it, so they do not depend on which real ops happen to declare which kinds.
"""

from __future__ import annotations

import pytest

from mlc.ir import DType
from mlc.ir import op_registry as registry
from mlc.ops import Attr, FusionKind
from mlc.ops.common import same_as_input

ATTR_OP = "text_test_attrs"


@pytest.fixture
def attr_op():
    def kernel(x, y=None, **attrs):
        return x

    registry.register(ATTR_OP, inputs=["x", "y?"], fusion=FusionKind.OPAQUE, infer=same_as_input,
                      attrs={"req": Attr("int"), "i": Attr("int", 3), "f": Attr("float", 0.5),
                             "s": Attr("str", "same"), "ints": Attr("ints", (1, 2)),
                             "fs": Attr("floats", (0.25,)), "dt": Attr("dtype", DType.float32),
                             "arr": Attr("array", None), "b": Attr("bool", False)})(kernel)
    try:
        yield ATTR_OP
    finally:
        registry.OPS.remove(ATTR_OP)
