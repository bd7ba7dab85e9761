"""Instruments: watch a PassManager run without the passes knowing (TVM's PassInstrument).

    Timing()               seconds per pass; ``report()`` has the rows of `mlc opt --time-passes`
    PrintAfterAll(stream)  the IR after every pass (`--print-ir-after-all`)
    DumpIR(folder)         000-input.mlc, 001-<pass>.mlc, ... (`--dump-dir`)
    CheckNumerics()        the interpreter after every pass; names the first pass that moves the
                           outputs and the first node whose result changed (`--check-numerics`)

Give them to ``PassManager(passes, instruments=[...])``. Order matters only on failure: an
instrument that raises stops the ones after it, so put CheckNumerics last and the dump of the
offending pass is still written.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, TextIO

import numpy as np

from mlc.errors import single_line
from mlc.ir import Graph
from mlc.ir.graph import Value

from .base import Pass, PassError
from .manager import Instrument


# -- timing ---------------------------------------------------------------------------------------

@dataclass
class TimingRow:
    index: int
    spec: str
    seconds: float
    changed: bool


class Timing(Instrument):
    """Wall-clock seconds per pass. The time runs from ``before_pass`` to ``after_pass``, so it
    includes the manager's verify-each; put Timing first so no other instrument's work counts."""

    def __init__(self) -> None:
        self.rows: list[TimingRow] = []
        self._start = 0.0

    def before_pass(self, index: int, pass_: Pass, graph: Graph) -> None:
        self._start = time.perf_counter()

    def after_pass(self, index: int, pass_: Pass, graph: Graph, changed: bool) -> None:
        self.rows.append(TimingRow(index, pass_.spec(), time.perf_counter() - self._start, changed))

    def report(self) -> list[TimingRow]:
        """One row per pass run, in order (a fixpoint run lists a pass once per round)."""
        return list(self.rows)

    @property
    def total(self) -> float:
        return sum(row.seconds for row in self.rows)


# -- printing and dumping -------------------------------------------------------------------------

class PrintAfterAll(Instrument):
    """Print ``// ----- IR after <n>. <pass spec> -----`` and the IR after each pass."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def after_pass(self, index: int, pass_: Pass, graph: Graph, changed: bool) -> None:
        from mlc.text import print_graph

        stream = self.stream if self.stream is not None else sys.stderr
        stream.write(f"// ----- IR after {index}. {pass_.spec()} -----\n")
        stream.write(print_graph(graph))
        stream.flush()


_DUMPED = re.compile(r"\d{3}-[A-Za-z0-9_.\-]+\.(mlc|npz)")


