"""Safe loading: unreadable files and hostile external-data references are refused with one clear
ModelLoadError, and nothing outside the model's folder is ever opened."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlc import interp
from mlc.errors import ModelLoadError
from mlc.frontend import import_model, load_onnx
from tests.frontend.onnx_models import make_model, value_info

WEIGHT = np.arange(12, dtype=np.float32).reshape(3, 4) / 7


def small_model(weight: TensorProto | None = None) -> onnx.ModelProto:
    """y = x + w, with w an initializer (external when ``weight`` is given)."""
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"])],
                       [value_info("x", np.float32, (3, 4))], ["y"], {"w": WEIGHT})
    if weight is not None:
        model.graph.initializer[0].CopyFrom(weight)
    return model


def external_weight(location: str, offset: int | None = None,
                    length: int | None = None) -> TensorProto:
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[3, 4])
    tensor.data_location = TensorProto.EXTERNAL
    entries = {"location": location}
    if offset is not None:
        entries["offset"] = str(offset)
    if length is not None:
        entries["length"] = str(length)
    for key, value in entries.items():
        tensor.external_data.add(key=key, value=value)
    return tensor


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """models/ holds the model and its data; outside/ holds a sentinel that must never be read."""
    models = tmp_path / "models"
    outside = tmp_path / "outside"
    models.mkdir()
    outside.mkdir()
    (models / "weights.bin").write_bytes(WEIGHT.tobytes())
    (outside / "secret.bin").write_bytes(WEIGHT.tobytes())
    return {"models": models, "outside": outside, "secret": outside / "secret.bin"}


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every path the process opens, to prove the sentinel is never read."""
    paths: list[str] = []
    real_open = os.open

    def spy(path, *args, **kwargs):
        paths.append(os.path.realpath(os.fspath(path)))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    return paths


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


# -- broken files -----------------------------------------------------------------------------
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="file not found"):
        load_onnx(tmp_path / "nope.onnx")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="directory"):
        load_onnx(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ModelLoadError, match="empty") as err:
        load_onnx(path)
    assert str(path) in err.value.one_line() and "\n" not in err.value.one_line()


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "random.onnx"
    path.write_bytes(np.random.default_rng(seed).bytes(2000))
    with pytest.raises(ModelLoadError) as err:
        load_onnx(path)
    assert str(path) in err.value.message


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_text("graph @main() { }\n")
    with pytest.raises(ModelLoadError):
        load_onnx(path)


@pytest.mark.parametrize("fraction", [0.2, 0.5, 0.9, 0.99])
def test_truncated_file(tmp_path: Path, fraction: float) -> None:
    data = small_model().SerializeToString()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(ModelLoadError):
        load_onnx(path)


def test_empty_graph(tmp_path: Path) -> None:
    model = make_model([], [value_info("x", np.float32, (2,))], ["x"])
    with pytest.raises(ModelLoadError, match="empty"):
        load_onnx(save(model, tmp_path / "m.onnx"))


def test_absurd_declared_size(tmp_path: Path) -> None:
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2**20, 2**20, 4])
    with pytest.raises(ModelLoadError, match="elements"):
        load_onnx(save(small_model(huge), tmp_path / "m.onnx"))


def test_raw_data_shorter_than_dims(tmp_path: Path) -> None:
    bad = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[3, 4], raw_data=b"\0" * 8)
    with pytest.raises(ModelLoadError, match="m.onnx: initializer 'w'"):
        load_onnx(save(small_model(bad), tmp_path / "m.onnx"))


def test_constant_of_shape_too_large(tmp_path: Path) -> None:
    model = make_model([helper.make_node("ConstantOfShape", ["s"], ["y"])], [], ["y"],
                       {"s": np.array([2**16, 2**16, 2**4], np.int64)}, opset=13)
    with pytest.raises(ModelLoadError, match="larger than"):
        load_onnx(save(model, tmp_path / "m.onnx"))


