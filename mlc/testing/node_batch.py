"""Run many small graphs on a compiled target at the cost of a few compiles: merge, bisect, split.

Compiling one ONNX node case for ``llvm`` costs ~0.3-1 s (LLVM plus a ``cc`` link), far too much
for ~620 cases in CI. So :func:`run_batched` merges a batch of graphs into one graph of disjoint
subgraphs (every value renamed with a per-graph prefix, inputs and outputs concatenated),
compiles and runs it once, and splits the outputs again. A batch that fails as a whole (a
lowering error, a crash, a hang) is bisected until each failing graph fails alone with its own
reason, so batching never changes which graphs fail or why.

Each compile-and-run happens in a forked child process: a compiled kernel that segfaults or
loops forever then costs one batch, not the whole test session; and two children keep both of
CI's cores busy.
"""

from __future__ import annotations

import collections
import faulthandler
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from mlc.errors import single_line
from mlc.ir import Graph
from mlc.ir.clone import clone_graph
from mlc.ir.graph import Value
from mlc.testing.node_suite import REASON_CHARS, failure_reason

BATCH_SIZE = 48  # graphs per compile: big enough to amortise the link, small enough to bisect
TIMEOUT_S = 120.0  # one batch's compile + run in the child; a longer one counts as a hang
JOBS = 2  # children at once by default (CI has 2 cores)


@dataclass(frozen=True)
class Merged:
    """A merged graph and, per source graph, where its inputs and outputs went."""

    graph: Graph
    inputs: list[dict[str, str]]  # per graph: original input name -> merged input name
    outputs: list[range]  # per graph: its outputs' positions in graph.outputs


def merge(graphs: Sequence[Graph], name: str = "batch") -> Merged:
    """One graph holding a renamed copy of each of ``graphs`` (not modified), side by side."""
    merged = Graph(name)
    inputs: list[dict[str, str]] = []
    outputs: list[range] = []
    for k, graph in enumerate(graphs):
        prefix = f"c{k}_"
        mapping: dict[int, Value] = {}
        for value in graph.inputs:
            mapping[id(value)] = merged.add_input(prefix + value.name, value.type)
        for cname, value in graph.constants.items():
            mapping[id(value)] = merged.add_constant(value.const, name=prefix + cname)
        for node in graph.nodes:
            ins = [None if v is None else mapping[id(v)] for v in node.inputs]
            copy = merged.add_node(node.op, ins, dict(node.attrs),
                                   output_types=[o.type for o in node.outputs],
                                   output_names=[prefix + o.name for o in node.outputs],
                                   name=prefix + (node.name or node.op),
                                   body=None if node.body is None else clone_graph(node.body))
            for old, fresh in zip(node.outputs, copy.outputs):
                mapping[id(old)] = fresh
        inputs.append({v.name: mapping[id(v)].name for v in graph.inputs})
        start = len(merged.outputs)
        merged.outputs = [*merged.outputs, *(mapping[id(v)] for v in graph.outputs)]
        outputs.append(range(start, len(merged.outputs)))
    return Merged(merged, inputs, outputs)


@dataclass
class Outcome:
    """One graph's result: its outputs, or why the batch it was last part of failed."""

    outputs: list[np.ndarray] | None = None
    error: str = ""
    alone: bool = False  # compiled on its own, not merged with other graphs


Compiler = Callable[[Graph, str], Callable[[Mapping[str, np.ndarray]], list[np.ndarray]]]


