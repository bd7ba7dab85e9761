"""The reference interpreter: runs a graph with the registry's numpy kernels.

It walks nodes in order with an environment of live arrays and drops each value after its last
use, so peak memory follows the graph's liveness (as a real runtime's would). Fused nodes run
their body sub-graph. Errors name the failing node in IR text.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from mlc.errors import MlcError
from mlc.ir.graph import Graph, Node, Value
from mlc.ops import get_op


class InterpreterError(MlcError):
    """A kernel failed or produced a result that disagrees with the node's declared type."""


def _last_uses(graph: Graph) -> dict[int, list[Value]]:
    """Map node position -> values whose last reader is that node (graph outputs never die)."""
    last: dict[int, tuple[int, Value]] = {}
    for position, node in enumerate(graph.nodes):
        for v in node.inputs:
            if v is not None and not v.is_const:
                last[id(v)] = (position, v)
    keep = {id(v) for v in graph.outputs}
    dying: dict[int, list[Value]] = {}
    for vid, (position, value) in last.items():
        if vid not in keep:
            dying.setdefault(position, []).append(value)
    return dying


def _check_feeds(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[int, np.ndarray]:
    env: dict[int, np.ndarray] = {}
    missing = [v.name for v in graph.inputs if v.name not in feeds]
    if missing:
        raise InterpreterError(f"missing input(s): {', '.join(missing)}",
                               hint="pass every graph input, e.g. --input name=file.npy")
    for value in graph.inputs:
        array = np.asarray(feeds[value.name])
        if tuple(array.shape) != tuple(value.shape):
            raise InterpreterError(f"input {value.name} has shape {list(array.shape)}, "
                                   f"the graph expects {list(value.shape)}")
        env[id(value)] = np.asarray(array, dtype=value.dtype.numpy, order="C")  # keeps 0-d
    return env


def _run_node(node: Node, args: list[np.ndarray | None]) -> list[np.ndarray]:
    if node.body is not None:
        return run(node.body, {v.name: a for v, a in zip(node.body.inputs, args)}, as_list=True)
    try:
        results = get_op(node.op).compute(args, node.attrs)
    except MlcError:
        raise
    except Exception as exc:
        from mlc.text import print_node

        raise InterpreterError(f"{node.op} failed: {exc}\n  {print_node(node)}") from exc
    checked = []
    for value, result in zip(node.outputs, results):
        result = np.asarray(result)
        if result.shape != tuple(value.shape):
            from mlc.text import print_node

            raise InterpreterError(f"{node.op} kernel returned shape {list(result.shape)} "
                                   f"for %{value.name}: {value.type}\n  {print_node(node)}")
        checked.append(result.astype(value.dtype.numpy, copy=False))
    return checked


def run(graph: Graph, feeds: Mapping[str, np.ndarray], *, as_list: bool = False, plan=None):
    """Run ``graph`` on ``feeds`` (input name -> array); returns {output name: array} in order.

    With a ``plan`` (an mlc.memory.MemoryPlan of this graph) every planned value lives in one
    arena buffer, in the plan's order: the executable check that a plan never lets two live
    tensors share bytes (see mlc.memory.planned).
    """
    if plan is not None:
        from mlc.memory.planned import run_planned

        results = run_planned(graph, feeds, plan, _check_feeds, _run_node)
    else:
        results = _execute(graph, feeds, trace=None)
    return results if as_list else {v.name: r for v, r in zip(graph.outputs, results)}


def run_traced(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run ``graph`` keeping every top-level node output: {value name: array}, in execution order.

    For tools that look inside a run (the numerics check names the first node that differs).
    """
    trace: dict[str, np.ndarray] = {}
    _execute(graph, feeds, trace=trace)
    return trace


def _execute(graph: Graph, feeds: Mapping[str, np.ndarray],
             trace: dict[str, np.ndarray] | None) -> list[np.ndarray]:
    """The outputs, in order; ``trace`` (if given) also gets every node output, none dropped."""
    env = _check_feeds(graph, feeds)
    dying = {} if trace is not None else _last_uses(graph)
    for position, node in enumerate(graph.nodes):
        args = [None if v is None else (v.const if v.is_const else env[id(v)]) for v in node.inputs]
        for value, result in zip(node.outputs, _run_node(node, args)):
            env[id(value)] = result
            if trace is not None:
                trace[value.name] = result
        for value in dying.get(position, ()):
            env.pop(id(value), None)
    return [v.const if v.is_const else env[id(v)] for v in graph.outputs]
