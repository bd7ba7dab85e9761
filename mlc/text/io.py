"""Files: ``model.mlc`` holds the text, ``model.npz`` beside it the constants too large to inline.

Both are written to a temporary name and renamed into place, the sidecar first, so an interrupted
save never leaves a text that names arrays its sidecar lacks. The sidecar is read with
``allow_pickle=False``: an IR file is data and must never run code.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from mlc.errors import ModelLoadError, ParseError
from mlc.ir.graph import Graph

from .parser import parse
from mlc.ir.printer import external_constants, print_graph


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelLoadError(f"{path} does not exist") from None
    except UnicodeDecodeError as err:
        raise ParseError(f"{path}: byte {err.start} is not UTF-8; the textual IR is ASCII text") from None
    except OSError as err:
        raise ModelLoadError(f"cannot read {path}: {err.strerror or err}") from None
    sidecar = sidecar_path(path)
    if not sidecar.exists():
        return parse(text, None, str(path), origin=f"the sidecar {sidecar}",
                     missing=f"the sidecar {sidecar} does not exist")
    try:
        arrays = np.load(sidecar, allow_pickle=False)
    except Exception as err:
        raise ModelLoadError(f"the sidecar {sidecar} is not a readable .npz file: {err}") from None
    if not isinstance(arrays, np.lib.npyio.NpzFile):
        raise ModelLoadError(f"the sidecar {sidecar} holds a single array, not an .npz archive")
    with arrays:
        return parse(text, arrays, str(path), origin=f"the sidecar {sidecar}", missing="")


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
