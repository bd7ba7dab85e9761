"""Files: the .mlc text, its .npz sidecar for large constants, and their failure modes."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import mlc
from mlc.errors import MlcError, ModelLoadError, ParseError
from mlc.ir import GraphBuilder
from mlc.text import load_text, print_graph, save_text, sidecar_path


def _model(const_name: str = "fc.w"):
    b = GraphBuilder("m")
    x = b.input("x", (1, 8))
    w = b.const(np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32), name=const_name)
    b.outputs(b.relu(b.matmul(x, w)))
    return b.graph


def test_large_constants_go_to_the_sidecar_and_come_back_bit_exact(tmp_path):
    graph = _model()
    path = tmp_path / "m.mlc"
    save_text(graph, path)
    assert "@fc.w: f32[8,4] = external\n" in path.read_text()
    assert sidecar_path(path) == tmp_path / "m.npz"
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        assert list(npz.keys()) == ["fc.w"]
    loaded = load_text(path)
    assert print_graph(loaded) == print_graph(graph)
    w = loaded.constants["fc.w"].const
    assert w.tobytes() == graph.constants["fc.w"].const.tobytes()
    assert not w.flags.writeable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.mlc", "m.npz"]  # no temp files left


def test_a_graph_without_large_constants_writes_no_sidecar(tmp_path):
    b = GraphBuilder("m")
    b.outputs(b.relu(b.input("x", (2,))))
    save_text(b.graph, tmp_path / "m.mlc")
    assert [p.name for p in tmp_path.iterdir()] == ["m.mlc"]
    assert print_graph(load_text(tmp_path / "m.mlc")) == print_graph(b.graph)


@pytest.mark.parametrize("name", ["file", "allow_pickle", "a/b", "日本 語", "x.npy", '"', "\x00",
                                  "a\x00b", "\ud800"])
def test_any_constant_name_is_a_valid_sidecar_key(tmp_path, name):
    """Names may be any string; the key spells what a zip member name cannot hold (NUL ends it,
    a lone surrogate has no UTF-8) as an escape, and the text names that key."""
    graph = _model(name)
    save_text(graph, tmp_path / "m.mlc")
    loaded = load_text(tmp_path / "m.mlc")
    np.testing.assert_array_equal(loaded.constants[name].const, graph.constants[name].const)
    assert print_graph(loaded) == print_graph(graph)


def test_escaped_sidecar_keys_stay_unique(tmp_path):
    """"\x00" is keyed "\\u0000", which is also the name of the next constant: the second gets
    the key "\\u0000~2", and each name comes back with its own array."""
    rng = np.random.default_rng(1)
    b = GraphBuilder("m")
    x = b.input("x", (1, 8))
    names = ["\x00", "\\u0000"]
    weights = [b.const(rng.standard_normal((8, 8)).astype(np.float32), name=n) for n in names]
    b.outputs(b.matmul(b.matmul(x, weights[0]), weights[1]))
    save_text(b.graph, tmp_path / "m.mlc")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        assert sorted(npz.keys()) == ["\\u0000", "\\u0000~2"]
    loaded = load_text(tmp_path / "m.mlc")
    for name, weight in zip(names, weights):
        np.testing.assert_array_equal(loaded.constants[name].const, weight.const)


def test_mlc_load_and_save_use_the_text_format(tmp_path):
    graph = _model()
    mlc.save(graph, tmp_path / "m.mlc")
    assert print_graph(mlc.load(tmp_path / "m.mlc")) == print_graph(graph)


def test_other_suffixes_get_npz_appended(tmp_path):
    save_text(_model(), tmp_path / "m.txt")
    assert (tmp_path / "m.txt.npz").exists()
    assert load_text(tmp_path / "m.txt").constants["fc.w"].shape == (8, 4)


def test_a_missing_sidecar_is_a_parse_error_naming_it(tmp_path):
    save_text(_model(), tmp_path / "m.mlc")
    (tmp_path / "m.npz").unlink()
    with pytest.raises(ParseError) as info:
        load_text(tmp_path / "m.mlc")
    message = info.value.message
    assert f"{tmp_path / 'm.mlc'}: line 2, column 21: " in message
    assert f"the sidecar {tmp_path / 'm.npz'} does not exist" in message


def test_a_missing_sidecar_entry_is_a_parse_error(tmp_path):
    save_text(_model(), tmp_path / "m.mlc")
    np.savez(tmp_path / "m.npz", other=np.zeros(3))
    with pytest.raises(ParseError, match=r"line 2, column 21: constant @fc.w is stored externally "
                                         r"but the sidecar .*m.npz has no entry 'fc.w'"):
        load_text(tmp_path / "m.mlc")


def test_a_sidecar_entry_of_the_wrong_type_is_refused(tmp_path):
    save_text(_model(), tmp_path / "m.mlc")
    with zipfile.ZipFile(tmp_path / "m.npz", "w") as archive, archive.open("fc.w.npy", "w") as f:
        np.lib.format.write_array(f, np.zeros((8, 4), np.float64))
    with pytest.raises(ParseError, match=r"entry 'fc.w' of the sidecar .* is f64\[8,4\], "
                                         r"the text declares @fc.w: f32\[8,4\]"):
        load_text(tmp_path / "m.mlc")


def test_a_pickled_sidecar_entry_is_never_unpickled(tmp_path):
    save_text(_model(), tmp_path / "m.mlc")
    np.savez(tmp_path / "m.npz", **{"fc.w": np.array([{"evil": 1}], dtype=object)})
    with pytest.raises(ParseError, match="cannot read entry 'fc.w'"):
        load_text(tmp_path / "m.mlc")


def test_a_corrupt_sidecar_or_missing_file_is_a_clear_error(tmp_path):
    save_text(_model(), tmp_path / "m.mlc")
    (tmp_path / "m.npz").write_bytes(b"not a zip")
    with pytest.raises(MlcError, match="sidecar .*m.npz"):
        load_text(tmp_path / "m.mlc")
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_text(tmp_path / "absent.mlc")


def test_non_utf8_text_is_a_parse_error(tmp_path):
    (tmp_path / "m.mlc").write_bytes(b"graph @g\xff() -> () { return }")
    with pytest.raises(ParseError, match="not UTF-8"):
        load_text(tmp_path / "m.mlc")
