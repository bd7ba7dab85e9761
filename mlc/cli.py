"""The ``mlc`` command line: import, show, opt, passes, plan, run, compare and ops (compile and
bench live in ``cli_compile``).

Every command that reports numbers takes ``--json`` and then prints exactly one JSON document on
stdout; progress goes to stderr (a spinner, only when stderr is a terminal). User mistakes surface
as one line, ``error: <message> (<hint>)``, and exit status 1; usage errors are click's (status 2);
Ctrl-C exits 130. Anything else is a bug in mlc and keeps its traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from typing import Any, Callable, Sequence

import click
import numpy as np

import mlc
from mlc.errors import MlcError
from mlc.inputs import make_feeds, parse_input_specs, parse_shapes

HEAD = 6  # values shown per output by `mlc run`


class _Group(click.Group):
    """A click group that turns MlcError into one stderr line, in the entry point and in tests
    alike (CliRunner calls ``main`` too)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        except (click.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            code = 130
        except MlcError as exc:
            click.echo(f"error: {exc.one_line()}", err=True)
            code = 1
        except MemoryError:  # a model's tensors at the given shapes; not a bug to trace back
            click.echo("error: out of memory: the model's tensors do not fit at these shapes "
                       "(give smaller --shape values, or run on a machine with more memory)",
                       err=True)
            code = 1
        except BrokenPipeError:  # `mlc show big.onnx | head`: the reader left; not an error of ours
            sys.stdout = open(os.devnull, "w")  # so the interpreter's final flush stays quiet
            code = 1
        if standalone_mode:
            sys.exit(code)
        return code


# -- shared options and helpers ----------------------------------------------------------------

def _shape_option(fn: Callable) -> Callable:
    return click.option("--shape", "shapes", multiple=True, metavar="NAME=D0,D1,...",
                        help="Specialise a symbolic input dim, e.g. --shape input=1,3,224,224 "
                             "(repeatable).")(fn)


def _input_options(fn: Callable) -> Callable:
    fn = click.option("--seed", type=int, default=0, show_default=True,
                      help="Seed of the random data for inputs not given with --input.")(fn)
    return click.option("--input", "inputs", multiple=True, metavar="NAME=FILE.npy",
                        help="Feed an input from a .npy file (repeatable); others are random.")(fn)


def _json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True,
                        help="Print one JSON document on stdout.")(fn)


def _pipeline_options(fn: Callable) -> Callable:
    """-p PIPELINE, -O LEVEL (``-O2`` as written) and --load-pass, shared by opt and show."""
    fn = click.option("--load-pass", "plugins", multiple=True, metavar="PLUGIN.py",
                      help="Import a Python file whose @register_pass passes can then be named "
                           "in -p (repeatable).")(fn)
    from mlc.passes.pipeline import PIPELINES

    levels = [name[1:] for name in PIPELINES]
    fn = click.option("-O", "level", type=click.Choice(levels), default=None, metavar="LEVEL",
                      help=f"Run the -O{levels[0]}..-O{levels[-1]} pipeline "
                           "(see `mlc passes`).")(fn)
    return click.option("-p", "--pipeline", default=None, metavar="PIPELINE",
                        help="Passes to run, e.g. 'simplify,fuse{max-group=8}', or a level: "
                             "O2.")(fn)


def _load_plugins(plugins: Sequence[str]) -> None:
    if not plugins:
        return
    from mlc.passes.plugins import load_pass_plugin

    for plugin in plugins:
        load_pass_plugin(plugin)


def _pipeline(pipeline: str | None, level: str | None, *, required: bool):
    """(label, passes) from -p / -O; None when neither was given and none is required."""
    from mlc.passes import PIPELINES, parse_pipeline

    if pipeline is not None and level is not None:
        raise click.UsageError("give either -p PIPELINE or -O LEVEL, not both")
    if pipeline is None and level is None:
        if required:
            levels = list(PIPELINES)
            raise click.UsageError(f"give the passes to run: -p PIPELINE or a level "
                                   f"-{levels[0]}..-{levels[-1]}")
        return None
    if level is not None:
        return f"-O{level}", parse_pipeline(f"O{level}")
    passes = parse_pipeline(pipeline)
    label = pipeline.strip()
    if label.lstrip("-") in PIPELINES:  # -p O2 is labelled as -O2 would be
        label = "-" + label.lstrip("-")
    return label, passes


