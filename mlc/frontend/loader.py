"""Safe reading of ONNX files: parse the bytes ourselves, read external data only after checks.

A model file is untrusted input. ``onnx.load`` follows an external-data ``location`` wherever it
points (absolute paths, ``..``, symlinks), so a crafted model could read any file the user can
read. Here every external reference is validated before a single byte is read: the location must
be a relative path with no ``..`` and no symlink on the way, resolve inside the model's folder,
name a regular file, and the declared offset/length must lie within it. Declared tensor sizes are
bounded too, so a malicious dims list cannot make us allocate terabytes.
"""

from __future__ import annotations

import math
import os
import stat
from typing import Iterator

import onnx
from onnx import TensorProto

from mlc.errors import ModelLoadError
from mlc.text.io import read_regular_file

#: The most elements one tensor may declare (the same bound as ONNX's 2 GiB protobuf limit).
MAX_ELEMENTS = 2**31
#: The largest ONNX file read: protobuf cannot parse a message of 2 GiB or more.
MAX_MODEL_BYTES = 2**31 - 1


def read_model(path: str | os.PathLike) -> onnx.ModelProto:
    """Parse ``path`` into a ModelProto without touching external data, or raise ModelLoadError.

    Only a regular file is opened (a FIFO would block, /dev/zero never ends), and at most
    MAX_MODEL_BYTES of it are read."""
    path = os.fspath(path)
    return parse_model(read_regular_file(path, MAX_MODEL_BYTES, "MAX_MODEL_BYTES"), path)


def parse_model(data: bytes, origin: str = "<bytes>") -> onnx.ModelProto:
    """Parse serialized model bytes and check the parts every importer relies on."""
    if not data:
        raise ModelLoadError(f"{origin}: the file is empty, not an ONNX model")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except Exception as exc:  # protobuf raises DecodeError or RuntimeError depending on backend
        raise ModelLoadError(f"{origin}: not a valid ONNX model (truncated or corrupted: "
                             f"{' '.join(str(exc).split()) or type(exc).__name__})") from None
    check_structure(model, origin)
    return model


def check_structure(model: onnx.ModelProto, origin: str = "<model>") -> None:
    """Reject protos that parsed but are not usable models: random bytes often parse as a
    ModelProto with unknown fields, and a file cut at a field boundary parses without error."""
    if model.ir_version <= 0 or not model.HasField("graph"):
        raise ModelLoadError(f"{origin}: not an ONNX model (no IR version or no graph; "
                             "the file may be truncated or of another format)")
    if not model.opset_import:
        raise ModelLoadError(f"{origin}: the model declares no opset (the file may be truncated)")
    if not model.graph.node:
        raise ModelLoadError(f"{origin}: the model's graph is empty (no nodes)")
    if not model.graph.output:
        raise ModelLoadError(f"{origin}: the model's graph has no outputs")


