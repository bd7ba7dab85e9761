"""Hostile model files, ``.mlc`` texts and sidecars (issue 14, items 3, 4, 7 and 8's import checks).

Every CLI case runs ``mlc`` in a subprocess with a timeout (a FIFO must fail, not hang) and under
an address-space limit (a bomb must fail, not take the machine), and expects what the project
promises for bad input: a non-zero exit, exactly one ``error:`` line on stderr and no traceback,
and no file written next to the input.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlc.errors import MlcError, ModelLoadError, ParseError
from tests.skips import need_target

MLC = Path(sys.executable).with_name("mlc")
#: Address space for one CLI run: room for Python, numpy and onnx, not for a gigabyte bomb.
ADDRESS_SPACE = 3 << 30
TIMEOUT_S = 30

TEXT = """graph @t(%x: f32[2,4]) -> (f32[2,3]) {
  @w: f32[4,3] = external
  %h = matmul(%x, @w) : f32[2,3]
  return %h
}
"""


def run_mlc(*args: object, cwd: Path,
            address_space: int = ADDRESS_SPACE) -> subprocess.CompletedProcess:
    """``mlc ARGS`` in a subprocess, bounded in time and memory; a hang fails the test."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    try:
        return subprocess.run([str(MLC), *map(str, args)], cwd=cwd, capture_output=True,
                              text=True, timeout=TIMEOUT_S, preexec_fn=limit,
                              env=dict(os.environ, COLUMNS="200"))
    except subprocess.TimeoutExpired:
        pytest.fail(f"mlc {' '.join(map(str, args))} ran past {TIMEOUT_S} s")


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def refused(folder: Path, *args: object, needles: tuple[str, ...] = (),
            address_space: int = ADDRESS_SPACE) -> str:
    """Run ``mlc ARGS`` in ``folder``; assert one error line, no traceback, nothing written."""
    before = _listing(folder)
    result = run_mlc(*args, cwd=folder, address_space=address_space)
    assert result.returncode not in (0, None), result.stdout
    assert result.returncode > 0, f"killed by signal {-result.returncode}: {result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:  # "a|b": either
        assert any(n.lower() in lines[0].lower() for n in needle.split("|")), (needle, lines[0])
    assert _listing(folder) == before
    return lines[0]


def _mlp() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "mlp",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3])],
                              [numpy_helper.from_array(w, "w")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _text_model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "m.mlc").write_text(TEXT)
    return folder / "m.mlc"