class _Progress:
    """Progress text on stderr as a transient spinner, shown only when stderr is a terminal so
    logs, pipes and --json consumers never see it."""

    def __init__(self) -> None:
        self._status = None
        if sys.stderr.isatty():
            from rich.console import Console

            self._status = Console(stderr=True).status("")

    def __enter__(self) -> _Progress:
        if self._status is not None:
            self._status.start()
        return self

    def __call__(self, text: str) -> None:
        if self._status is not None:
            self._status.update(text)

    def __exit__(self, *exc: object) -> None:
        if self._status is not None:
            self._status.stop()


def _model(path: str, shapes: Sequence[str]):
    from mlc.runtime import Model

    return Model(path, parse_shapes(shapes))


def _stdout_console():
    """Rich output for stdout; when piped, wide enough that tables are not cut to 80 columns."""
    from rich.console import Console

    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=160)


def _table(columns: Sequence[str], left: Sequence[str] | None = None, **options: Any):
    """A rich Table with ``columns``, right-aligned (numbers) but for those in ``left``; all
    left-aligned when ``left`` is None. ``options`` go to the Table (title, caption, ...)."""
    from rich.table import Table

    table = Table(**options)
    for column in columns:
        table.add_column(column, justify="left" if left is None or column in left else "right")
    return table


def _echo_json(doc: Any) -> None:
    click.echo(json.dumps(doc, indent=2, allow_nan=False))  # NaN is not JSON: a bug if it appears


def _json_scalar(x: Any) -> Any:
    """Array elements as JSON values; NaN and infinities (not JSON) as strings."""
    x = x.item() if isinstance(x, np.generic) else x
    if isinstance(x, float) and not np.isfinite(x):
        return str(x)
    return x


# -- the group ---------------------------------------------------------------------------------

@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(mlc.__version__, "--version", "-V", prog_name="mlc")
@click.option("--plugin", "plugins", multiple=True, metavar="PLUGIN.py",
              help="Import a Python file first, so the passes and targets it registers can be "
                   "used by the command (repeatable).")
@click.option("--import-limit", type=click.IntRange(min=1), metavar="MIB",
              help="The most data (MiB) importing an ONNX model may create by folding and "
                   "ConstantOfShape, per tensor and in total (default 512 and 1024).")
def cli(plugins: Sequence[str], import_limit: int | None) -> None:
    """mlc: import ONNX models, inspect and optimise them, compile them for a target, run them
    and compare them with onnxruntime."""
    from mlc.plugins import load_plugin

    if import_limit is not None:
        from mlc.frontend.budget import MIB, ImportBudget, set_default_budget

        set_default_budget(ImportBudget(import_limit * MIB, import_limit * MIB))

    for plugin in plugins:
        load_plugin(plugin)


def main() -> None:
    """The ``mlc`` console script."""
    cli.main(prog_name="mlc")


# -- mlc import --------------------------------------------------------------------------------

@cli.command("import")
@click.argument("model")
@click.option("-o", "--output", required=True, metavar="OUT.mlc|OUT.onnx",
              help="Write textual IR (.mlc plus a sidecar .npz of large constants) or ONNX.")
@_shape_option
def import_cmd(model: str, output: str, shapes: Sequence[str]) -> None:
    """Import MODEL (.onnx or .mlc) and write it as textual IR or ONNX."""
    _check_output(output)
    with _Progress() as progress:
        progress(f"importing {model}")
        graph = _model(model, shapes).graph
        progress(f"writing {output}")
        written = save_atomically(graph, output)
    click.echo(f"wrote {', '.join(written)} ({len(graph.nodes)} nodes)")


def _check_output(output: str) -> None:
    """Refuse an output path before the (possibly long) import, not after it."""
    if not output.endswith((".mlc", ".onnx")):
        raise MlcError(f"cannot write {output}: unknown format",
                       hint="name the output OUT.mlc (textual IR) or OUT.onnx")
    folder = os.path.dirname(os.path.abspath(output))
    if not os.path.isdir(folder):
        above = _existing_non_folder(folder)
        if above is not None:
            raise MlcError(f"cannot write {output}: {above} is not a folder",
                           hint="choose an output path inside a folder")
        raise MlcError(f"cannot write {output}: folder {folder} does not exist",
                       hint="create it first")
    from mlc.text import sidecar_path

    for path in [output] + ([str(sidecar_path(output))] if output.endswith(".mlc") else []):
        if os.path.isdir(path):
            raise MlcError(f"cannot write {output}: {path} is an existing folder",
                           hint="choose another output name, or remove the folder")


