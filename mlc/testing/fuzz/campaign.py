"""A fuzzing campaign: generate graphs, run them on every target, compare with onnxruntime,
shrink each failure to a reproducer, and keep a record that lets a stopped campaign resume.

onnxruntime runs mlc's ONNX export of each graph and is the yardstick, as in ``mlc compare``;
``ref`` (the numpy interpreter) is compared with it like any target. Compiled targets run the
graphs in merged batches (:mod:`mlc.testing.node_batch`: one compile per batch, a crash costs
one forked child, a failing batch is bisected), and a failure seen in a batch is confirmed with
the graph compiled alone before it counts.

Each target's verdict on a graph is one of:

* ``ok``: outputs equal to onnxruntime's (:mod:`mlc.testing.fuzz.compare`'s rules);
* ``refused``: mlc declined the graph at compile time with its one-line error saying the target
  does not implement an op, dtype or attribute (``DECLINES``); counted and listed by reason;
* ``mismatch``: outputs differ from onnxruntime's;
* ``crash``: anything else (an exception that is not mlc's error, a signal, a hang, an error
  while running, a graph the reference cannot run).

Mismatches and crashes are failures: each is minimised and saved under ``repro/`` as
``model.onnx``, ``model.mlc``, its inputs as ``.npy`` and ``failure.json`` (target, verdict and the
``mlc compare`` command that shows it).

The output folder holds ``campaign.json`` (the settings) and ``results.jsonl`` (one line per
finished chunk of graphs); ``resume=True`` skips the chunks already there, so a campaign can be
stopped at any point and continued, or extended with a larger count; ``recheck=True`` judges the
failed graphs again once their bugs are fixed (a graph's newest record counts).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from mlc import interp
from mlc.errors import MlcError, single_line
from mlc.ir import Graph
from mlc.testing.fuzz.compare import Freedom, freedom, mismatch
from mlc.testing.fuzz.generate import MAX_NODES, Case, generate
from mlc.testing.fuzz.minimize import minimize

OK, REFUSED, MISMATCH, CRASH, SKIPPED = "ok", "refused", "mismatch", "crash", "skipped"
FAILURES = (MISMATCH, CRASH)
SETTINGS_FILE, RESULTS_FILE, REPRO_FOLDER = "campaign.json", "results.jsonl", "repro"
CHUNK = 96  # graphs per recorded chunk: two merged batches of node_batch's size
DETAIL_CHARS = 200
DECLINES = tuple(f"compile: {name}:" for name in
                 ("LoweringError", "UnsupportedOpError", "UnsupportedTypeError", "TvmCompileError"))
"""Compile-time errors that mean "this target does not implement that" (a refusal). Any other
error (C that does not compile, a library that does not load, an error while running) is a
crash: the graph was valid, so mlc failed it."""


class FuzzError(MlcError):
    """A campaign cannot start (an unknown target, a folder holding another campaign…)."""


@dataclass(frozen=True)
class Settings:
    """What defines a campaign: the same settings give the same graphs and verdicts."""

    seed: int = 0
    count: int = 1000
    targets: tuple[str, ...] = ()
    max_nodes: int = MAX_NODES
    max_repros: int = 20  # failures minimised and saved (the rest are counted)


@dataclass
class Record:
    """One graph's verdicts: target -> (kind, detail)."""

    index: int
    seed: int
    ops: list[str]
    verdicts: dict[str, tuple[str, str]]
    repro: str | None = None

    def to_json(self) -> dict:
        return {"index": self.index, "seed": self.seed, "ops": self.ops,
                "verdicts": {t: list(v) for t, v in self.verdicts.items()}, "repro": self.repro}

    @classmethod
    def from_json(cls, doc: dict) -> Record:
        return cls(doc["index"], doc["seed"], doc["ops"],
                   {t: (v[0], v[1]) for t, v in doc["verdicts"].items()}, doc.get("repro"))


@dataclass
class Summary:
    """A campaign's totals, as ``--json`` prints them."""

    settings: Settings
    graphs: int = 0
    seconds: float = 0.0
    verdicts: dict[str, Counter] = field(default_factory=dict)  # target -> kind -> count
    refusals: dict[str, Counter] = field(default_factory=dict)  # target -> reason -> count
    failures: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"seed": self.settings.seed, "count": self.settings.count,
                "targets": list(self.settings.targets), "max_nodes": self.settings.max_nodes,
                "graphs": self.graphs, "seconds": round(self.seconds, 1),
                "verdicts": {t: dict(c) for t, c in self.verdicts.items()},
                "refusals": {t: dict(c.most_common(10)) for t, c in self.refusals.items()},
                "failures": self.failures}

    @property
    def failed(self) -> int:
        return len(self.failures)


