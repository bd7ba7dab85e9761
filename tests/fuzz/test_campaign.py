"""Fuzzing campaigns: verdicts, a planted bug found and minimised into a reproducer that
``mlc compare`` confirms, resuming, the CLI, and a short seeded campaign over every target here."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import numpy as np
import pytest

from mlc import interp
from mlc.ir.op_registry import get_op
from mlc.runtime.targets import Runner
from mlc.testing.fuzz.campaign import (FuzzError, Settings, default_targets, run_campaign,
                                       summarise)

MLC = [os.path.join(os.path.dirname(sys.executable), "mlc")]


class _TanhIsWrong(Runner):
    """The reference kernels node by node, except that tanh returns tanh + 0.5: a planted bug."""

    def __init__(self, model, threads):
        self.graph = model.graph

    def run(self, feeds):
        values = {id(v): feeds[v.name] for v in self.graph.inputs}
        with np.errstate(all="ignore"):
            for node in self.graph.nodes:
                args = [None if v is None else v.const if v.is_const else values[id(v)]
                        for v in node.inputs]
                results = get_op(node.op).compute(args, node.attrs)
                if node.op == "tanh":
                    results = [r + 0.5 for r in results]
                for value, result in zip(node.outputs, results):
                    values[id(value)] = np.asarray(result).astype(value.dtype.numpy)
        return [v.const if v.is_const else values[id(v)] for v in self.graph.outputs]


def test_a_planted_bug_is_found_minimised_and_reproduced(scratch_target, tmp_path):
    scratch_target("tanh-bug", _TanhIsWrong)
    out = tmp_path / "campaign"
    summary = run_campaign(Settings(seed=3, count=60, targets=("ort", "tanh-bug"),
                                    max_repros=2), out)
    verdicts = summary.verdicts["tanh-bug"]
    assert verdicts["mismatch"] >= 3 and verdicts["ok"] >= 20
    assert len(summary.failures) == verdicts["mismatch"]
    assert summary.verdicts["ort"] == {"ok": 60}
    saved = [f for f in summary.failures if f["repro"]]
    assert len(saved) == 2
    for failure in saved:
        folder = out / "repro" / os.path.basename(failure["repro"])
        doc = json.loads((folder / "failure.json").read_text())
        assert doc["ops"] == ["tanh"] and doc["original_nodes"] >= 1
        assert {"model.onnx", "model.mlc", "input0.npy"} <= {p.name for p in folder.iterdir()}
        # the saved command shows the mismatch on the real targets: ref agrees with onnxruntime
        command = shlex.split(doc["reproduce"].replace("ort,tanh-bug", "ort,ref"))
        shown = subprocess.run([*MLC, *command[1:]], cwd=folder, capture_output=True, text=True)
        assert shown.returncode == 0, shown.stdout + shown.stderr


def test_a_campaign_resumes_and_extends(tmp_path):
    out = tmp_path / "c"
    first = run_campaign(Settings(seed=5, count=20, targets=("ort", "ref")), out)
    assert first.graphs == 20
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(lines) == 1
    again = run_campaign(Settings(seed=5, count=30, targets=("ort", "ref")), out, resume=True)
    assert again.graphs == 30
    records = [r for line in (out / "results.jsonl").read_text().splitlines()
               for r in json.loads(line)["records"]]
    assert sorted(r["index"] for r in records) == list(range(30))  # the first 20 not run again
    with pytest.raises(FuzzError, match="already holds"):
        run_campaign(Settings(seed=5, count=30, targets=("ort", "ref")), out)
    with pytest.raises(FuzzError, match="other seed"):
        run_campaign(Settings(seed=6, count=30, targets=("ort", "ref")), out, resume=True)


def test_recheck_judges_only_the_failed_graphs_again(scratch_target, tmp_path):
    state = {"bug": True}

    class SometimesWrong(_TanhIsWrong):
        def run(self, feeds):
            return super().run(feeds) if state["bug"] else interp.run(self.graph, feeds,
                                                                      as_list=True)

    scratch_target("fixable", SometimesWrong)
    out = tmp_path / "c"
    settings = Settings(seed=3, count=40, targets=("ort", "fixable"), max_repros=0)
    first = run_campaign(settings, out)
    failed = first.verdicts["fixable"]["mismatch"]
    assert failed >= 2 and len(first.failures) == failed
    state["bug"] = False  # the fix lands
    again = run_campaign(settings, out, recheck=True)
    assert again.failures == [] and again.verdicts["fixable"] == {"ok": 40}
    lines = (out / "results.jsonl").read_text().splitlines()
    assert len(json.loads(lines[-1])["records"]) == failed  # only the failed graphs ran again
    assert run_campaign(settings, out, resume=True).verdicts["fixable"] == {"ok": 40}


def test_a_cut_off_results_line_is_run_again(tmp_path):
    out = tmp_path / "c"
    run_campaign(Settings(seed=1, count=10, targets=("ort", "ref")), out)
    with open(out / "results.jsonl", "a") as stream:
        stream.write('{"records": [{"index": 10, "se')  # a kill in the middle of a write
    again = run_campaign(Settings(seed=1, count=12, targets=("ort", "ref")), out, resume=True)
    assert again.graphs == 12


def test_summary_counts_only_the_requested_graphs():
    summary = summarise(Settings(count=1), [], 0.0, [])
    assert summary.graphs == 0 and summary.to_json()["verdicts"] == {}


def test_cli_prints_json_and_refuses_bad_targets(tmp_path):
    run = subprocess.run([*MLC, "fuzz", "--count", "8", "--targets", "ref", "-o",
                          str(tmp_path / "f"), "--json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["graphs"] == 8 and doc["verdicts"]["ref"] == {"ok": 8}
    assert doc["targets"] == ["ort", "ref"]
    bad = subprocess.run([*MLC, "fuzz", "--targets", "nope", "-o", str(tmp_path / "g")],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.startswith("error:") and "nope" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "g").exists()
    again = subprocess.run([*MLC, "fuzz", "--count", "8", "--targets", "ref", "-o",
                            str(tmp_path / "f")], capture_output=True, text=True)
    assert again.returncode == 1 and "--resume" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_short_seeded_campaign_on_every_target_here_finds_nothing(tmp_path):
    """The campaign `make test` runs: every target present, 96 graphs (one chunk), seed 2026.
    A failure here names its reproducer folder; the long campaign's figures are in
    benchmarks/README.md."""
    summary = run_campaign(Settings(seed=2026, count=96, targets=tuple(default_targets())),
                           tmp_path / "campaign")
    assert summary.graphs == 96
    assert summary.failures == [], json.dumps(summary.failures, indent=1)