def _existing_non_folder(folder: str) -> str | None:
    """The first existing path on the way to ``folder`` that is not a folder (a file), if any."""
    current = folder
    while not os.path.lexists(current):
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
    return None if os.path.isdir(current) else current


def save_atomically(graph: mlc.Graph, output: str) -> list[str]:
    """Save into a fresh temporary folder next to ``output``, then move each file into place, so
    a failure at any point leaves no file (and no partial file) behind. The sidecar moves before
    the file that names it. Returns the paths written."""
    _check_output(output)
    folder = os.path.dirname(os.path.abspath(output))
    try:
        return _save_staged(graph, output, folder)
    except OSError as err:
        raise MlcError(f"cannot write {output}: {err.strerror or err}",
                       hint=f"check that {folder} is a folder you can write, with room") from None


def _save_staged(graph: mlc.Graph, output: str, folder: str) -> list[str]:
    staging = tempfile.mkdtemp(prefix=".mlc-save-", dir=folder)
    try:
        main_name = os.path.basename(output)
        mlc.save(graph, os.path.join(staging, main_name))
        names = sorted(os.listdir(staging), key=lambda n: (n == main_name, n))
        written = []
        for name in names:
            os.replace(os.path.join(staging, name), os.path.join(folder, name))
            written.append(os.path.join(os.path.dirname(output), name))
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# -- mlc show ----------------------------------------------------------------------------------

@cli.command()
@click.argument("model")
@_shape_option
@_pipeline_options
@click.option("--stats", is_flag=True, help="Print op counts, parameters, MACs and activation "
                                            "memory instead of the IR.")
@_json_option
def show(model: str, shapes: Sequence[str], pipeline: str | None, level: str | None,
         plugins: Sequence[str], stats: bool, as_json: bool) -> None:
    """Print MODEL as textual IR, or its statistics (--json implies --stats).

    With -O LEVEL or -p PIPELINE the passes run first: the IR and --json report the optimised
    graph, and the --stats table shows "as imported" and the optimised graph side by side.
    """
    from mlc.stats import graph_stats, render_table

    _load_plugins(plugins)
    chosen = _pipeline(pipeline, level, required=False)
    with _Progress() as progress:
        progress(f"loading {model}")
        graph = _model(model, shapes).graph
        columns = [("as imported", graph_stats(graph))] if stats and not as_json else []
        if chosen is not None:
            from mlc.passes import PassManager

            progress(f"running {chosen[0]}")
            PassManager(chosen[1]).run(graph)
    if not (stats or as_json):
        from mlc.text import print_graph

        click.echo(print_graph(graph).rstrip("\n"))
        return
    if as_json:
        _echo_json(graph_stats(graph))
        return
    if chosen is not None:
        columns.append((chosen[0], graph_stats(graph)))
    _stdout_console().print(render_table(columns, title=f"@{graph.name}"))


# -- mlc opt -----------------------------------------------------------------------------------

@cli.command()
@click.argument("model")
@_pipeline_options
@click.option("-o", "--output", default=None, metavar="OUT.mlc|OUT.onnx",
              help="Write the optimised graph (textual IR or ONNX); without it, print the IR.")
@click.option("--print-ir-after-all", is_flag=True,
              help="Print the IR after every pass (on stderr).")
@click.option("--dump-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Write DIR/000-input.mlc, DIR/001-<pass>.mlc, ... after every pass.")
@click.option("--check-numerics", is_flag=True,
              help="Run the interpreter after every pass and fail at the first pass that moves "
                   "the outputs beyond --rtol/--atol, naming the first node that differs.")
@click.option("--rtol", type=click.FloatRange(min=0), default=1e-4, show_default=True,
              help="Relative tolerance of --check-numerics.")
@click.option("--atol", type=click.FloatRange(min=0), default=1e-5, show_default=True,
              help="Absolute tolerance of --check-numerics.")
