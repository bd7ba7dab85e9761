"""``mlc compile`` and ``mlc bench``: build an artifact for a target, and time one.

Kept apart from ``cli.py`` (which holds the graph-level commands) because these are the commands
about compiled code: artifacts, schedules, intermediate forms, latency. They register on the same
click group, so the conventions are the same: ``--json`` prints one document, user mistakes are
one ``error:`` line with exit status 1.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import click

from mlc.cli import (_echo_json, _input_options, _json_option, _model, _pipeline_options,
                     _Progress, _shape_option, _stdout_console, _table, cli)
from mlc.inputs import make_feeds, parse_input_specs


class TargetChoice(click.Choice):
    """``-t TARGET``: the compile targets of the registry, read when the command runs (not when
    it is defined), so a target a ``--plugin`` registers is a valid choice and shows in --help."""

    def __init__(self) -> None:
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from mlc.runtime.targets import compile_target_names

        return tuple(compile_target_names())

    @choices.setter
    def choices(self, _value) -> None:  # click.Choice.__init__ assigns it
        pass


def _level(pipeline: str | None, level: str | None) -> str:
    if pipeline is not None and level is not None:
        raise click.UsageError("give either -p PIPELINE or -O LEVEL, not both")
    if pipeline is not None:
        return pipeline
    return f"O{level if level is not None else 2}"


@cli.command("compile")
@click.argument("model")
@click.option("-t", "--target", default="llvm", show_default=True, type=TargetChoice(),
              help="What to compile for (`mlc targets` describes each).")
@click.option("-o", "--output", required=True, metavar="DIR",
              help="The artifact directory to write (replaced if it is an artifact).")
@click.option("--emit", default=None, metavar="FORMS",
              help="Also write intermediate forms: llvm-ir, asm, loop-ir; for the TVM targets "
                   "relax, tir (comma-separated).")
@click.option("--schedule", "schedule", multiple=True, metavar="SECTION.FIELD=VALUE",
              help="Override a schedule field, e.g. gemm.mr=4 or loops.parallel=false "
                   "(repeatable; see --print-schedule).")
@click.option("--print-schedule", is_flag=True,
              help="Print the schedules the target would use (after overrides) and exit.")
@click.option("--weights", "weights", default=None, type=click.Choice(("auto", "c", "incbin")),
              help="C targets: weights as const arrays in weights.c, or weights.bin pulled in by "
                   "an .incbin (default auto: .incbin above 8 MiB on the host).")
@click.option("--arch", default=None, metavar="SM",
              help="cuda: the GPU architecture the kernels are compiled for (default sm_90; "
                   "sm_80, ...).")
@click.option("--tune", "tune", type=click.IntRange(min=0), default=None, metavar="TRIALS",
              help="TVM targets: run MetaSchedule for TRIALS trials on this machine instead of "
                   "the default (dlight / CPU) schedules; cuda needs the GPU here.")
@_pipeline_options
@_shape_option
@_json_option
def compile_cmd(model: str, target: str, output: str, emit: str | None,
                schedule: Sequence[str], print_schedule: bool, weights: str | None,
                arch: str | None, tune: int | None, pipeline: str | None, level: str | None,
                plugins: Sequence[str], shapes: Sequence[str], as_json: bool) -> None:
    """Compile MODEL for TARGET into the artifact directory DIR (run it with `mlc run DIR`).

    A flag the target does not take is an error (`mlc targets` lists each target's options)."""
    from mlc.cli import _load_plugins
    from mlc.runtime.targets import TARGETS, get_target

    _load_plugins(plugins)
    chosen = get_target(target)
    if chosen.schedules is None and (print_schedule or schedule):
        loop_targets = [name for name, t in TARGETS.items() if t.schedules is not None]
        forms = " or ".join(f"--emit {form}" for form in chosen.options.EMIT_FORMS)
        raise click.UsageError(f"--schedule and --print-schedule are the loop IR's "
                               f"({', '.join(loop_targets)}); {target} takes neither"
                               + (f": see what it generates with {forms}" if forms else ""))
    given = {"emit": None if emit is None else [f.strip() for f in emit.split(",") if f.strip()],
             "schedule": schedule or None, "weights": weights, "arch": arch, "tune": tune}
    options = chosen.make_options(level=_level(pipeline, level),
                                  **{k: v for k, v in given.items() if v is not None})
    if print_schedule:
        _echo_json(chosen.schedules(options).to_json())
        return
    with _Progress() as progress:
        progress(f"loading {model}")
        graph = _model(model, shapes).graph
        progress(f"compiling for {target}")
        manifest = chosen.compile(graph, Path(output), options)
    if as_json:
        doc = {"artifact": os.path.abspath(output), **manifest.to_json()}
        if isinstance(manifest.options.get("size"), dict):  # a microcontroller image
            doc["size"] = {**manifest.options["size"], "arena": manifest.arena_bytes}
        _echo_json(doc)
        return
    binary = manifest.library or manifest.options.get("elf") or ", ".join(manifest.files)
    click.echo(f"wrote {output}: {binary} for {manifest.options.get('cpu', target)} "
               f"({manifest.options.get('kernels', '?')} kernels, arena {manifest.arena_bytes} "
               f"bytes, weights {manifest.weight_bytes} bytes) in "
               f"{manifest.compile_seconds:.2f} s")
    size = manifest.options.get("size")
    if isinstance(size, dict):
        click.echo(f"flash {size['flash']} bytes (text {size['text']} + data {size['data']}), "
                   f"RAM {size['ram']} bytes (data + bss, arena {manifest.arena_bytes} included)")


def is_artifact(path: str) -> bool:
    """``path`` is a directory written by ``mlc compile`` (it has a manifest)."""
    from mlc.backends.toolchain.artifact import MANIFEST

    return os.path.isdir(path) and os.path.isfile(os.path.join(path, MANIFEST))


def artifact_feeds(executable, inputs: Sequence[str], seed: int) -> dict:
    """Feeds for an artifact's inputs, made exactly as for a model file (same seed → same data)."""
    from mlc.ir import GraphBuilder

    b = GraphBuilder(executable.manifest.model)
    for spec in executable.manifest.inputs:
        b.input(spec.name, spec.shape, spec.dtype)
    return make_feeds(b.graph, parse_input_specs(inputs), seed)


@cli.command()
@click.argument("model")
@click.option("--targets", "target_list", default="ort", show_default=True,
              help="Comma-separated targets to time (for a model file).")
@click.option("--threads", "thread_list", default="1", show_default=True, metavar="N[,N...]",
              help="Thread counts to time each target at.")
@click.option("--repeat", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=3, show_default=True)
@_shape_option
@_input_options
@_json_option
def bench(model: str, target_list: str, thread_list: str, repeat: int, warmup: int,
          shapes: Sequence[str], inputs: Sequence[str], seed: int, as_json: bool) -> None:
    """Time MODEL (a model file on --targets, or an artifact directory) at each thread count."""
    from mlc.runtime import load
    from mlc.runtime.targets import get_target, parse_target_list

    threads = _thread_counts(thread_list)
    rows = []
    with _Progress() as progress:
        if is_artifact(model):
            executable = load(model)
            feeds = artifact_feeds(executable, inputs, seed)
            for n in threads:
                progress(f"{model}: {n} thread(s)")
                result = executable.benchmark(feeds, warmup=warmup, repeat=repeat, threads=n)
                rows.append(_row(executable.manifest.target, n, result["median_ms"],
                                 result["p90_ms"], 0.0, executable.timing_kind))
        else:
            targets = parse_target_list(target_list)
            m = _model(model, shapes)
            feeds = make_feeds(m.graph, parse_input_specs(inputs), seed)
            for name in targets:
                for n in threads:
                    progress(f"{name}: preparing for {n} thread(s)")
                    runner = get_target(name).prepare(m, n)
                    timing = runner.time(feeds, warmup=warmup, repeat=repeat)
                    rows.append(_row(name, n, timing.median_ms, timing.p90_ms, runner.compile_s,
                                     runner.timing_kind))
    if as_json:
        _echo_json({"model": model, "repeat": repeat, "warmup": warmup, "results": rows})
        return
    table = _table(("target", "threads", "median ms", "p90 ms", "prepare s", "clock"),
                   left=("target", "clock"),
                   title=f"{os.path.basename(os.path.normpath(model))} — {repeat} runs")
    for row in rows:
        table.add_row(row["target"], str(row["threads"]), f"{row['median_ms']:.3f}",
                      f"{row['p90_ms']:.3f}", f"{row['prepare_s']:.2f}", row["timing"])
    _stdout_console().print(table)


def _thread_counts(text: str) -> list[int]:
    try:
        counts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise click.BadParameter(f"{text!r} is not a list of positive thread counts, e.g. 1,2",
                                 param_hint="--threads")
    return counts


def _row(target: str, threads: int, median_ms: float, p90_ms: float, prepare_s: float,
         timing: str) -> dict:
    return {"target": target, "threads": threads, "median_ms": round(median_ms, 4),
            "p90_ms": round(p90_ms, 4), "prepare_s": round(prepare_s, 3), "timing": timing}


@cli.command()
@click.argument("artifact")
@_json_option
def size(artifact: str, as_json: bool) -> None:
    """Flash, RAM and arena bytes of a Cortex-M artifact (from arm-none-eabi-size)."""
    from mlc.backends.toolchain.cortex_m import elf_size
    from mlc.errors import MlcError
    from mlc.runtime import read_manifest

    manifest = read_manifest(artifact)
    elf = manifest.options.get("elf")
    if not isinstance(elf, str) or elf not in manifest.files:
        raise MlcError(f"{artifact} is a {manifest.target} artifact, not a microcontroller image",
                       hint="compile with -t c-cortex-m4 (or m0plus, m7, m33) for a size report")
    sizes = elf_size(os.path.join(artifact, elf))
    report = {"artifact": os.path.abspath(artifact), "target": manifest.target, **sizes,
              "arena": manifest.arena_bytes,
              "arena_lower_bound": manifest.options.get("arena_lower_bound"),
              "weights": manifest.weight_bytes}
    if as_json:
        _echo_json(report)
        return
    keys = ("flash", "ram", "text", "data", "bss", "arena", "arena_lower_bound")
    table = _table([k.replace("_", " ") for k in keys], left=(),
                   title=f"{manifest.model} on {manifest.target}")
    table.add_row(*(str(report[k]) for k in keys))
    _stdout_console().print(table)


@cli.command()
@_json_option
def targets(as_json: bool) -> None:
    """List every target: what it runs on, the options `mlc compile` takes for it, and the
    tools it needs (with whether this machine has them)."""
    import dataclasses

    from mlc.runtime.targets import TARGETS

    rows = []
    for name, target in TARGETS.items():
        missing = target.missing_tools()
        rows.append({
            "name": name, "description": target.description, "compiles": target.compiles,
            "options": [f.name for f in dataclasses.fields(target.options)]
            if target.compiles else [],
            "emit": list(target.options.EMIT_FORMS) if target.compiles else [],
            "requires": [{"tool": tool.name, "found": tool not in missing, "hint": tool.hint}
                         for tool in target.requires],
            "available": not missing})
    if as_json:
        _echo_json(rows)
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} targets")
    for column in ("target", "compile options", "needs", "here", "description"):
        table.add_column(column, overflow="fold")
    for row in rows:
        needs = ", ".join(r["tool"] + ("" if r["found"] else " (missing)") for r in row["requires"])
        table.add_row(row["name"], ", ".join(row["options"]) or "—", needs or "—",
                      "yes" if row["available"] else "[red]no[/]", row["description"])
    _stdout_console().print(table)
