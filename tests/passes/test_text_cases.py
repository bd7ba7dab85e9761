"""Before/after text tests for every pass, in the style of LLVM's FileCheck / xDSL's filecheck.

Each file in tests/passes/cases/ holds cases separated by a line ``# ====``. A case is::

    # pipeline: simplify,dce
    <input IR>
    # expect:
    <expected IR>

The input is parsed, the pipeline runs, and the printed result must equal the expected IR
(printed the same way, so spacing in the file does not matter). The pass must also keep the
graph's numerics: the interpreter gives the same outputs before and after on seeded inputs.
``# numerics: off`` skips that check for a case (say why in a comment line after it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from mlc.inputs import make_feeds
from mlc.interp import run
from mlc.passes import parse_pipeline, PassManager
from mlc.text import parse_text, print_graph

CASES_DIR = Path(__file__).with_name("cases")


@dataclass
class TextCase:
    file: str
    index: int
    pipeline: str
    source: str
    expected: str
    numerics: bool

    @property
    def id(self) -> str:
        return f"{self.file}#{self.index}"


def read_cases(path: Path) -> list[TextCase]:
    cases = []
    for index, chunk in enumerate(path.read_text().split("\n# ====")):
        header, _, rest = chunk.strip().partition("\n")
        if not header.startswith("# pipeline:"):
            raise ValueError(f"{path.name} case {index}: first line must be '# pipeline: ...'")
        pipeline = header.split(":", 1)[1].strip()
        numerics = True
        body_lines = []
        for line in rest.splitlines():
            if line.strip() == "# numerics: off":
                numerics = False
            elif line.startswith("# ") and not line.startswith("# expect:"):
                continue  # a comment explaining the case
            else:
                body_lines.append(line)
        body = "\n".join(body_lines)
        source, marker, expected = body.partition("# expect:")
        if not marker:
            raise ValueError(f"{path.name} case {index}: missing '# expect:'")
        cases.append(TextCase(path.name, index, pipeline, source.strip() + "\n",
                              expected.strip() + "\n", numerics))
    return cases


ALL_CASES = [case for path in sorted(CASES_DIR.glob("*.txt")) for case in read_cases(path)]


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_pass_text_case(case: TextCase):
    graph = parse_text(case.source, source=case.id)
    before = None
    if case.numerics:
        feeds = make_feeds(graph)
        before = run(graph, feeds, as_list=True)
    PassManager(parse_pipeline(case.pipeline)).run(graph)
    expected = print_graph(parse_text(case.expected, source=case.id + " (expected)"))
    assert print_graph(graph) == expected
    if before is not None:
        after = run(graph, feeds, as_list=True)
        for a, b in zip(after, before):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_every_registered_pass_has_text_cases():
    from mlc.passes import all_passes

    covered = {p.name for case in ALL_CASES for p in parse_pipeline(case.pipeline)}
    built_in = {name for name, cls in all_passes().items() if cls.__module__.startswith("mlc.passes.")}
    missing = sorted(built_in - covered)
    assert not missing, f"passes without before/after text tests in tests/passes/cases: {missing}"