@click.option("--time-passes", is_flag=True, help="Print the seconds each pass took (on stderr).")
@_shape_option
@_input_options
def opt(model: str, pipeline: str | None, level: str | None, plugins: Sequence[str],
        output: str | None, print_ir_after_all: bool, dump_dir: str | None, check_numerics: bool,
        rtol: float, atol: float, time_passes: bool, shapes: Sequence[str], inputs: Sequence[str],
        seed: int) -> None:
    """Run a pass pipeline on MODEL and write (or print) the optimised graph.

    \b
    mlc opt model.onnx -O2 -o model.opt.mlc
    mlc opt model.onnx -p 'simplify,dce' --print-ir-after-all
    mlc opt model.onnx -p my-pass --load-pass my_pass.py --check-numerics

    Nothing is written when a pass fails verification or --check-numerics (exit status 1).
    """
    from mlc.passes import PassManager
    from mlc.passes.instruments import CheckNumerics, DumpIR, PrintAfterAll, Timing

    if output is not None:
        _check_output(output)
    _load_plugins(plugins)
    label, passes = _pipeline(pipeline, level, required=True)
    given = parse_input_specs(inputs)
    timing = Timing()
    instruments: list = [timing] if time_passes else []
    if print_ir_after_all:
        instruments.append(PrintAfterAll())  # stderr: stdout stays the result
    if dump_dir:
        instruments.append(DumpIR(dump_dir))
    numerics = CheckNumerics(given, rtol=rtol, atol=atol, seed=seed) if check_numerics else None
    if numerics is not None:
        instruments.append(numerics)  # last: the IR of a failing pass is still printed and dumped
    with _Progress() as progress:
        progress(f"loading {model}")
        graph = _model(model, shapes).graph
        before = len(graph.nodes)
        progress(f"running {label}")
        try:
            PassManager(passes, instruments=instruments).run(graph)
        finally:
            if time_passes:
                _stderr_console().print(_timing_table(timing, label))
        if output is not None:
            progress(f"writing {output}")
            written = save_atomically(graph, output)
    if numerics is not None:
        click.echo(f"check-numerics: the outputs stayed within rtol {rtol:g}, atol {atol:g} "
                   f"through all {numerics.checked} pass(es)", err=True)
    if output is None:
        from mlc.text import print_graph

        click.echo(print_graph(graph).rstrip("\n"))
    else:
        click.echo(f"wrote {', '.join(written)} ({before} -> {len(graph.nodes)} nodes, {label})")


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True, width=None if sys.stderr.isatty() else 120)


def _timing_table(timing, label: str):
    total = timing.total
    table = _table(("#", "pass", "changed", "seconds", "%"), left=("pass", "changed"),
                   title=f"pass timing, {label}", caption="seconds include verify-each")
    for row in timing.report():
        share = 100.0 * row.seconds / total if total > 0 else 0.0
        table.add_row(str(row.index), row.spec, "yes" if row.changed else "no",
                      f"{row.seconds:.4f}", f"{share:.1f}")
    table.add_row("", "total", "", f"{total:.4f}", "100.0" if timing.rows else "")
    return table


# -- mlc passes --------------------------------------------------------------------------------

@cli.command("passes")
@click.option("--load-pass", "plugins", multiple=True, metavar="PLUGIN.py",
              help="Also list the passes a plugin file registers (repeatable).")
@_json_option
def passes_cmd(plugins: Sequence[str], as_json: bool) -> None:
    """List the registered passes (name{options=defaults}, summary) and the -O levels."""
    from mlc.passes import PIPELINES, all_passes

    _load_plugins(plugins)
    rows = [(name, _option_defaults(cls), cls.summary()) for name, cls in all_passes().items()]
    if as_json:
        _echo_json({"passes": [{"name": n, "options": o, "summary": s} for n, o, s in rows],
                    "levels": {f"-{k}": v for k, v in PIPELINES.items()}})
        return
    heads = [name + ("{" + ",".join(f"{k}={v}" for k, v in opts.items()) + "}" if opts else "")
             for name, opts, _ in rows]
    width = max((len(h) for h in heads), default=0)
    for head, (_, _, summary) in zip(heads, rows):
        click.echo(f"{head:<{width}}  {summary}".rstrip())
    click.echo("")
    for key, text in PIPELINES.items():
        click.echo(f"-{key}  {text or '(no passes)'}")


def _option_defaults(cls) -> dict[str, str]:
    """A pass's options in CLI spelling with their defaults as a pipeline would write them."""
    import dataclasses

    from mlc.passes.base import format_option, option_name

    options = {}
    for field in cls.options():
        if field.default is not dataclasses.MISSING:
            default = format_option(field.default)
        elif field.default_factory is not dataclasses.MISSING:
            default = format_option(field.default_factory())
        else:
            default = "?"
        options[option_name(field.name)] = default
    return options


