"""The artifact directory that every backend writes (``mlc compile``) and ``mlc.runtime.load``
reads.

An artifact is a folder: ``manifest.json`` (what the model expects and how it was built) plus the
target's files (``model.so``, ``plan.json``, emitted ``.ll``/``.s``/loop IR …). The manifest is
the contract between compiler and runtime, so it is validated on read with one-line errors, and
it is written last and atomically (the folder is staged next to the destination and renamed into
place): a failed compile never leaves a half-written artifact. See docs/design/artifact.md.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mlc.errors import MlcError
from mlc.ir.dtypes import DType
from mlc.version import __version__

FORMAT = "mlc-artifact"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 16 << 20  # a real manifest is a few KiB
MAX_ARTIFACT_ENTRIES = 100_000
_UNSAFE_HINT = "recompile it with `mlc compile` into a fresh folder"


class ArtifactError(MlcError):
    """An artifact directory is missing, malformed, from another format version, or incomplete."""


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: its name, static shape and dtype (a DType name such as ``float32``)."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def numpy_dtype(self) -> np.dtype:
        return DType[self.dtype].numpy

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.numpy_dtype.itemsize

    def to_json(self) -> dict:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def of_value(cls, value) -> TensorSpec:
        """The spec of a graph ``Value`` (its shape must be static by compile time)."""
        return cls(value.name, tuple(int(d) for d in value.shape), value.dtype.name)


@dataclass(frozen=True)
class Manifest:
    """What ``manifest.json`` holds. ``files`` lists every file of the artifact (relative paths,
    manifest excluded); the writer fills it in. ``library`` names the shared library for the
    llvm and c targets, ``plan`` the memory plan file, when there are ones."""

    model: str
    target: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    arena_bytes: int = 0
    weight_bytes: int = 0
    library: str | None = None
    abi_version: int | None = None
    plan: str | None = None
    files: tuple[str, ...] = ()
    passes: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    compile_seconds: float = 0.0
    mlc_version: str = ""
    format_version: int = FORMAT_VERSION

    @classmethod
    def for_graph(cls, graph, target: str, **fields: Any) -> Manifest:
        """A manifest whose model name, inputs and outputs come from a compiled ``Graph``."""
        return cls(model=graph.name, target=target,
                   inputs=tuple(TensorSpec.of_value(v) for v in graph.inputs),
                   outputs=tuple(TensorSpec.of_value(v) for v in graph.outputs), **fields)

    def to_json(self) -> dict:
        return {"format": FORMAT, **asdict(self), "inputs": [t.to_json() for t in self.inputs],
                "outputs": [t.to_json() for t in self.outputs], "files": list(self.files),
                "passes": list(self.passes)}

    @classmethod
    def from_json(cls, data: Any, where: str = MANIFEST) -> Manifest:
        """Validate and convert parsed JSON; every problem is one ArtifactError line."""
        check = _Checker(where)
        if not isinstance(data, dict):
            check.fail("is not a JSON object")
        if data.get("format") != FORMAT:
            check.fail(f"is not an mlc artifact manifest (format is {data.get('format')!r}, "
                       f"expected {FORMAT!r})")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ArtifactError(f"{where}: artifact format version {version!r} is not the one "
                                f"this mlc reads ({FORMAT_VERSION})",
                                hint="recompile the model with this mlc's `mlc compile`")
        return cls(
            model=check.get(data, "model", str),
            target=check.get(data, "target", str),
            inputs=check.tensors(data, "inputs"),
            outputs=check.tensors(data, "outputs"),
            arena_bytes=check.count(data, "arena_bytes"),
            weight_bytes=check.count(data, "weight_bytes"),
            library=check.optional_file(data, "library"),
            abi_version=check.get(data, "abi_version", int, optional=True),
            plan=check.optional_file(data, "plan"),
            files=tuple(check.file(f, "files") for f in check.get(data, "files", list)),
            passes=tuple(check.strings(data, "passes")),
            options=check.get(data, "options", dict, optional=True) or {},
            compile_seconds=float(check.get(data, "compile_seconds", (int, float),
                                            optional=True) or 0.0),
            mlc_version=check.get(data, "mlc_version", str, optional=True) or "",
        )

    def check_consistent(self, where: str = MANIFEST) -> None:
        """Names unique, and ``library``/``plan`` among ``files``."""
        for kind, specs in (("input", self.inputs), ("output", self.outputs)):
            names = [t.name for t in specs]
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ArtifactError(f"{where}: {kind} name {repeated[0]!r} appears twice")
        for key in ("library", "plan"):
            name = getattr(self, key)
            if name is not None and name not in self.files:
                raise ArtifactError(f"{where}: {key} {name!r} is not among the artifact's files")


class _Checker:
    """Field readers that raise one ArtifactError line naming the manifest and the field."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, problem: str):
        raise ArtifactError(f"{self.where}: {problem}",
                            hint="the artifact is damaged; recompile it with `mlc compile`")

    def get(self, data: dict, key: str, kind, optional: bool = False):
        if key not in data or data[key] is None:
            if optional:
                return None
            self.fail(f"field {key!r} is missing")
        value = data[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            self.fail(f"field {key!r} has the wrong type ({type(value).__name__})")
        return value

    def count(self, data: dict, key: str) -> int:
        value = self.get(data, key, int)
        if value < 0:
            self.fail(f"field {key!r} is negative")
        return value

    def strings(self, data: dict, key: str) -> list[str]:
        values = self.get(data, key, list, optional=True) or []
        if not all(isinstance(v, str) for v in values):
            self.fail(f"field {key!r} is not a list of strings")
        return values

    def file(self, name: Any, key: str) -> str:
        path = Path(name) if isinstance(name, str) else None
        if path is None or not name or path.is_absolute() or ".." in path.parts:
            self.fail(f"{key} entry {name!r} is not a relative path inside the artifact")
        return name

    def optional_file(self, data: dict, key: str) -> str | None:
        name = self.get(data, key, str, optional=True)
        return None if name is None else self.file(name, key)

    def tensors(self, data: dict, key: str) -> tuple[TensorSpec, ...]:
        specs = []
        for i, item in enumerate(self.get(data, key, list)):
            if not isinstance(item, dict):
                self.fail(f"{key}[{i}] is not an object")
            name = self.get(item, "name", str)
            shape = self.get(item, "shape", list)
            if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
                self.fail(f"{key}[{i}] ({name}) has shape {shape}, not a list of sizes")
            dtype = self.get(item, "dtype", str)
            if dtype not in DType.__members__:
                self.fail(f"{key}[{i}] ({name}) has unknown dtype {dtype!r} "
                          f"(known: {', '.join(DType.__members__)})")
            specs.append(TensorSpec(name, tuple(shape), dtype))
        return tuple(specs)


def read_manifest(directory: str | os.PathLike) -> Manifest:
    """Read and validate ``DIR/manifest.json`` and check that every listed file is present,
    after ``check_plain_files``: nothing is read (or later dlopen'ed) through a symlink."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise ArtifactError(f"artifact directory {directory} does not exist",
                            hint="write one with `mlc compile MODEL -o DIR`")
    check_plain_files(directory)
    if not path.is_file():
        raise ArtifactError(f"{directory} is not an mlc artifact: it has no {MANIFEST}",
                            hint="write one with `mlc compile MODEL -o DIR`")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise ArtifactError(f"{path} is {path.stat().st_size} bytes, more than a manifest ever "
                            f"is ({MAX_MANIFEST_BYTES})", hint="recompile it with `mlc compile`")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: "
                            f"{exc.msg}", hint="recompile it with `mlc compile`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from None
    manifest = Manifest.from_json(data, where=str(path))
    manifest.check_consistent(str(path))
    missing = [f for f in manifest.files if not (directory / f).is_file()]
    if missing:
        raise ArtifactError(f"{directory}: the manifest lists {missing[0]!r} but the file is "
                            f"missing" + (f" (and {len(missing) - 1} more)" if missing[1:] else ""),
                            hint="recompile it with `mlc compile`")
    return manifest


def check_plain_files(directory: Path) -> None:
    """Refuse a symlink or special file (FIFO, socket, device) anywhere under ``directory``,
    judged with lstat. Why before anything is read: a symlinked ``model.so`` (or a folder on its
    path) would be dlopen'ed from outside the artifact, running its constructors before any
    check, and a FIFO would hang the reader. ``directory`` itself may be a symlink (``latest ->
    build-42``): what it points to is the artifact."""
    pending, seen = [directory], 0
    while pending:
        folder = pending.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise ArtifactError(f"cannot read {folder}: {exc.strerror}") from None
        for entry in entries:
            seen += 1
            if seen > MAX_ARTIFACT_ENTRIES:
                raise ArtifactError(f"artifact {directory} holds more than "
                                    f"{MAX_ARTIFACT_ENTRIES} files", hint=_UNSAFE_HINT)
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
            elif entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                _refuse_entry(directory, Path(entry.path))


def _refuse_entry(directory: Path, path: Path) -> None:
    what = "a symbolic link" if path.is_symlink() else "not a regular file"
    raise ArtifactError(f"artifact {directory}: {path.relative_to(directory).as_posix()} is "
                        f"{what}; an artifact holds only regular files and folders, so mlc "
                        f"neither reads nor loads it", hint=_UNSAFE_HINT)


class ArtifactWriter:
    """Stage an artifact and move it into place only when complete.

    ::

        with ArtifactWriter(out_dir) as w:
            build_shared_library(sources, w.path / "model.so")
            w.commit(manifest)          # writes manifest.json, renames the stage to out_dir

    Leaving the block without ``commit`` (an exception) deletes the stage and leaves ``out_dir``
    as it was. An existing ``out_dir`` is replaced only if it is an artifact itself or empty, so
    ``-o ~`` cannot wipe a home directory.
    """

    def __init__(self, out_dir: str | os.PathLike):
        self.out_dir = Path(out_dir).absolute()
        _check_replaceable(self.out_dir)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.out_dir.name}.stage-",
                                          dir=self.out_dir.parent))
        self.manifest: Manifest | None = None

    def __enter__(self) -> ArtifactWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.path.exists():
            shutil.rmtree(self.path, ignore_errors=True)

    def commit(self, manifest: Manifest) -> Manifest:
        """Write the manifest (``files`` = what the stage holds) and move the stage into place."""
        files = sorted(p.relative_to(self.path).as_posix() for p in self.path.rglob("*")
                       if p.is_file() and p.name != MANIFEST)
        manifest = replace(manifest, files=tuple(files),
                           mlc_version=manifest.mlc_version or __version__)
        manifest.check_consistent(f"manifest of {self.out_dir}")
        (self.path / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=1) + "\n")
        _check_replaceable(self.out_dir)
        _move_into_place(self.path, self.out_dir)
        self.manifest = manifest
        return manifest


def _move_into_place(stage: Path, out_dir: Path, attempts: int = 100) -> None:
    """Rename ``stage`` to ``out_dir``, first moving aside whatever is there.

    Why a loop and not "move aside, then rename": another process may commit into ``out_dir`` at
    the same moment (parallel builds), and then the rename finds a new, non-empty ``out_dir``.
    Each round either places our stage (rename onto a missing or empty folder is atomic) or moves
    the folder in the way to a fresh ``.old-`` name of its own and deletes it, so concurrent
    commits all succeed, the last one wins whole, and nothing is left behind."""
    for _ in range(attempts):
        try:
            os.rename(stage, out_dir)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise ArtifactError(f"cannot move the new artifact into {out_dir}: "
                                    f"{exc.strerror}") from None
        _check_replaceable(out_dir)
        old = tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent)
        try:
            os.rename(out_dir, old)  # onto the empty folder just made
        except FileNotFoundError:
            pass  # another commit moved it aside first
        finally:
            shutil.rmtree(old, ignore_errors=True)
    raise ArtifactError(f"cannot move the new artifact into {out_dir}: other processes kept "
                        f"replacing it", hint="do not compile into one folder from many processes")


def _check_replaceable(out_dir: Path) -> None:
    """Refuse to replace a file or a non-empty folder that is not an artifact. Judged from one
    listing, so a concurrent commit that swaps ``out_dir`` meanwhile cannot make a complete
    artifact look like a foreign folder."""
    try:
        with os.scandir(out_dir) as listing:
            entries = {entry.name: entry.is_file(follow_symlinks=False) for entry in listing}
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise ArtifactError(f"{out_dir} exists and is not a directory",
                            hint="choose another output directory with -o") from None
    except OSError as exc:
        raise ArtifactError(f"cannot read {out_dir}: {exc.strerror}",
                            hint="choose another output directory with -o") from None
    if entries and not entries.get(MANIFEST, False):
        raise ArtifactError(f"{out_dir} exists, is not empty and is not an mlc artifact; "
                            f"refusing to replace it", hint="choose another output directory")