def run_batched(graphs: Sequence[Graph], feeds: Sequence[Mapping[str, np.ndarray]],
                compile_fn: Compiler, batch_size: int = BATCH_SIZE,
                timeout_s: float = TIMEOUT_S, jobs: int | None = None) -> list[Outcome]:
    """Run each graph on its feeds; ``compile_fn(graph, out_dir)`` returns a ``run(feeds)``.

    Batches run in up to ``jobs`` children at once (default: one per CPU, at most JOBS). A batch
    that fails is split in two until single graphs fail with their own reason."""
    jobs = jobs or max(1, min(JOBS, os.cpu_count() or 1))
    outcomes: list[Outcome | None] = [None] * len(graphs)
    pending = collections.deque(list(range(i, min(i + batch_size, len(graphs))))
                                for i in range(0, len(graphs), batch_size))
    running: list[_Job] = []
    while pending or running:
        while pending and len(running) < jobs:
            group = pending.popleft()
            running.append(_Job.start(group, [graphs[i] for i in group],
                                      [feeds[i] for i in group], compile_fn, timeout_s))
        multiprocessing.connection.wait([job.receive for job in running],
                                        timeout=max(0.0, min(j.deadline for j in running)
                                                    - time.monotonic()))
        for job in [j for j in running if j.done()]:
            running.remove(job)
            result = job.finish()
            if isinstance(result, list):
                for i, outputs in zip(job.group, result):
                    outcomes[i] = Outcome(outputs=outputs, alone=len(job.group) == 1)
            elif len(job.group) == 1:
                outcomes[job.group[0]] = Outcome(error=result, alone=True)
            else:
                half = len(job.group) // 2
                pending.extendleft([job.group[half:], job.group[:half]])
    return [o if o is not None else Outcome(error="not run") for o in outcomes]


@dataclass
class _Job:
    """One batch compiling and running in a forked child (see the module doc for why)."""

    group: list[int]
    process: multiprocessing.process.BaseProcess
    receive: multiprocessing.connection.Connection
    deadline: float
    timeout_s: float
    merged: Merged | None  # None: a single graph, compiled as it is
    folder: str  # the artifact's; made and removed here, so a killed child leaves nothing

    @classmethod
    def start(cls, group: list[int], graphs: Sequence[Graph],
              feeds: Sequence[Mapping[str, np.ndarray]], compile_fn: Compiler,
              timeout_s: float) -> _Job:
        merged = None
        if len(graphs) == 1:  # alone: compiled as it is, so errors name its own values
            graph, graph_feeds = graphs[0], feeds[0]
        else:
            merged = merge(graphs)
            graph = merged.graph
            graph_feeds = {merged.inputs[k][name]: array
                           for k, f in enumerate(feeds) for name, array in f.items()}
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)
        folder = tempfile.mkdtemp(prefix="mlc-nodes-")
        process = context.Process(target=_child, daemon=True,
                                  args=(send, graph, graph_feeds, compile_fn,
                                        os.path.join(folder, "artifact")))
        process.start()
        send.close()
        return cls(group, process, receive, time.monotonic() + timeout_s, timeout_s, merged,
                   folder)

    def done(self) -> bool:
        return self.receive.poll() or time.monotonic() >= self.deadline

    def finish(self) -> list[list[np.ndarray]] | str:
        """Per graph its outputs, or why the batch failed; the child is gone afterwards."""
        value = None
        try:
            if self.receive.poll():
                try:
                    value = self.receive.recv()
                except EOFError:
                    pass
            else:
                self.process.kill()
                value = f"timeout: no result after {self.timeout_s:g} s"
        finally:
            self.receive.close()
        self.process.join()
        shutil.rmtree(self.folder, ignore_errors=True)
        if value is None:
            code = self.process.exitcode
            if code is not None and code < 0:
                return f"crash: killed by {signal.Signals(-code).name}"
            return f"crash: the child exited with status {code} and no result"
        if isinstance(value, str):
            return value
        if self.merged is None:
            return [value]
        if len(value) != len(self.merged.graph.outputs):
            return f"run: got {len(value)} outputs, expected {len(self.merged.graph.outputs)}"
        return [[value[i] for i in span] for span in self.merged.outputs]


def _child(send, graph: Graph, feeds: Mapping[str, np.ndarray], compile_fn: Compiler,
           out_dir: str) -> None:
    faulthandler.disable()  # a crash is reported as a reason, not as a traceback dump
    try:
        value: object = _compile_and_run(graph, feeds, compile_fn, out_dir)
    except BaseException as exc:  # noqa: BLE001 (reported to the parent, never raised)
        value = f"crash: {type(exc).__name__}: {single_line(exc, REASON_CHARS)}"
    send.send(value)
    send.close()


def _compile_and_run(graph: Graph, feeds: Mapping[str, np.ndarray], compile_fn: Compiler,
                     out_dir: str) -> list[np.ndarray] | str:
    stage = "compile"
    try:
        run = compile_fn(graph, out_dir)
        stage = "run"
        return [np.array(a) for a in run(feeds)]
    except Exception as exc:  # noqa: BLE001 (see failure_reason)
        return failure_reason(stage, exc)