def _arena_alignments() -> dict[str, int]:
    """Arena alignment per machine: the C ABI's (a cache line) on x86, the widest load of each
    Cortex-M core (its table's ``arena_alignment``)."""
    from mlc.backends.toolchain.abi import ARENA_ALIGN
    from mlc.backends.toolchain.cortex_m import CORES

    return {"x86": ARENA_ALIGN, **{cpu: core.arena_alignment for cpu, core in CORES.items()}}


# -- mlc plan ----------------------------------------------------------------------------------

@cli.command()
@click.argument("model")
@_shape_option
@_pipeline_options
@click.option("--strategy", default="best", show_default=True, metavar="NAME",
              help="naive, greedy-size, greedy-breadth, exact, or best (the smallest arena).")
@click.option("--alignment", type=click.IntRange(min=1), default=None, metavar="BYTES",
              help="Align every offset to BYTES (default: the target's, 64 for x86).")
@click.option("--target", "target", default=None, metavar="TARGET",
              help=f"Take the alignment from a target: {', '.join(_arena_alignments())}.")
@click.option("--include-io", is_flag=True,
              help="Plan the graph's inputs and outputs into the arena too.")
@click.option("--reorder", is_flag=True,
              help="Try reordering independent nodes; kept only when it lowers the peak.")
@click.option("--no-inplace", "no_inplace", is_flag=True,
              help="Never let an elementwise op write over an input that dies there.")
@click.option("--plot", default=None, metavar="PLAN.png",
              help="Draw the plan: a rectangle per tensor (x = step, y = offset).")
@_json_option
def plan(model: str, shapes: Sequence[str], pipeline: str | None, level: str | None,
         plugins: Sequence[str], strategy: str, alignment: int | None, target: str | None,
         include_io: bool, reorder: bool, no_inplace: bool, plot: str | None,
         as_json: bool) -> None:
    """Plan every intermediate tensor of MODEL into one arena and report its size.

    \b
    mlc plan model.onnx -O2
    mlc plan model.onnx -O2 --target cortex-m4 --json
    mlc plan model.onnx -O2 --strategy greedy-size --plot plan.png

    The table lists each strategy's arena beside the lower bound (the most bytes alive at any
    one step) and the naive sum (no reuse); --json prints the plan itself.
    """
    from mlc.memory import STRATEGIES, plan_memory

    known = [*STRATEGIES, "best"] if "best" not in STRATEGIES else list(STRATEGIES)
    if strategy not in known:
        raise MlcError(f"unknown strategy {strategy!r}", hint=f"choose one of {', '.join(known)}")
    align = _plan_alignment(alignment, target, _arena_alignments())
    if plot is not None:
        from mlc.memory.plot import check_png_path

        check_png_path(plot)
    _load_plugins(plugins)
    chosen = _pipeline(pipeline, level, required=False)
    with _Progress() as progress:
        progress(f"loading {model}")
        graph = _model(model, shapes).graph
        if chosen is not None:
            from mlc.passes import PassManager

            progress(f"running {chosen[0]}")
            PassManager(chosen[1]).run(graph)
        progress(f"planning ({strategy})")
        result = plan_memory(graph, strategy=strategy, alignment=align, include_io=include_io,
                             inplace=not no_inplace, reorder=reorder)
        if plot is not None:
            from mlc.memory.plot import plot_plan

            progress(f"drawing {plot}")
            label = f" {chosen[0]}" if chosen else ""
            plot_plan(result, plot, title=f"{os.path.basename(model)}{label}: memory plan")
    if as_json:
        _echo_json(result.to_json())
    else:
        console = _stdout_console()
        console.print(_plan_table(result, os.path.basename(model), chosen))
        console.print(f"{len(result.tensors)} tensors over {len(result.order)} steps, alignment "
                      f"{result.alignment} B, graph inputs/outputs "
                      f"{'in' if result.include_io else 'outside'} the arena; the plan kept is "
                      f"{result.strategy}", highlight=False)
    if plot is not None:
        click.echo(f"wrote {plot}", err=as_json)


