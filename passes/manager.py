"""PassManager: runs passes in order, verifies after each, and lets instruments watch.

Instruments (timing, IR dumps, the numerics check) see every pass without the passes knowing
about them, as in TVM's PassContext. A pass that leaves an invalid graph is named, together with
the passes that ran before it. A pass that declares ``bodies`` is run here on every fused body
too, so recursion into bodies is written once, not in each pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from mlc.errors import MlcError
from mlc.ir import Graph, verify

from .base import Pass, PassError


class Instrument:
    """Hooks called around each pass. Override what you need."""

    def run_start(self, graph: Graph) -> None:
        pass

    def before_pass(self, index: int, pass_: Pass, graph: Graph) -> None:
        pass

    def after_pass(self, index: int, pass_: Pass, graph: Graph, changed: bool) -> None:
        pass

    def run_end(self, graph: Graph) -> None:
        pass


@dataclass
class PassRecord:
    index: int
    spec: str
    changed: bool


@dataclass
class PassManager:
    passes: Sequence[Pass]
    fixpoint: bool = False  # repeat the whole list until no pass changes anything
    max_iterations: int = 10
    verify_each: bool = True
    instruments: Sequence[Instrument] = ()
    history: list[PassRecord] = field(default_factory=list)

    def run(self, graph: Graph) -> bool:
        """Run the pipeline on ``graph`` in place; True when any pass changed it."""
        for instrument in self.instruments:
            instrument.run_start(graph)
        any_change = False
        for _ in range(self.max_iterations if self.fixpoint else 1):
            round_change = False
            for pass_ in self.passes:
                round_change |= self._run_one(pass_, graph)
            any_change |= round_change
            if not round_change:
                break
        for instrument in self.instruments:
            instrument.run_end(graph)
        return any_change

    def _run_one(self, pass_: Pass, graph: Graph) -> bool:
        index = len(self.history) + 1
        for instrument in self.instruments:
            instrument.before_pass(index, pass_, graph)
        try:
            changed = run_pass(pass_, graph)
        except MlcError:
            raise
        except Exception as exc:
            raise PassError(f"pass {pass_.spec()} crashed ({type(exc).__name__}: {exc}){self._after()}") \
                from exc
        self.history.append(PassRecord(index, pass_.spec(), changed))
        if self.verify_each:
            try:
                verify(graph)
            except MlcError as err:
                raise PassError(f"pass {pass_.spec()} left an invalid graph{self._after(skip_last=True)}: "
                                f"{err.message}") from None
        for instrument in self.instruments:
            instrument.after_pass(index, pass_, graph, changed)
        return changed

    def _after(self, skip_last: bool = False) -> str:
        ran = [r.spec for r in (self.history[:-1] if skip_last else self.history)]
        return f" (after {', '.join(ran)})" if ran else ""


def run_pass(pass_: Pass, graph: Graph) -> bool:
    """Run ``pass_`` on ``graph``; first, when it declares ``bodies``, on every fused body in it
    (nested ones first), so a body is clean before the pass looks at the node holding it."""
    changed = False
    if pass_.bodies:
        for node in list(graph.nodes):
            if node.body is not None:
                changed |= run_pass(pass_, node.body)
    return bool(pass_.run(graph)) or changed


def run_pipeline(graph: Graph, pipeline: str | Sequence[Pass], **options) -> Graph:
    """Convenience: parse ``pipeline`` (a string or passes) and run it on ``graph`` in place."""
    from .pipeline import parse_pipeline

    passes = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
    PassManager(passes, **options).run(graph)
    return graph


__all__ = ["Instrument", "PassManager", "PassRecord", "PassError", "run_pass", "run_pipeline"]
