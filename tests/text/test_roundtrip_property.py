"""Property: for random valid graphs, print → parse → print is identical and outputs agree bit for bit."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlc.errors import MlcError, ParseError
from mlc.interp import run
from mlc.ir import verify
from mlc.text import external_constants, load_text, parse_text, print_graph, save_text
from tests.strategies import plain_names, random_feeds, random_graphs

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_same_outputs(expected: dict, actual: dict) -> None:
    assert list(expected) == list(actual)
    for name in expected:
        a, b = np.asarray(expected[name]), np.asarray(actual[name])
        assert a.dtype == b.dtype and a.shape == b.shape, name
        # bit-exact, with every NaN equal to every NaN (a kernel may not preserve payloads)
        same = (a == b) | (np.isnan(a) & np.isnan(b)) if a.dtype.kind == "f" else a == b
        assert np.all(same), f"output {name} differs after the round trip"


@SETTINGS
@given(random_graphs())
def test_print_parse_print_is_identical_and_computes_the_same(graph):
    text = print_graph(graph)
    assert text.isascii()
    parsed = parse_text(text, external_constants(graph))
    verify(parsed)
    assert print_graph(parsed) == text
    assert_computes_the_same(graph, parsed)


def _outcome(graph):
    feeds = random_feeds(graph, seed=1)
    with np.errstate(all="ignore"):
        try:
            return run(graph, feeds), None
        except MlcError as err:
            return None, f"{type(err).__name__}: {err}"


def assert_computes_the_same(graph, parsed) -> None:
    """Same outputs, or the same failure: a kernel that breaks on some input (a bug for the ops'
    own tests) must break identically on the parsed graph, whose nodes print the same."""
    expected, expected_error = _outcome(graph)
    actual, actual_error = _outcome(parsed)
    assert actual_error == expected_error
    if expected_error is None:
        assert_same_outputs(expected, actual)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(max_nodes=4))
def test_save_load_round_trip_through_the_sidecar(graph):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.mlc"
        save_text(graph, path)
        assert (Path(tmp) / "model.npz").exists() == bool(external_constants(graph))
        loaded = load_text(path)
    assert print_graph(loaded) == print_graph(graph)
    for name, value in graph.constants.items():
        np.testing.assert_array_equal(loaded.constants[name].const, value.const, strict=True)


@SETTINGS
@given(random_graphs(max_nodes=5))
def test_inlining_every_constant_round_trips_too(graph):
    text = print_graph(graph, inline_limit=None)
    assert "= external" not in text
    assert print_graph(parse_text(text), inline_limit=None) == text


@st.composite
def mangled_texts(draw):
    """Printed random graphs with a few characters deleted, replaced or inserted."""
    graph = draw(random_graphs(max_nodes=4))
    text = print_graph(graph, inline_limit=None)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 8)))
        insert = draw(st.sampled_from(["", "", "%", "@", "(", ")", "{", "}", ",", ":", "=", "_", "[",
                                       "]", '"', "\\", "-", "1", "x", "f32", "i8", "\n", "^b"]))
        text = text[:i] + insert + text[j:]
    return text


@SETTINGS
@given(mangled_texts())
def test_mangled_text_parses_or_raises_a_located_parse_error(text):
    try:
        graph = parse_text(text, source="fuzz.mlc")
    except ParseError as err:
        assert re.match(r"fuzz\.mlc: line \d+, column \d+: ", err.message), err.message
    else:
        verify(graph)
        assert print_graph(parse_text(print_graph(graph, inline_limit=None)), inline_limit=None) \
            == print_graph(graph, inline_limit=None)


@settings(max_examples=20, deadline=None)
@given(random_graphs(ops=["relu", "add", "split"], names=plain_names))
def test_the_strategy_can_be_narrowed_to_some_ops_and_plain_names(graph):
    assert {n.op for n in graph.nodes} <= {"relu", "add", "split"}
    text = print_graph(graph, inline_limit=None)
    assert '%"' not in text and '@"' not in text