def _plan_alignment(alignment: int | None, target: str | None, table: dict[str, int]) -> int:
    if alignment is not None and target is not None:
        raise click.UsageError("give either --alignment BYTES or --target TARGET, not both")
    if target is not None:
        if target not in table:
            raise MlcError(f"unknown target {target!r} for memory planning",
                           hint=f"choose one of {', '.join(table)}")
        return table[target]
    if alignment is not None and alignment & (alignment - 1):
        raise MlcError(f"alignment {alignment} is not a power of two", hint="e.g. 8, 16 or 64")
    return alignment if alignment is not None else table["x86"]


def _plan_table(result, model: str, chosen):
    lower = result.lower_bound
    best = result.best()
    table = _table(("", "bytes", "KiB", "× lower bound"), left=("",), title_justify="left",
                   title=f"{model}{' ' + chosen[0] if chosen else ''}: arena per strategy")

    def row(name: str, nbytes: int, style: str = "") -> None:
        ratio = f"{nbytes / lower:.3f}" if lower else "—"
        table.add_row(name, f"{nbytes:,}", f"{nbytes / 1024:.1f}", ratio, style=style)

    for name, nbytes in result.strategies.items():
        row(name + (" (best)" if name == best else ""), nbytes, "bold" if name == best else "")
    table.add_section()
    row("naive sum", result.naive_sum)
    row("lower bound", lower)
    return table


# -- mlc run -----------------------------------------------------------------------------------

@cli.command()
@click.argument("model")
@click.option("--target", default="ref", show_default=True,
              help="Where to run: ref (numpy interpreter), ort (onnxruntime), or any registered "
                   "target.")
@_shape_option
@_input_options
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--output-dir", type=click.Path(file_okay=False), default=None,
              help="Save each output as DIR/<name>.npy.")
@_json_option
def run(model: str, target: str, shapes: Sequence[str], inputs: Sequence[str], seed: int,
        threads: int, output_dir: str | None, as_json: bool) -> None:
    """Run MODEL once on TARGET and print (or save) its outputs. MODEL may also be an artifact
    directory written by `mlc compile`, which then runs as compiled."""
    from mlc.cli_compile import artifact_feeds, is_artifact
    from mlc.runtime import get_target, load

    with _Progress() as progress:
        progress(f"loading {model}")
        if is_artifact(model):
            runner = load(model, threads=threads)
            target = runner.manifest.target
            feeds = artifact_feeds(runner, inputs, seed)
            names = runner.output_names
        else:
            runner_target = get_target(target)
            m = _model(model, shapes)
            feeds = make_feeds(m.graph, parse_input_specs(inputs), seed)
            names = [v.name for v in m.graph.outputs]
            progress(f"{target}: preparing")
            runner = runner_target.prepare(m, threads)
        progress(f"{target}: running")
        results = runner.run(feeds)
    files = _save_outputs(output_dir, names, results) if output_dir else [None] * len(results)
    if as_json:
        _echo_json({"model": model, "target": target, "outputs": [
            _output_json(name, array, file) for name, array, file in zip(names, results, files)]})
    elif output_dir:
        for file in files:
            click.echo(f"wrote {file}")
    else:
        _print_outputs(names, results)


def _safe_file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name).lstrip(".") or "output"


def _save_outputs(folder: str, names: list[str], arrays: list[np.ndarray]) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    files = []
    for index, (name, array) in enumerate(zip(names, arrays)):
        file = os.path.join(folder, _safe_file_name(name) + ".npy")
        if file in files:  # two names sanitised alike: keep both
            file = os.path.join(folder, f"{_safe_file_name(name)}_{index}.npy")
        np.save(file, array)
        files.append(file)
    return files


def _output_json(name: str, array: np.ndarray, file: str | None) -> dict:
    flat = np.asarray(array).reshape(-1)
    numeric = flat.astype(np.float64) if flat.size else flat
    return {
        "name": name,
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "head": [_json_scalar(x) for x in flat[:HEAD]],
        **{stat: _json_scalar(float(getattr(numeric, stat)())) if flat.size else None
           for stat in ("min", "max", "mean")},
        "file": file,
    }


def _print_outputs(names: list[str], arrays: list[np.ndarray]) -> None:
    table = _table(("output", "shape", "dtype", "values"))
    for name, array in zip(names, arrays):
        flat = np.asarray(array).reshape(-1)
        values = np.array2string(flat[:HEAD], precision=5, separator=", ")
        if flat.size > HEAD:
            values = values[:-1] + ", …]"
        table.add_row(name, str(list(array.shape)), str(array.dtype), values)
    _stdout_console().print(table)