def case_seed(campaign_seed: int, index: int) -> int:
    """The seed of graph ``index`` of a campaign: independent of the other graphs, so any graph
    is regenerated alone (``mlc.testing.fuzz.generate.generate(seed)``)."""
    return int(np.random.SeedSequence([campaign_seed, index]).generate_state(1)[0])


def default_targets() -> list[str]:
    """ref, ort and every compiled target that runs here and has its tools installed."""
    from mlc.runtime.targets import TARGETS

    compiled = [name for name, target in TARGETS.items()
                if target.conformance and target.compiles and not target.missing_tools()]
    return ["ref", "ort", *compiled]


def check_targets(targets: Sequence[str]) -> tuple[str, ...]:
    from mlc.runtime.targets import TARGETS

    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise FuzzError(f"unknown target(s) {', '.join(unknown)}",
                        hint=f"choose from {', '.join(TARGETS)}")
    missing = [f"{t} needs {tool.name}" for t in targets for tool in TARGETS[t].missing_tools()]
    if missing:
        raise FuzzError("; ".join(missing), hint="install the tools or leave those targets out")
    return tuple(dict.fromkeys(["ort", *targets]))


# -- running one chunk ----------------------------------------------------------------------------

@dataclass
class Oracle:
    """What onnxruntime says about a case, and the freedoms the reference's trace allows."""

    outputs: list[np.ndarray] | None
    problem: str
    trace: dict[str, np.ndarray]
    reference: list[np.ndarray] | str
    allowed: Freedom


def oracle(graph: Graph, feeds: dict[str, np.ndarray]) -> Oracle:
    import onnxruntime

    from mlc.frontend.export import to_onnx
    from mlc.runtime.reference import ort_session

    onnxruntime.set_default_logger_severity(4)  # a graph it refuses is a verdict, not a log line
    trace: dict[str, np.ndarray] = {}
    reference: list[np.ndarray] | str
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            trace = interp.run_traced(graph, feeds)
            reference = [v.const if v.is_const else trace.get(v.name, feeds.get(v.name))
                         for v in graph.outputs]
        except Exception as exc:  # noqa: BLE001 (a verdict on ref, never raised)
            reference = _reason("run", exc)
        try:
            session = ort_session(to_onnx(graph).SerializeToString(), 1)
            outputs = [np.asarray(o) for o in session.run(None, feeds)]
            problem = ""
        except Exception as exc:  # noqa: BLE001 (the graph is skipped, with the reason)
            outputs, problem = None, f"onnxruntime: {single_line(exc, DETAIL_CHARS)}"
    return Oracle(outputs, problem, trace, reference, freedom(graph, feeds, trace))


def _reason(stage: str, exc: BaseException) -> str:
    if isinstance(exc, MlcError):
        return f"{stage}: {type(exc).__name__}: {single_line(exc.one_line(), DETAIL_CHARS)}"
    return f"crash in {stage}: {type(exc).__name__}: {single_line(exc, DETAIL_CHARS)}"


def judge(result: list[np.ndarray] | str, truth: Oracle) -> tuple[str, str]:
    """A target's verdict from its outputs (or the reason it produced none)."""
    if truth.outputs is None:
        return SKIPPED, truth.problem
    if isinstance(result, str):
        return (REFUSED if result.startswith(DECLINES) else CRASH), result[:DETAIL_CHARS]
    problem = mismatch(result, truth.outputs, truth.allowed)
    return (MISMATCH, problem) if problem else (OK, "")


def signature(verdict: tuple[str, str]) -> str:
    """What must stay the same while a failure is minimised: the kind, and for a crash the
    stage and the exception (``crash in compile: KeyError``) or the signal."""
    kind, detail = verdict
    if kind != CRASH:
        return kind
    return ":".join(detail.split(":")[:2])


def _compiler(target: str) -> Callable:
    from mlc.testing.node_suite import _compile

    return functools.partial(_compile, target=target)


def run_on_target(target: str, graphs: Sequence[Graph], feeds: Sequence[dict],
                  oracles: Sequence[Oracle], jobs: int | None = None,
                  batch_size: int | None = None) -> list[tuple[str, str]]:
    """Each graph's verdict on ``target``; a compiled target's failure in a merged batch is
    confirmed with the graph compiled alone."""
    from mlc.runtime.targets import get_target

    if target == "ort":
        return [(SKIPPED, o.problem) if o.outputs is None else (OK, "") for o in oracles]
    if target == "ref":
        return [judge(o.reference, o) for o in oracles]
    if not get_target(target).compiles:
        return [judge(_run_in_process(target, g, f), o) for g, f, o in zip(graphs, feeds, oracles)]
    from mlc.testing.node_batch import BATCH_SIZE, run_batched

    compile_fn = _compiler(target)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        outcomes = run_batched(graphs, feeds, compile_fn, batch_size=batch_size or BATCH_SIZE,
                               jobs=jobs)
    verdicts = [judge(o.outputs if o.outputs is not None else o.error, truth)
                for o, truth in zip(outcomes, oracles)]
    again = [i for i, (o, v) in enumerate(zip(outcomes, verdicts))
             if not o.alone and v[0] not in (OK, SKIPPED)]
    if again:
        alone = run_batched([graphs[i] for i in again], [feeds[i] for i in again], compile_fn,
                            batch_size=1, jobs=jobs)
        for i, o in zip(again, alone):
            verdicts[i] = judge(o.outputs if o.outputs is not None else o.error, oracles[i])
    return verdicts


