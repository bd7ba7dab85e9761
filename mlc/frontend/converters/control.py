"""Control flow whose decision is known at import.

mlc's IR is a static dataflow graph, so an ``If`` imports only when its condition is known once
the inputs' shapes (and any bound inputs) are fixed: exporters write such graphs for models that
branch on a tensor's rank or length (voice-activity and detector models do). The branch taken is
inlined in place of the node; the other is never read, so its ops need not be supported.
"""

from __future__ import annotations

import numpy as np

from .context import ImportContext, NodeView
from .registry import converter


@converter("If", const_inputs=(0,))
def if_(ctx: ImportContext, n: NodeView):
    cond = np.asarray(n.const(0))
    if cond.size != 1:
        raise n.error(f"the condition has {cond.size} elements; If needs exactly one")
    branch = n.attr("then_branch" if bool(cond.reshape(-1)[0]) else "else_branch")
    outputs = ctx.inline(branch)
    if len(outputs) != n.num_outputs:
        raise n.error(f"the branch taken has {len(outputs)} outputs but the node has "
                      f"{n.num_outputs}")
    return outputs
