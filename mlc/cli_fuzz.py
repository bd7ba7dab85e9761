"""``mlc fuzz``: a differential fuzzing campaign over the registered ops and the targets here.

Kept apart from ``cli.py`` like ``cli_compile``: it registers on the same click group, so
``--json`` prints one document and user mistakes are one ``error:`` line with exit status 1.
The work is :mod:`mlc.testing.fuzz.campaign`; this module only parses, reports progress and prints.
"""

from __future__ import annotations

from typing import Sequence

import click

from mlc.cli import _echo_json, _json_option, _stdout_console, _table, cli
from mlc.testing.fuzz.generate import MAX_NODES

KINDS = ("ok", "refused", "mismatch", "crash", "skipped")


@cli.command()
@click.option("--seed", type=int, default=0, show_default=True,
              help="The campaign's seed: graph i is generated from (seed, i) alone.")
@click.option("--count", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Graphs in the campaign (with --resume, a larger count extends it).")
@click.option("--targets", metavar="T1,T2",
              help="Targets to compare with onnxruntime [default: ref and every compiled target "
                   "that runs here with its tools installed].")
@click.option("--max-nodes", type=click.IntRange(min=1, max=64), default=MAX_NODES,
              show_default=True, help="Recipes drawn per graph (a motif adds up to three nodes).")
@click.option("-o", "--output", default="fuzz-out", show_default=True,
              help="Folder for campaign.json, results.jsonl and the reproducers in repro/.")
@click.option("--resume", is_flag=True,
              help="Continue the campaign in --output, skipping the graphs already judged.")
@click.option("--recheck", is_flag=True,
              help="With --resume: also judge again every graph a target failed (after a fix).")
@click.option("--max-repros", type=click.IntRange(min=0), default=20, show_default=True,
              help="Failures to minimise and save (the others are counted).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Compile-and-run children at once [default: one per core, at most 2].")
@_json_option
def fuzz(seed: int, count: int, targets: str | None, max_nodes: int, output: str, resume: bool,
         recheck: bool, max_repros: int, jobs: int | None, as_json: bool) -> None:
    """Generate random graphs, run them on every target, compare with onnxruntime.

    Each mismatch or crash is shrunk to a few nodes and saved under OUTPUT/repro/ as model.onnx,
    model.mlc, its inputs and the `mlc compare` command that shows it. Exits with status 1 when
    any target failed a graph."""
    from mlc.runtime.targets import parse_target_list
    from mlc.testing.fuzz.campaign import Settings, check_targets, default_targets, run_campaign

    chosen = check_targets(parse_target_list(targets) if targets else default_targets())
    settings = Settings(seed=seed, count=count, targets=chosen, max_nodes=max_nodes,
                        max_repros=max_repros)
    summary = run_campaign(settings, output, resume=resume, recheck=recheck, jobs=jobs,
                           on_chunk=None if as_json else _progress)
    if as_json:
        _echo_json({**summary.to_json(), "output": output})
    else:
        _print_summary(summary, output)
    if summary.failed:
        raise SystemExit(1)


def _progress(done: int, total: int) -> None:
    click.echo(f"fuzz: {done}/{total} graphs judged", err=True)


def _print_summary(summary, output: str) -> None:
    console = _stdout_console()
    doc = summary.to_json()
    table = _table(["target", *KINDS], left=["target"],
                   title=f"mlc fuzz: {doc['graphs']} graphs, seed {doc['seed']}, "
                         f"{doc['seconds']:.0f} s")
    for target, counts in doc["verdicts"].items():
        table.add_row(target, *(str(counts.get(kind, 0)) for kind in KINDS))
    console.print(table)
    for target, reasons in doc["refusals"].items():
        for reason, times in reasons.items():
            console.print(f"refused on {target} ({times}×): {reason}", markup=False)
    _print_failures(console, doc["failures"])
    console.print(f"results in {output}/", markup=False)


def _print_failures(console, failures: Sequence[dict]) -> None:
    for failure in failures:
        where = failure["repro"] or "not minimised (--max-repros reached)"
        console.print(f"{failure['kind']} on {failure['target']} (seed {failure['seed']}, "
                      f"{failure['nodes']} nodes): {failure['detail']}\n  → {where}", markup=False)
