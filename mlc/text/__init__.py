"""The textual IR: the printer (``mlc/ir/printer.py``, with the IR so every error can show IR
text) and a lark parser that round-trip graphs exactly, plus ``.mlc`` files with their sidecar.

    print_graph(graph) -> str            parse_text(text, constants=None, source="<text>") -> Graph
    save_text(graph, "m.mlc")            load_text("m.mlc") -> Graph   (m.npz holds large constants)
    print_node(node) -> str              (for error messages; never raises)

The format (grammar.lark has the grammar)::

    graph @mnist(%x: f32[1,1,28,28]) -> (f32[1,10]) {
      @shape: i64[2] = [1, -1]                       inline constant: flat row-major values
      @conv1.w: f32[8,1,3,3] = external              large constant: its array is in the sidecar
      %0 = conv2d(%x, @conv1.w, _) {pads=[1,1,1,1]} : f32[1,8,28,28]
      %a, %b = split(%0) {axis=1, sizes=[4,4]} : f32[1,4,28,28], f32[1,4,28,28]
      %1 = fused(%a) {
        ^body(%p0: f32[1,4,28,28]):                  the body's name and parameters
        %t = relu(%p0) : f32[1,4,28,28]
        yield %t
      } : f32[1,4,28,28] loc("Relu_3")               loc: the node's name, when it has one
      return %1
    }

- ``%`` values, ``@`` constants and the graph, ``^`` a fused body. Names outside
  ``[A-Za-z0-9_.-]+`` are JSON strings (``%"my tensor/0"``); the text is ASCII.
- ``_`` is an omitted optional input. Attributes follow the op's declaration order and those equal
  to the default are left out; ints ``3``, floats ``0.5`` / ``inf`` / ``nan`` (shortest text that
  reads back bit-exactly), strings ``"tanh"``, bools ``true``, lists ``[1,2]``, dtypes ``f32``,
  arrays ``f32[2] [0.5, 0.25]`` (a rank-0 array: ``f32[] 0.5``).
- Constants with at most INLINE_LIMIT elements print inline. A larger one prints ``external``;
  its sidecar key is its name, or the quoted key after ``external`` inside fused bodies
  (``external_constants(graph)`` returns exactly those arrays by key).
- Types after ``:`` are checked against the registry when parsing (and may be left out in
  hand-written text); ``//`` starts a comment.
"""

from .io import load_text, save_text, sidecar_path  # noqa: F401
from .parser import parse_text  # noqa: F401
from mlc.ir.printer import external_constants, print_graph, print_node  # noqa: F401
from mlc.ir.syntax import INLINE_LIMIT  # noqa: F401