def _run_in_process(target: str, graph: Graph, feeds: dict) -> list[np.ndarray] | str:
    """Outputs of an in-process target (a plugin's runner), or why it failed."""
    from mlc.runtime import Model
    from mlc.runtime.targets import get_target

    stage = "compile"
    try:
        runner = get_target(target).prepare(Model.from_graph(graph), 1)
        stage = "run"
        return [np.asarray(a) for a in runner.run(feeds)]
    except Exception as exc:  # noqa: BLE001 (a verdict, never raised)
        return _reason(stage, exc)


def _still_fails(target: str, wanted: str) -> Callable[[Graph, dict], bool]:
    def still(graph: Graph, feeds: dict) -> bool:
        truth = oracle(graph, feeds)
        if truth.outputs is None:
            return False
        (verdict,) = run_on_target(target, [graph], [feeds], [truth], jobs=1, batch_size=1)
        return verdict[0] in FAILURES and signature(verdict) == wanted
    return still


def save_repro(folder: Path, graph: Graph, feeds: dict[str, np.ndarray], target: str,
               verdict: tuple[str, str], origin: dict) -> None:
    """``model.onnx``, ``model.mlc``, one ``.npy`` per input and ``failure.json``."""
    from mlc.frontend.model_file import save_model

    folder.mkdir(parents=True, exist_ok=True)
    save_model(graph, folder / "model.onnx")
    save_model(graph, folder / "model.mlc")
    inputs = []
    for index, (name, array) in enumerate(feeds.items()):
        file = f"input{index}.npy"
        np.save(folder / file, array)
        inputs.append(f"--input '{name}={file}'")
    command = f"mlc compare model.onnx --targets ort,{target} {' '.join(inputs)}"
    doc = {"target": target, "kind": verdict[0], "detail": verdict[1], "nodes": len(graph.nodes),
           "ops": [n.op for n in graph.nodes], "reproduce": command, **origin}
    (folder / "failure.json").write_text(json.dumps(doc, indent=2) + "\n")


def _minimise_and_save(case: Case, truth: Oracle, target: str, verdict: tuple[str, str],
                       folder: Path) -> dict:
    still = _still_fails(target, signature(verdict))
    graph, feeds, tests = minimize(case.graph, case.feeds, truth.trace, still)
    smaller = oracle(graph, feeds)
    (final,) = run_on_target(target, [graph], [feeds], [smaller], jobs=1, batch_size=1)
    if final[0] not in FAILURES:  # shrinking lost the failure (a flaky one): keep the original
        graph, feeds, final = case.graph, case.feeds, verdict
    save_repro(folder, graph, feeds, target, final,
               {"seed": case.seed, "original_nodes": len(case.graph.nodes), "candidates": tests})
    return {"target": target, "kind": final[0], "detail": final[1], "seed": case.seed,
            "nodes": len(graph.nodes), "repro": str(folder)}


def run_chunk(indices: Sequence[int], settings: Settings, out: Path | None,
              repros_left: int, jobs: int | None = None) -> tuple[list[Record], list[dict]]:
    """Generate, run and judge graphs ``indices``; minimise up to ``repros_left`` failures."""
    cases = [generate(case_seed(settings.seed, i), settings.max_nodes) for i in indices]
    oracles = [oracle(c.graph, c.feeds) for c in cases]
    records = [Record(i, c.seed, [n.op for n in c.graph.nodes], {})
               for i, c in zip(indices, cases)]
    for target in settings.targets:
        verdicts = run_on_target(target, [c.graph for c in cases], [c.feeds for c in cases],
                                 oracles, jobs=jobs)
        for record, verdict in zip(records, verdicts):
            record.verdicts[target] = verdict
    failures = []
    for record, case, truth in zip(records, cases, oracles):
        for target, verdict in record.verdicts.items():
            if verdict[0] not in FAILURES:
                continue
            entry = {"target": target, "kind": verdict[0], "detail": verdict[1],
                     "seed": case.seed, "nodes": len(case.graph.nodes), "repro": None}
            if out is not None and repros_left > 0:
                folder = out / REPRO_FOLDER / f"{case.seed}-{target}"
                entry = _minimise_and_save(case, truth, target, verdict, folder)
                record.repro = entry["repro"]
                repros_left -= 1
            failures.append(entry)
    return records, failures


