"""docs/custom_pass.md runs as written.

Each ```python block whose first line is ``# <file>.py`` is written to that file in a temporary
folder; each ```console block is a sequence of ``$ command`` lines, each followed by the output
the tutorial promises. The commands run in that folder through a shell with the installed ``mlc``
and ``python`` first on PATH, stdout and stderr merged as a terminal shows them, and the output
must match the tutorial's line for line (runs of spaces count as one, so column widths that depend on
what else is registered do not matter). A command whose promised output starts with ``error:``
must exit 1; every other one must exit 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import mlc
from tests.skips import skip_outside_ci

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "custom_pass.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)
BIN = Path(sys.executable).parent


@dataclass
class Command:
    line: str
    expected: list[str]


def blocks(kind: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(TUTORIAL.read_text()) if lang == kind]


def files() -> dict[str, str]:
    out = {}
    for body in blocks("python"):
        first = body.splitlines()[0]
        match = re.fullmatch(r"# (\w+\.py)", first.strip())
        if match:
            out[match.group(1)] = body
    return out


def commands() -> list[Command]:
    result: list[Command] = []
    for body in blocks("console"):
        for line in body.splitlines():
            if line.startswith("$ "):
                result.append(Command(line[2:], []))
            else:
                assert result, f"console block starts without a command: {body!r}"
                result[-1].expected.append(" ".join(line.split()))
    return result


def python_code_lines(source: str) -> int:
    """Lines of a file without its name comment, blank lines and comment-only lines."""
    return sum(1 for line in source.splitlines()[1:] if line.strip() and
               not line.strip().startswith("#"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tutorial")
    for name, source in files().items():
        (folder / name).write_text(source)
    return folder


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONUNBUFFERED="1", COLUMNS="200")
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)


def test_the_tutorial_has_its_parts():
    names = files()
    assert {"make_model.py", "my_pass.py", "my_rule.py", "wrong_pass.py"} <= set(names)
    # the promise of the tutorial: a pass and a rule in under 30 lines each
    assert python_code_lines(names["my_pass.py"]) < 30
    assert python_code_lines(names["my_rule.py"]) < 30
    assert "register_pass" in names["my_pass.py"]
    assert all(word in names["my_rule.py"] for word in ("def pattern", "def check", "def rewrite"))
    lines = [c.line for c in commands()]
    assert any("--load-pass my_pass.py" in c and "--print-ir-after-all" in c for c in lines)


def test_the_tutorial_commands_print_what_it_says(workdir):
    if not (BIN / "mlc").exists():
        skip_outside_ci(f"no mlc console script next to {sys.executable}; run pip install -e .")
    for command in commands():
        result = shell(command.line, workdir)
        got = [" ".join(line.split()) for line in result.stdout.splitlines()]
        assert got == command.expected, (
            f"$ {command.line}\n--- the tutorial says:\n" + "\n".join(command.expected)
            + "\n--- mlc printed:\n" + result.stdout)
        failing = bool(command.expected) and command.expected[0].startswith("error:")
        assert result.returncode == (1 if failing else 0), (command.line, result.stdout)


def test_the_passes_changed_the_ir_as_the_tutorial_says(workdir):
    if not (BIN / "mlc").exists():
        pytest.skip(f"no mlc console script next to {sys.executable}; run pip install -e .")
    if not (workdir / "model.onnx").exists():
        assert shell("python make_model.py", workdir).returncode == 0
    out = workdir / "final.mlc"
    result = shell("mlc opt model.onnx -p drop-double-relu,mul2-to-add --load-pass my_pass.py "
                   f"--load-pass my_rule.py --check-numerics -o {out.name}", workdir)
    assert result.returncode == 0, result.stdout
    before, after = mlc.load(workdir / "model.onnx"), mlc.load(out)
    assert [n.op for n in before.nodes] == ["relu", "relu", "mul"]
    assert [n.op for n in after.nodes] == ["relu", "add"]
    add = after.nodes[1]
    assert add.inputs[0] is add.inputs[1] is after.nodes[0].output  # x + x, x the one relu
    assert after.outputs[0].name == before.outputs[0].name == "y"