class DumpIR(Instrument):
    """Write the input and the IR after each pass as numbered files in ``folder``:
    ``000-input.mlc``, ``001-simplify.mlc``, ... (large constants in ``.npz`` sidecars), so a diff
    of two neighbours shows exactly what one pass did.

    Numbered files an earlier run left there are removed first (only names of that form), so the
    folder never mixes two runs: a shorter pipeline would otherwise leave a stale tail behind.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.files: list[Path] = []

    def run_start(self, graph: Graph) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in self.folder.iterdir():
                if _DUMPED.fullmatch(old.name) and old.is_file():
                    old.unlink()
        except OSError as err:
            raise PassError(f"cannot use the dump folder {self.folder}: {err.strerror or err}") \
                from None
        self._write(0, "input", graph)

    def after_pass(self, index: int, pass_: Pass, graph: Graph, changed: bool) -> None:
        self._write(index, pass_.name, graph)

    def _write(self, index: int, label: str, graph: Graph) -> None:
        from mlc.text import save_text

        path = self.folder / f"{index:03d}-{label}.mlc"
        save_text(graph, path)
        self.files.append(path)


# -- numerics ------------------------------------------------------------------------------------

class NumericsError(PassError):
    """A pass changed what the graph computes: the message names the pass and the first node."""

    def __init__(self, message: str, *, pass_index: int, pass_spec: str, node: str | None = None,
                 max_abs_err: float | None = None):
        super().__init__(message)
        self.pass_index = pass_index
        self.pass_spec = pass_spec
        self.node = node
        self.max_abs_err = max_abs_err


def _max_abs_err(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0:
        return 0.0
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return float(np.nanmax(diff)) if not np.isnan(diff).all() else float("nan")


class CheckNumerics(Instrument):
    """Run the interpreter before the first pass and after each one on fixed inputs, and fail at
    the first pass that moves any graph output beyond tolerance from the original outputs.

    Outputs are compared by position (a pass may rename them). To point at the culprit, the new
    graph's node results are matched by value name to the trace of the graph as it was just before
    the pass; the first one, in execution order, that differs is named. Only that previous trace is
    kept, not a copy of the graph.
    """

    def __init__(self, feeds: Mapping[str, np.ndarray] | None = None, rtol: float = 1e-4,
                 atol: float = 1e-5, seed: int = 0) -> None:
        self.given = dict(feeds or {})
        self.rtol = rtol
        self.atol = atol
        self.seed = seed
        self.feeds: dict[str, np.ndarray] = {}
        self.reference: list[np.ndarray] = []   # the original outputs, by position
        self.previous: dict[str, np.ndarray] = {}  # the trace before the pass now running
        self.checked = 0

    def run_start(self, graph: Graph) -> None:
        from mlc.inputs import make_feeds

        self.feeds = make_feeds(graph, self.given, self.seed)
        self.previous, self.reference = self._run(graph)

    def after_pass(self, index: int, pass_: Pass, graph: Graph, changed: bool) -> None:
        where = f"pass {index}. {pass_.spec()}"
        try:
            trace, outputs = self._run(graph)
        except PassError:
            raise
        except Exception as exc:  # noqa: BLE001  (an interpreter failure is this pass's doing too)
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            raise NumericsError(f"check-numerics: the interpreter fails after {where}: {message}",
                                pass_index=index, pass_spec=pass_.spec()) from None
        bad = self._first_bad_output(outputs)
        if bad is None:
            self.previous = trace
            self.checked += 1
            return
        position, detail, output_err = bad
        tolerance = f"rtol {self.rtol:g}, atol {self.atol:g}"
        culprit = self._first_differing_node(graph, trace)
        if culprit is not None:
            text, err = culprit
            message = (f"check-numerics: {where} changed the outputs beyond {tolerance}; "
                       f"the first node that differs (max abs err {err:.3g}): {text}")
            raise NumericsError(message, pass_index=index, pass_spec=pass_.spec(), node=text,
                                max_abs_err=err)
        name = graph.outputs[position].name
        message = (f"check-numerics: {where} changed the outputs beyond {tolerance}; "
                   f"output {position} %{name} {detail}")
        raise NumericsError(message, pass_index=index, pass_spec=pass_.spec(),
                            max_abs_err=output_err)

    # -- helpers ------------------------------------------------------------------------------
    def _run(self, graph: Graph) -> tuple[dict[str, np.ndarray], list[np.ndarray]]:
        from mlc.interp import run_traced

        trace = run_traced(graph, self.feeds)
        return trace, [self._value_array(v, trace) for v in graph.outputs]

    def _value_array(self, value: Value, trace: Mapping[str, np.ndarray]) -> np.ndarray:
        if value.is_const:
            return np.asarray(value.const)
        if value.producer is None:  # a graph input passed straight through
            return np.asarray(self.feeds[value.name])
        return trace[value.name]

    def _close(self, a: np.ndarray, b: np.ndarray) -> bool:
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "biu" and b.dtype.kind in "biu":
            return bool(np.array_equal(a, b))
        return bool(np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=self.rtol,
                                atol=self.atol, equal_nan=True))

    def _first_bad_output(self, outputs: list[np.ndarray]) -> tuple[int, str, float | None] | None:
        """(position, what is wrong, max abs error) of the first output off the original."""
        if len(outputs) != len(self.reference):
            return 0, f"(the graph now has {len(outputs)} outputs, not {len(self.reference)})", None
        for position, (new, old) in enumerate(zip(outputs, self.reference)):
            if new.shape != old.shape:
                return position, f"has shape {list(new.shape)}, was {list(old.shape)}", None
            if not self._close(new, old):
                err = _max_abs_err(new, old)
                return position, f"differs by max abs err {err:.3g}", err
        return None

    def _first_differing_node(self, graph: Graph, trace: Mapping[str, np.ndarray]):
        """(node text, max abs err) of the first node, in execution order, whose output has a
        name the previous trace knows and a different value. A replacement the pass built under a
        fresh name cannot be compared, so when the node found reads such new values their
        producers are named too: that is where the difference most likely begins."""
        for node in graph.nodes:
            for value in node.outputs:
                old = self.previous.get(value.name)
                if old is None:
                    continue
                new = trace[value.name]
                if not self._close(new, old):
                    err = _max_abs_err(new, old) if new.shape == old.shape else float("nan")
                    return self._describe(node), err
        return None

    def _describe(self, node) -> str:
        from mlc.text import print_node

        text = single_line(print_node(node))
        fresh = [v.producer for v in node.inputs
                 if v is not None and v.producer is not None and v.name not in self.previous]
        if fresh:
            text += ", which reads what this pass added: " + "; ".join(
                single_line(print_node(p)) for p in dict.fromkeys(fresh))
        return text


__all__ = ["CheckNumerics", "DumpIR", "NumericsError", "PrintAfterAll", "Timing", "TimingRow"]