def iter_tensors(graph: onnx.GraphProto) -> Iterator[TensorProto]:
    """Every TensorProto stored in ``graph``: initializers and node attributes, sub-graphs too."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from iter_tensors(attr.g)
            for sub in attr.graphs:
                yield from iter_tensors(sub)


def declared_numel(tensor: TensorProto, origin: str) -> int:
    """The element count ``tensor`` declares, bounded by MAX_ELEMENTS."""
    dims = list(tensor.dims)
    if any(d < 0 for d in dims):
        raise ModelLoadError(f"{origin}: tensor '{tensor.name}' declares a negative dim {dims}")
    numel = math.prod(dims)
    if numel > MAX_ELEMENTS:
        raise ModelLoadError(f"{origin}: tensor '{tensor.name}' declares {numel} elements "
                             f"(dims {dims}), more than the {MAX_ELEMENTS} mlc accepts")
    return numel


def _itemsize(tensor: TensorProto) -> int | None:
    if tensor.data_type == TensorProto.STRING:
        return None
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except Exception:
        return None


def load_external_data(model: onnx.ModelProto, base_dir: str | None, origin: str = "<model>") -> None:
    """Check every tensor's declared size and fill external data into ``raw_data`` in place.

    Every location of every tensor is validated before any external byte is read (see the module
    docstring): one unsafe reference rejects the model without touching the others' files."""
    pending: list[tuple[TensorProto, str, dict[str, str], int]] = []
    for tensor in iter_tensors(model.graph):
        numel = declared_numel(tensor, origin)
        if tensor.data_location != TensorProto.EXTERNAL:
            continue
        info = {entry.key: entry.value for entry in tensor.external_data}
        if base_dir is None:
            raise ModelLoadError(f"{origin}: tensor '{tensor.name}' keeps its data in an external "
                                 "file, but the model's folder is unknown",
                                 hint="load the model from its file, or pass base_dir")
        path = safe_external_path(base_dir, info.get("location", ""), tensor.name, origin)
        pending.append((tensor, path, info, numel))
    for tensor, path, info, numel in pending:
        tensor.raw_data = _read_range(path, info, tensor, numel, origin)
        del tensor.external_data[:]
        tensor.data_location = TensorProto.DEFAULT


def safe_external_path(base_dir: str, location: str, tensor_name: str, origin: str) -> str:
    """Validate an external-data ``location`` and return the file path it names inside base_dir."""
    def reject(why: str) -> ModelLoadError:
        return ModelLoadError(f"{origin}: tensor '{tensor_name}' has unsafe external data "
                              f"location {location!r}: {why}",
                              hint="external data must be a plain file inside the model's folder")

    if not location:
        raise reject("it is empty")
    if "\0" in location:
        raise reject("it contains a NUL byte")
    if os.path.isabs(location) or location.startswith(("/", "\\")) or (
            len(location) > 1 and location[0].isalpha() and location[1] == ":"):
        raise reject("it is an absolute path")
    parts = location.replace("\\", "/").split("/")
    if any(p == ".." for p in parts):
        raise reject("it contains '..'")
    base_real = os.path.realpath(base_dir)
    current = base_real
    for part in parts:
        if part in ("", "."):
            continue
        current = os.path.join(current, part)
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            raise ModelLoadError(f"{origin}: external data file {location!r} of tensor "
                                 f"'{tensor_name}' does not exist next to the model") from None
        if stat.S_ISLNK(info.st_mode):
            raise reject(f"'{part}' is a symbolic link")
    if os.path.commonpath([base_real, os.path.realpath(current)]) != base_real:
        raise reject("it resolves outside the model's folder")
    if not stat.S_ISREG(os.lstat(current).st_mode):
        raise reject("it is not a regular file")
    return current


def _read_range(path: str, info: dict[str, str], tensor: TensorProto, numel: int,
                origin: str) -> bytes:
    name = tensor.name
    try:
        offset = int(info.get("offset", "0") or 0)
        length = int(info["length"]) if info.get("length") else None
    except ValueError:
        raise ModelLoadError(f"{origin}: tensor '{name}' has a non-integer external offset/length "
                             f"{info.get('offset')!r}/{info.get('length')!r}") from None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise ModelLoadError(f"{origin}: cannot open external data of tensor '{name}' "
                             f"({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if offset < 0 or offset > size:
            raise ModelLoadError(f"{origin}: tensor '{name}': external offset {offset} is past the "
                                 f"end of {os.path.basename(path)} ({size} bytes)")
        if length is None:
            length = size - offset
        if length < 0 or offset + length > size:
            raise ModelLoadError(f"{origin}: tensor '{name}': external range {offset}+{length} "
                                 f"is past the end of {os.path.basename(path)} ({size} bytes)")
        itemsize = _itemsize(tensor)
        if itemsize is not None and length != numel * itemsize:
            raise ModelLoadError(f"{origin}: tensor '{name}': external data holds {length} bytes, "
                                 f"its dims {list(tensor.dims)} need {numel * itemsize}")
        f.seek(offset)
        return f.read(length)
