"""Files: ``model.mlc`` holds the text, ``model.npz`` beside it the constants too large to inline.

Both are written to a temporary name and renamed into place, the sidecar first, so an interrupted
save never leaves a text that names arrays its sidecar lacks. The sidecar is read with
``allow_pickle=False``: an IR file is data and must never run code.

Both files are untrusted input when read. They are opened only when they are regular files (a
FIFO would block, ``/dev/zero`` never ends), the sidecar only when it lies inside the model's
folder (a symlink may not lead out of it), and no byte is read beyond a declared, capped size: a
sidecar entry's ``.npy`` header is checked against the type the text declares, against the size
the zip declares, and against MAX_SIDECAR_ENTRY_BYTES before anything is inflated.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np

from mlc.errors import ModelLoadError, ParseError
from mlc.ir.graph import Graph

from .parser import parse
from mlc.ir.printer import external_constants, print_graph

#: The largest ``.mlc`` text read (large constants live in the sidecar, so texts stay small).
MAX_TEXT_BYTES = 256 << 20
#: The largest array one sidecar entry may hold (ONNX's 2 GiB protobuf limit).
MAX_SIDECAR_ENTRY_BYTES = 2 << 30

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def sidecar_path(path: str | os.PathLike) -> Path:
    """``model.mlc`` → ``model.npz`` (any other name gets ``.npz`` appended)."""
    path = Path(path)
    return path.with_suffix(".npz") if path.suffix == ".mlc" else Path(f"{path}.npz")


def save_text(graph: Graph, path: str | os.PathLike) -> None:
    """Write ``graph`` as text to ``path``, and its large constants to the sidecar when it has any."""
    path = Path(path)
    text = print_graph(graph)
    arrays = external_constants(graph)
    if arrays:
        _replace(sidecar_path(path), lambda tmp: _write_npz(tmp, arrays))
    _replace(path, lambda tmp: tmp.write_text(text, encoding="ascii"))


def load_text(path: str | os.PathLike) -> Graph:
    """Read a ``.mlc`` file and, when it names external constants, its ``.npz`` sidecar."""
    path = Path(path)
    data = read_regular_file(path, MAX_TEXT_BYTES, "MAX_TEXT_BYTES", missing="does not exist")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ParseError(f"{path}: byte {err.start} is not UTF-8; the textual IR is ASCII text") from None
    sidecar = sidecar_path(path)
    if not os.path.lexists(sidecar):
        return parse(text, None, str(path), origin=f"the sidecar {sidecar}",
                     missing=f"the sidecar {sidecar} does not exist")
    with _open_sidecar(path, sidecar) as arrays:
        return parse(text, arrays, str(path), origin=f"the sidecar {sidecar}", missing="")


# -- reading untrusted files ----------------------------------------------------------------------
def non_regular_kind(mode: int) -> str | None:
    """What a file of ``mode`` is when it is not a regular file ("a FIFO (named pipe)", …)."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | os.PathLike, missing: str = "file not found") -> int:
    """A read-only descriptor of ``path`` (symlinks followed), refusing anything but a regular
    file before it is opened for reading: opening a FIFO blocks until a writer comes, and a
    device such as /dev/zero never ends. O_NONBLOCK closes the race between the check and open."""
    try:
        kind = non_regular_kind(os.stat(path).st_mode)
    except FileNotFoundError:
        raise ModelLoadError(f"{path}: {missing}", hint="check the path") from None
    except OSError as err:
        raise ModelLoadError(f"{path}: cannot read the file ({err.strerror or err})") from None
    if kind is not None:
        raise _not_regular(path, kind)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise ModelLoadError(f"{path}: cannot read the file ({err.strerror or err})") from None
    kind = non_regular_kind(os.fstat(fd).st_mode)
    if kind is not None:  # swapped between the stat and the open
        os.close(fd)
        raise _not_regular(path, kind)
    return fd


def _not_regular(path: str | os.PathLike, kind: str) -> ModelLoadError:
    return ModelLoadError(f"{path}: is {kind}, not a regular file",
                          hint="give the path of a model file")