# -- item 3: the .mlc sidecar ---------------------------------------------------------------------
def test_a_good_sidecar_loads(tmp_path):
    model = _text_model(tmp_path)
    np.savez(tmp_path / "m.npz", w=np.ones((4, 3), np.float32))
    result = run_mlc("show", model, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "matmul" in result.stdout


def test_a_sidecar_symlinked_inside_the_folder_loads(tmp_path):
    model = _text_model(tmp_path)
    np.savez(tmp_path / "real.npz", w=np.ones((4, 3), np.float32))
    (tmp_path / "m.npz").symlink_to("real.npz")
    assert run_mlc("show", model, cwd=tmp_path).returncode == 0


def test_a_sidecar_symlinked_outside_the_folder_is_refused(tmp_path):
    model = _text_model(tmp_path / "model")
    (tmp_path / "elsewhere").mkdir()
    np.savez(tmp_path / "elsewhere" / "x.npz", w=np.ones((4, 3), np.float32))
    (tmp_path / "model" / "m.npz").symlink_to(tmp_path / "elsewhere" / "x.npz")
    refused(tmp_path, "show", model, needles=("m.npz", "outside the model's folder"))


def test_a_sidecar_that_is_a_fifo_is_refused_without_hanging(tmp_path):
    model = _text_model(tmp_path)
    os.mkfifo(tmp_path / "m.npz")
    refused(tmp_path, "show", model, needles=("m.npz", "not a regular file"))


def test_a_sidecar_that_is_a_directory_is_refused(tmp_path):
    model = _text_model(tmp_path)
    (tmp_path / "m.npz").mkdir()
    refused(tmp_path, "show", model, needles=("m.npz", "directory"))


def test_a_sidecar_symlinked_to_a_device_is_refused(tmp_path):
    model = _text_model(tmp_path)
    (tmp_path / "m.npz").symlink_to("/dev/zero")
    refused(tmp_path, "show", model, needles=("m.npz",))


def _write_member(path: Path, header_shape: tuple[int, ...], payload: int,
                  compression: int = zipfile.ZIP_DEFLATED) -> None:
    """An .npz whose 'w' member declares ``header_shape`` f32 and holds ``payload`` zero bytes."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        with archive.open("w.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(
                member, {"descr": "<f4", "fortran_order": False, "shape": header_shape})
            chunk = bytes(1 << 24)
            for start in range(0, payload, len(chunk)):
                member.write(chunk[:min(len(chunk), payload - start)])


def test_a_zip_bomb_sidecar_is_refused_before_inflating(tmp_path):
    model = _text_model(tmp_path)
    _write_member(tmp_path / "m.npz", (1 << 28,), 1 << 30)  # 1 GiB of zeros in ~1 MB
    assert (tmp_path / "m.npz").stat().st_size < 4 << 20
    # 1 GiB of address space: enough for mlc, not for the inflated entry beside it
    refused(tmp_path, "show", model, needles=("f32[268435456]", "f32[4,3]"),
            address_space=1 << 30)


def test_a_sidecar_member_whose_zip_size_disagrees_with_its_header_is_refused(tmp_path):
    model = _text_model(tmp_path)
    _write_member(tmp_path / "m.npz", (4, 3), 1 << 20)  # header says 48 bytes, 1 MiB follow
    refused(tmp_path, "show", model, needles=("'w'", "48"))


def test_a_sidecar_entry_above_the_cap_is_refused_naming_the_limit(tmp_path, monkeypatch):
    from mlc.text import io

    text = TEXT.replace("f32[4,3] = external", "f32[1024,1024] = external").replace(
        "%x: f32[2,4]", "%x: f32[2,1024]").replace(": f32[2,3]", ": f32[2,1024]").replace(
        "-> (f32[2,3])", "-> (f32[2,1024])")
    (tmp_path / "m.mlc").write_text(text)
    np.savez(tmp_path / "m.npz", w=np.zeros((1024, 1024), np.float32))
    monkeypatch.setattr(io, "MAX_SIDECAR_ENTRY_BYTES", 4 << 20)
    assert io.load_text(tmp_path / "m.mlc").inputs  # exactly the cap: accepted
    monkeypatch.setattr(io, "MAX_SIDECAR_ENTRY_BYTES", (4 << 20) - 1)
    with pytest.raises(MlcError, match="MAX_SIDECAR_ENTRY_BYTES") as info:
        io.load_text(tmp_path / "m.mlc")
    assert "4194304 bytes" in info.value.one_line()


def test_a_sidecar_entry_declared_far_above_the_cap_is_never_read(tmp_path):
    text = TEXT.replace("f32[4,3] = external", "f32[4,1073741824] = external").replace(
        ": f32[2,3]", ": f32[2,1073741824]").replace("-> (f32[2,3])", "-> (f32[2,1073741824])")
    (tmp_path / "m.mlc").write_text(text)
    _write_member(tmp_path / "m.npz", (4, 1 << 30), 1 << 20)
    refused(tmp_path, "show", "m.mlc", needles=("limit",))


# -- item 4: special files as the model path -------------------------------------------------
@pytest.mark.parametrize("name", ["m.onnx", "m.mlc"])
def test_a_fifo_model_is_refused_without_hanging(tmp_path, name):
    os.mkfifo(tmp_path / name)
    refused(tmp_path, "show", name, needles=(name, "not a regular file"))


@pytest.mark.parametrize("name", ["z.onnx", "z.mlc"])
def test_a_model_symlinked_to_dev_zero_is_refused(tmp_path, name):
    (tmp_path / name).symlink_to("/dev/zero")
    refused(tmp_path, "show", name, needles=(name, "device"))


@pytest.mark.parametrize("name", ["d.onnx", "d.mlc"])
def test_a_directory_model_is_refused(tmp_path, name):
    (tmp_path / name).mkdir()
    refused(tmp_path, "show", name, needles=(name, "directory"))


def test_a_model_symlinked_to_a_regular_file_loads(tmp_path):
    onnx.save(_mlp(), tmp_path / "real.onnx")
    (tmp_path / "m.onnx").symlink_to("real.onnx")
    assert run_mlc("show", "m.onnx", "--shape", "x=2,4", cwd=tmp_path).returncode == 0


def test_an_onnx_file_above_the_cap_is_refused_before_reading(tmp_path, monkeypatch):
    from mlc.frontend import loader

    onnx.save(_mlp(), tmp_path / "m.onnx")
    monkeypatch.setattr(loader, "MAX_MODEL_BYTES", 16)
    with pytest.raises(ModelLoadError, match="MAX_MODEL_BYTES"):
        loader.read_model(tmp_path / "m.onnx")


def test_a_text_file_above_the_cap_is_refused(tmp_path, monkeypatch):
    from mlc.text import io

    model = _text_model(tmp_path)
    monkeypatch.setattr(io, "MAX_TEXT_BYTES", 16)
    with pytest.raises(ModelLoadError, match="MAX_TEXT_BYTES"):
        io.load_text(model)


# -- item 7: one line, not a traceback ------------------------------------------------------------
def _nested_fused(depth: int) -> str:
    lines = ["graph @t(%x: f32[2]) -> (f32[2]) {", "  %y = fused(%x) {", "  ^b(%p: f32[2]):"]
    for _ in range(depth):
        lines += ["  %r = fused(%p) {", "  ^b(%p: f32[2]):"]
    lines += ["  %r = relu(%p) : f32[2]", "  yield %r"]
    for _ in range(depth):
        lines += ["  } : f32[2]", "  yield %r"]
    lines += ["  } : f32[2]", "  return %y", "}"]
    return "\n".join(lines) + "\n"


def test_deeply_nested_fused_blocks_are_one_error(tmp_path):
    (tmp_path / "deep.mlc").write_text(_nested_fused(400))
    refused(tmp_path, "show", "deep.mlc", needles=("deep.mlc", "nest"))


def test_moderately_nested_fused_blocks_still_parse(tmp_path):
    from mlc.text import load_text

    (tmp_path / "deep.mlc").write_text(_nested_fused(8))
    assert load_text(tmp_path / "deep.mlc").nodes


def test_a_huge_declared_input_is_one_error_for_random_inputs(tmp_path):
    onnx.save(_mlp(), tmp_path / "m.onnx")
    refused(tmp_path, "run", "m.onnx", "--shape", "x=100000000000,4", needles=("x",))


def test_random_inputs_above_the_cap_name_the_limit(monkeypatch):
    from mlc import inputs
    from mlc.ir import DType, Graph, TensorType

    graph = Graph("g")
    x = graph.add_input("x", TensorType([1024, 1024], DType.float32))
    monkeypatch.setattr(inputs, "MAX_RANDOM_INPUT_BYTES", 1 << 20)
    with pytest.raises(inputs.InputError, match="MAX_RANDOM_INPUT_BYTES"):
        inputs.random_input(x, np.random.default_rng(0))


def _expand_model(path: Path) -> None:
    """y = Expand(x: f32[1,1], [100000, 100000]): 40 GB of output from a 4-byte input."""
    graph = helper.make_graph(
        [helper.make_node("Expand", ["x", "s"], ["y"])], "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [100000, 100000])],
        [numpy_helper.from_array(np.array([100000, 100000], np.int64), "s")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), path)


@pytest.mark.parametrize("target", ["ref", "llvm"])
def test_a_huge_intermediate_is_one_error_line(tmp_path, target):
    """The interpreter's buffers (ref) and the compiled runtime's output buffers (llvm) cannot
    be allocated: one line each, not a MemoryError traceback."""
    if target != "ref":
        need_target(target)
    _expand_model(tmp_path / "big.onnx")
    refused(tmp_path, "run", "big.onnx", "--target", target, needles=("allocate|memory",))


def test_import_output_under_a_file_is_one_error(tmp_path):
    onnx.save(_mlp(), tmp_path / "m.onnx")
    (tmp_path / "file").write_text("x")
    refused(tmp_path, "import", "m.onnx", "--shape", "x=2,4", "-o", "file/out.mlc",
            needles=("file", "not a folder"))


def test_import_output_under_proc_is_one_error(tmp_path):
    onnx.save(_mlp(), tmp_path / "m.onnx")
    refused(tmp_path, "import", "m.onnx", "--shape", "x=2,4", "-o", "/proc/out.mlc",
            needles=("/proc",))


def test_import_output_onto_an_existing_folder_is_one_error(tmp_path):
    onnx.save(_mlp(), tmp_path / "m.onnx")
    (tmp_path / "out.mlc").mkdir()
    refused(tmp_path, "import", "m.onnx", "--shape", "x=2,4", "-o", "out.mlc",
            needles=("out.mlc", "folder"))


def test_import_output_sidecar_onto_an_existing_folder_is_one_error(tmp_path):
    text = TEXT.replace("f32[4,3] = external", "f32[64,3] = external").replace(
        "%x: f32[2,4]", "%x: f32[2,64]")
    (tmp_path / "m.mlc").write_text(text)
    np.savez(tmp_path / "m.npz", w=np.ones((64, 3), np.float32))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "o.npz").mkdir()
    refused(tmp_path, "import", "m.mlc", "-o", "out/o.mlc", needles=("o.npz", "folder"))


# -- item 8: wrong answers the importer must refuse ---------------------------------------------
def _one_node(node: onnx.NodeProto, shape: list[int], opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", 1, shape)],
                              [helper.make_tensor_value_info("y", 1, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("opset,axis", [(17, 2), (17, -3), (11, 5), (11, -3)])
def test_softmax_axis_beyond_the_rank_is_refused(op, opset, axis):
    from mlc.frontend import import_model

    model = _one_node(helper.make_node(op, ["x"], ["y"], axis=axis), [2, 3], opset)
    with pytest.raises(MlcError, match=f"axis {axis} is out of range for rank 2"):
        import_model(model)


@pytest.mark.parametrize("opset,axis", [(17, -2), (17, 1), (11, 0), (11, -1)])
def test_softmax_axis_inside_the_rank_still_imports(opset, axis):
    from mlc.frontend import import_model

    model = _one_node(helper.make_node("Softmax", ["x"], ["y"], axis=axis), [2, 3], opset)
    assert import_model(model).nodes


def test_two_nodes_defining_one_tensor_are_refused():
    from mlc.frontend import import_model

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"]),
                               helper.make_node("Neg", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", 1, [2])],
                              [helper.make_tensor_value_info("y", 1, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(ModelLoadError, match="tensor 'y' is defined twice"):
        import_model(model)


def test_nodes_without_name_or_outputs_are_named_in_errors():
    from mlc.frontend import import_model

    graph = helper.make_graph([helper.make_node("Relu", ["x"], []),
                               helper.make_node("Transpose", ["x"], [], perm=[0.5]),
                               helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", 1, [2])],
                              [helper.make_tensor_value_info("y", 1, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(ModelLoadError, match="Transpose node '\\?': attribute 'perm' is FLOATS"):
        import_model(model)
    del model.graph.node[1]
    assert import_model(model).outputs[0].name == "y"


def test_a_node_redefining_a_graph_input_is_refused():
    from mlc.frontend import import_model

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["x2"]),
                               helper.make_node("Neg", ["x2"], ["x"])], "g",
                              [helper.make_tensor_value_info("x", 1, [2])],
                              [helper.make_tensor_value_info("x2", 1, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    with pytest.raises(ModelLoadError, match="tensor 'x' is defined twice"):
        import_model(model)


def test_a_float_perm_is_refused():
    from mlc.frontend import import_model

    node = helper.make_node("Transpose", ["x"], ["y"], perm=[1.0, 0.0])
    with pytest.raises(MlcError, match="attribute 'perm'.*FLOATS.*INTS"):
        import_model(_one_node(node, [2, 3]))


def test_a_float_perm_is_one_cli_error(tmp_path):
    node = helper.make_node("Transpose", ["x"], ["y"], perm=[1.5, 0.0])
    onnx.save(_one_node(node, [2, 3]), tmp_path / "t.onnx")
    refused(tmp_path, "show", "t.onnx", needles=("perm",))


def test_parse_errors_stay_parse_errors():
    """The sidecar and nesting checks did not change what plain text errors are."""
    from mlc.text import parse_text

    with pytest.raises(ParseError):
        parse_text("graph @g(")
