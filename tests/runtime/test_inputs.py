"""--shape / --input parsing and seeded random feeds."""

from __future__ import annotations

import numpy as np
import pytest

from mlc.errors import MlcError
from mlc.inputs import (DEFAULT_INT_HIGH, InputError, make_feeds, parse_input_specs,
                        parse_shapes)
from mlc.ir import GraphBuilder


def test_parse_shapes():
    assert parse_shapes(["x=1,3,224,224", "ids=2x16", "s="]) == {
        "x": (1, 3, 224, 224), "ids": (2, 16), "s": ()}


@pytest.mark.parametrize("spec", ["x", "=1,2", "x=1,,2", "x=1,-2", "x=a,b", "x=0", "x=1.5"])
def test_malformed_shapes(spec):
    with pytest.raises(MlcError, match="--shape"):
        parse_shapes([spec])


def test_shape_given_twice():
    with pytest.raises(MlcError, match="twice"):
        parse_shapes(["x=1", "x=2"])


def test_parse_inputs(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.save(tmp_path / "a.npy", a)
    np.savez(tmp_path / "all.npz", b=a * 2, c=a * 3)
    feeds = parse_input_specs([f"a={tmp_path / 'a.npy'}", str(tmp_path / "all.npz")])
    assert set(feeds) == {"a", "b", "c"}
    np.testing.assert_array_equal(feeds["a"], a)
    np.testing.assert_array_equal(feeds["c"], a * 3)


def test_bad_input_files(tmp_path):
    (tmp_path / "text.npy").write_text("not numpy")
    for spec, problem in [(f"a={tmp_path / 'missing.npy'}", "not found"),
                          (f"a={tmp_path / 'text.npy'}", "cannot read"),
                          ("just-a-name", "malformed")]:
        with pytest.raises(InputError, match=problem):
            parse_input_specs([spec])


def _two_input_graph():
    g = GraphBuilder("g")
    x = g.input("x", (3, 5), "f32")
    m = g.input("m", (3, 5), "bool")
    g.outputs(g.relu(x), g.op("not", m))
    return g.graph


def test_random_feeds_are_seeded_and_typed():
    graph = _two_input_graph()
    first, again, other = make_feeds(graph, seed=7), make_feeds(graph, seed=7), make_feeds(graph, seed=8)
    assert first["x"].dtype == np.float32 and first["x"].shape == (3, 5)
    assert first["m"].dtype == np.bool_ and first["m"].shape == (3, 5)
    np.testing.assert_array_equal(first["x"], again["x"])
    assert not np.array_equal(first["x"], other["x"])


def test_given_inputs_are_checked_and_do_not_shift_the_others():
    graph = _two_input_graph()
    x = np.ones((3, 5), np.float64)  # float64 is cast to the input's f32
    feeds = make_feeds(graph, {"x": x}, seed=3)
    assert feeds["x"].dtype == np.float32 and np.all(feeds["x"] == 1)
    np.testing.assert_array_equal(feeds["m"], make_feeds(graph, seed=3)["m"])
    with pytest.raises(InputError, match=r"shape \[5, 3\].*\[3, 5\]"):
        make_feeds(graph, {"x": np.ones((5, 3), np.float32)})
    with pytest.raises(InputError) as info:
        make_feeds(graph, {"y": x})
    assert "no input named y" in info.value.one_line() and "x, m" in info.value.one_line()
    with pytest.raises(InputError, match="dtype"):
        make_feeds(graph, {"m": np.ones((3, 5), np.float32)})


def test_int_inputs_stay_small_and_non_negative():
    g = GraphBuilder("ints")
    i = g.input("i", (1000,), "i64")
    g.outputs(g.op("cast", i, to="f32"))
    values = make_feeds(g.graph)["i"]
    assert values.dtype == np.int64
    assert values.min() >= 0 and values.max() < DEFAULT_INT_HIGH


def test_token_ids_index_inside_the_embedding_table():
    g = GraphBuilder("embed")
    ids = g.input("ids", (4000,), "i64")
    table = g.const(np.zeros((7, 2), np.float32), name="table")
    g.outputs(g.gather(table, ids, axis=0))
    values = make_feeds(g.graph)["ids"]
    assert values.min() >= 0 and values.max() == 6  # 4000 draws reach the last row


def test_unresolved_dims_name_the_input():
    g = GraphBuilder("sym")
    x = g.input("x", ("batch", 3))
    g.graph.outputs = [x]
    with pytest.raises(MlcError) as info:
        make_feeds(g.graph)
    assert "x" in info.value.message and "batch" in info.value.message
    assert "--shape x=" in info.value.one_line()