# -- external data ----------------------------------------------------------------------------
def run_small(graph) -> np.ndarray:
    x = np.ones((3, 4), np.float32)
    return interp.run(graph, {"x": x})["y"]


def test_external_data_loads(layout, opened) -> None:
    path = save(small_model(external_weight("weights.bin")), layout["models"] / "m.onnx")
    np.testing.assert_array_equal(run_small(load_onnx(path)), WEIGHT + 1)
    assert str(layout["secret"].resolve()) not in opened


def test_external_data_in_subfolder_with_offset(layout) -> None:
    sub = layout["models"] / "data"
    sub.mkdir()
    (sub / "all.bin").write_bytes(b"\x01" * 16 + WEIGHT.tobytes() + b"\x02" * 8)
    path = save(small_model(external_weight("data/all.bin", 16, 48)), layout["models"] / "m.onnx")
    np.testing.assert_array_equal(run_small(load_onnx(path)), WEIGHT + 1)


def test_caller_model_is_not_modified(layout) -> None:
    model = small_model(external_weight("weights.bin"))
    before = model.SerializeToString()
    import_model(model, base_dir=str(layout["models"]))
    assert model.SerializeToString() == before


def test_external_data_without_base_dir() -> None:
    with pytest.raises(ModelLoadError, match="folder is unknown"):
        import_model(small_model(external_weight("weights.bin")))


def _refused(layout, opened, location: str, match: str, **kw) -> None:
    path = save(small_model(external_weight(location, **kw)), layout["models"] / "m.onnx")
    with pytest.raises(ModelLoadError, match=match) as err:
        load_onnx(path)
    assert "\n" not in err.value.one_line()
    assert str(layout["secret"].resolve()) not in opened


def test_parent_reference_refused(layout, opened) -> None:
    _refused(layout, opened, "../outside/secret.bin", "'..'")


def test_parent_reference_in_the_middle_refused(layout, opened) -> None:
    _refused(layout, opened, "data/../../outside/secret.bin", "'..'")


def test_absolute_path_refused(layout, opened) -> None:
    _refused(layout, opened, str(layout["secret"]), "absolute")


def test_symlink_pointing_outside_refused(layout, opened) -> None:
    (layout["models"] / "link.bin").symlink_to(layout["secret"])
    _refused(layout, opened, "link.bin", "symbolic link")


def test_symlink_pointing_inside_refused(layout, opened) -> None:
    (layout["models"] / "link.bin").symlink_to(layout["models"] / "weights.bin")
    _refused(layout, opened, "link.bin", "symbolic link")


def test_symlinked_folder_refused(layout, opened) -> None:
    (layout["models"] / "data").symlink_to(layout["outside"], target_is_directory=True)
    _refused(layout, opened, "data/secret.bin", "symbolic link")


def test_missing_external_file(layout, opened) -> None:
    _refused(layout, opened, "nope.bin", "does not exist")


def test_offset_past_end_refused(layout, opened) -> None:
    _refused(layout, opened, "weights.bin", "past the end", offset=1000)


def test_length_past_end_refused(layout, opened) -> None:
    _refused(layout, opened, "weights.bin", "past the end", offset=8, length=48)


def test_length_disagreeing_with_dims_refused(layout, opened) -> None:
    _refused(layout, opened, "weights.bin", "need 48", offset=0, length=40)


def test_external_folder_refused(layout, opened) -> None:
    (layout["models"] / "data").mkdir()
    _refused(layout, opened, "data", "not a regular file")


def test_no_external_file_is_read_when_any_reference_is_unsafe(layout, opened) -> None:
    """The safe tensor comes first, the escaping one second: nothing external is opened at all."""
    model = small_model(external_weight("weights.bin"))
    bad = external_weight("../outside/secret.bin")
    bad.name = "w2"
    model.graph.initializer.append(bad)
    path = save(model, layout["models"] / "m.onnx")
    with pytest.raises(ModelLoadError, match="'..'"):
        load_onnx(path)
    assert not [p for p in opened if p.endswith(".bin")]