def read_regular_file(path: str | os.PathLike, limit: int, limit_name: str,
                      missing: str = "file not found") -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them (named ``limit_name``
    in the error): checked against the size the file system declares and against what is read."""
    with os.fdopen(open_regular(path, missing), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(limit + 1) if size <= limit else b""
    if size > limit or len(data) > limit:
        raise ModelLoadError(f"{path}: the file holds {max(size, len(data))} bytes, more than "
                             f"the limit of {limit} ({limit_name})")
    return data


def _open_sidecar(model: Path, sidecar: Path) -> _Sidecar:
    """The sidecar's archive, after checking it stays in the model's folder and is a regular
    file; its entries are read one by one, on demand (see _Sidecar)."""
    folder = os.path.realpath(os.path.dirname(os.path.abspath(model)))
    target = os.path.realpath(sidecar)
    if os.path.commonpath([folder, target]) != folder:
        raise ModelLoadError(f"the sidecar {sidecar} is a symbolic link to {target}, outside "
                             f"the model's folder {folder}",
                             hint="keep the .npz as a plain file beside the .mlc")
    fd = open_regular(sidecar)
    f = os.fdopen(fd, "rb")
    try:
        return _Sidecar(zipfile.ZipFile(f), f, str(sidecar))
    except Exception as err:
        f.close()
        raise ModelLoadError(f"the sidecar {sidecar} is not a readable .npz file: {err}") from None


class _Sidecar(Mapping[str, np.ndarray]):
    """The entries of an open ``.npz`` sidecar. ``peek`` reads an entry's ``.npy`` header only,
    so the parser can compare the declared type before ``[key]`` inflates anything; ``[key]``
    checks the header against the zip's size and MAX_SIDECAR_ENTRY_BYTES, then reads exactly the
    bytes the header declares."""

    def __init__(self, archive: zipfile.ZipFile, file, where: str):
        self.archive = archive
        self.file = file
        self.where = where
        self.members = {(n[:-4] if n.endswith(".npy") else n): archive.getinfo(n)
                        for n in archive.namelist()}

    def __enter__(self) -> _Sidecar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.archive.close()
        self.file.close()

    def __iter__(self) -> Iterator[str]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __contains__(self, key: object) -> bool:
        return key in self.members

    def peek(self, key: str) -> tuple[tuple[int, ...], np.dtype]:
        """The shape and dtype entry ``key`` declares, read from its header alone."""
        with self.archive.open(self.members[key]) as member:
            shape, _, dtype, _ = self._header(member)
        return shape, dtype

    def __getitem__(self, key: str) -> np.ndarray:
        info = self.members[key]
        with self.archive.open(info) as member:
            shape, fortran, dtype, start = self._header(member)
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes > MAX_SIDECAR_ENTRY_BYTES:
                raise ModelLoadError(f"entry {key!r} of {self.where} declares {nbytes} bytes, "
                                     f"more than the limit of {MAX_SIDECAR_ENTRY_BYTES} "
                                     "(MAX_SIDECAR_ENTRY_BYTES)")
            if info.file_size != start + nbytes:
                raise ModelLoadError(f"entry {key!r} of {self.where}: its header declares "
                                     f"{nbytes} bytes of data, the zip holds "
                                     f"{info.file_size - start} (the file is corrupt)")
            flat = np.empty(math.prod(shape), dtype)
            _read_into(member, memoryview(flat).cast("B"), key, self.where)
        return flat.reshape(shape, order="F" if fortran else "C")

    @staticmethod
    def _header(member) -> tuple[tuple[int, ...], bool, np.dtype, int]:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f".npy format version {version} is not supported")
        if dtype.hasobject:
            raise ValueError("it holds Python objects (pickled data), which mlc never loads")
        return tuple(int(d) for d in shape), bool(fortran), dtype, member.tell()


def _read_into(member, buffer: memoryview, key: str, where: str) -> None:
    done = 0
    while done < len(buffer):
        n = member.readinto(buffer[done:])
        if not n:
            raise ModelLoadError(f"entry {key!r} of {where} is truncated")
        done += n


# -- writing -------------------------------------------------------------------------------------
def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    # Written member by member rather than with np.savez: its keyword arguments would reject keys
    # such as "file", and constant names may be any string.
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, array in arrays.items():
            with archive.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def _replace(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