# -- mlc compare -------------------------------------------------------------------------------

@cli.command()
@click.argument("model")
@click.option("--targets", "target_list", default="ref,ort", show_default=True,
              help="Comma-separated targets to compare with onnxruntime.")
@_shape_option
@_input_options
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Threads for every target and for onnxruntime.")
@click.option("--repeat", type=click.IntRange(min=1), default=20, show_default=True,
              help="Timed runs per target.")
@click.option("--warmup", type=click.IntRange(min=0), default=3, show_default=True,
              help="Untimed runs before timing.")
@click.option("--rtol", type=click.FloatRange(min=0), default=1e-4, show_default=True)
@click.option("--atol", type=click.FloatRange(min=0), default=1e-5, show_default=True)
@_json_option
@click.pass_context
def compare(ctx: click.Context, model: str, target_list: str, shapes: Sequence[str],
            inputs: Sequence[str], seed: int, threads: int, repeat: int, warmup: int, rtol: float,
            atol: float, as_json: bool) -> None:
    """Run MODEL on each target and compare outputs and latency with onnxruntime.

    Exits with status 1 when any target's outputs are not within tolerance or it failed.
    """
    from mlc.runtime import compare as run_compare
    from mlc.runtime.targets import parse_target_list

    targets = parse_target_list(target_list)
    given = parse_input_specs(inputs)
    with _Progress() as progress:
        progress(f"loading {model}")
        m = _model(model, shapes)
        feeds = make_feeds(m.graph, given, seed)
        report = run_compare(m, targets, feeds, threads=threads, repeat=repeat, warmup=warmup,
                             rtol=rtol, atol=atol, progress=progress)
    for result in report.results:
        if result.traceback:  # an mlc bug inside one target: keep its traceback visible
            click.echo(f"{result.target}: {result.traceback}", err=True)
    if as_json:
        _echo_json(report.to_json())
    else:
        _stdout_console().print(_compare_table(report, rtol, atol))
    if not report.ok:
        ctx.exit(1)


def _compare_table(report, rtol: float, atol: float):
    from rich.table import Table

    table = Table(title=f"{os.path.basename(report.model)} — {report.threads} thread(s), "
                        f"rtol {rtol:g}, atol {atol:g}")
    emulated = any(r.timing != "host" for r in report.results)
    columns = ["target", "ok", "max abs err", "max rel err", "median ms", "p90 ms", "× ort",
               "compile s", "error"]
    if emulated:  # say whose clock the times are: an emulator's are not the device's speed
        columns.insert(6, "clock")
    for column in columns:
        table.add_column(column, justify="left" if column in ("target", "error", "clock")
                         else "right", no_wrap=column != "error")

    def num(x: float, fmt: str) -> str:
        return "—" if x < 0 else "0" if x == 0 else format(x, fmt)

    for r in report.results:
        cells = [r.target, "[green]yes[/]" if r.ok else "[red]NO[/]", num(r.max_abs_err, ".1e"),
                 num(r.max_rel_err, ".1e"), num(r.median_ms, ".3f"), num(r.p90_ms, ".3f"),
                 num(r.ratio_to_ort, ".2f"), num(r.compile_s, ".2f"), r.error or ""]
        if emulated:
            cells.insert(6, r.timing)
        table.add_row(*cells)
    return table


# -- mlc ops -----------------------------------------------------------------------------------

@cli.command()
@_json_option
def ops(as_json: bool) -> None:
    """List the registered core ops: inputs, fusion kind and the ONNX ops that map onto them."""
    from mlc.ops import all_ops

    rows = [{"name": d.name, "inputs": list(d.inputs), "fusion": d.fusion.value,
             "onnx": list(d.onnx)} for d in all_ops().values()]
    if as_json:
        _echo_json(rows)
        return
    table = _table(("op", "inputs", "fusion", "ONNX"), title=f"{len(rows)} core ops")
    for row in rows:
        table.add_row(row["name"], ", ".join(row["inputs"]), row["fusion"], ", ".join(row["onnx"]))
    _stdout_console().print(table)


from mlc import cli_compile  # noqa: E402,F401  (registers compile and bench)
from mlc import cli_fuzz  # noqa: E402,F401  (registers fuzz)

if __name__ == "__main__":
    main()