# -- the campaign ---------------------------------------------------------------------------------

def _load_records(out: Path, settings: Settings, resume: bool) -> list[Record]:
    settings_path, results_path = out / SETTINGS_FILE, out / RESULTS_FILE
    if settings_path.exists() or results_path.exists():
        if not resume:
            raise FuzzError(f"{out} already holds a fuzzing campaign",
                            hint="pass --resume to continue it, or choose another -o folder")
        try:
            saved = json.loads(settings_path.read_text())
        except (OSError, ValueError) as exc:
            raise FuzzError(f"cannot read {settings_path}: {exc}") from None
        mine = dataclasses.asdict(settings)
        changed = [k for k in ("seed", "targets", "max_nodes")
                   if list(np.atleast_1d(saved.get(k))) != list(np.atleast_1d(mine[k]))]
        if changed:
            raise FuzzError(f"{out} holds a campaign with other {', '.join(changed)}",
                            hint="resume with the same --seed, --targets and --max-nodes")
    records = []
    if results_path.exists():
        for line in results_path.read_text().splitlines():
            try:
                records.extend(Record.from_json(d) for d in json.loads(line)["records"])
            except (ValueError, KeyError):
                break  # a line cut short by a kill: that chunk is run again
    return records


def summarise(settings: Settings, records: Iterable[Record], seconds: float,
              failures: list[dict]) -> Summary:
    summary = Summary(settings, seconds=seconds, failures=failures)
    for record in records:
        if record.index >= settings.count:
            continue
        summary.graphs += 1
        for target, (kind, detail) in record.verdicts.items():
            summary.verdicts.setdefault(target, Counter())[kind] += 1
            if kind == REFUSED:
                summary.refusals.setdefault(target, Counter())[_refusal_reason(detail)] += 1
    return summary


def _refusal_reason(detail: str) -> str:
    """A refusal without the value names in it, so equal reasons count together."""
    return detail.split(": ", 2)[-1].split(" (")[0][:100]


def run_campaign(settings: Settings, out: str | os.PathLike | None = None, *,
                 resume: bool = False, recheck: bool = False, jobs: int | None = None,
                 on_chunk: Callable[[int, int], None] | None = None) -> Summary:
    """Run (or resume) a campaign; ``on_chunk(done, total)`` reports progress.

    ``recheck`` (implies ``resume``) also judges again every graph a target failed, e.g. after
    the bugs are fixed; a graph's newest verdicts are the ones that count."""
    folder = Path(out) if out is not None else None
    latest: dict[int, Record] = {}
    failures: list[dict] = []
    seconds = 0.0
    if folder is not None:
        latest = {r.index: r for r in _load_records(folder, settings, resume or recheck)}
        folder.mkdir(parents=True, exist_ok=True)
        previous = _previous_state(folder)
        seconds, failures = previous.get("seconds", 0.0), previous.get("failures", [])
    again = sorted(i for i, r in latest.items()
                   if recheck and i < settings.count and _failed(r))
    rechecked = {latest[i].seed for i in again}
    failures = [f for f in failures if f["seed"] not in rechecked]
    if folder is not None:
        _write_settings(folder, settings, seconds, failures)
    todo = again + [i for i in range(settings.count) if i not in latest]
    started = time.perf_counter()
    for start in range(0, len(todo), CHUNK):
        indices = todo[start:start + CHUNK]
        left = settings.max_repros - sum(1 for f in failures if f["repro"])
        chunk_records, chunk_failures = run_chunk(indices, settings, folder, left, jobs)
        latest.update((r.index, r) for r in chunk_records)
        failures.extend(chunk_failures)
        if folder is not None:
            with open(folder / RESULTS_FILE, "a") as stream:
                stream.write(json.dumps({"records": [r.to_json() for r in chunk_records]}) + "\n")
            _write_settings(folder, settings, seconds + time.perf_counter() - started, failures)
        if on_chunk is not None:
            on_chunk(settings.count - len(todo) + start + len(indices), settings.count)
    return summarise(settings, latest.values(), seconds + time.perf_counter() - started, failures)


def _failed(record: Record) -> bool:
    return any(kind in FAILURES for kind, _ in record.verdicts.values())


def _previous_state(folder: Path) -> dict:
    try:
        return json.loads((folder / SETTINGS_FILE).read_text()).get("state", {})
    except (OSError, ValueError):
        return {}


def _write_settings(folder: Path, settings: Settings, seconds: float, failures: list) -> None:
    doc = {**dataclasses.asdict(settings), "state": {"seconds": seconds, "failures": failures}}
    temporary = folder / (SETTINGS_FILE + ".tmp")
    temporary.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(temporary, folder / SETTINGS_FILE)

