"""Model inputs from the command line: ``--shape`` and ``--input`` parsing, and seeded random data.

Every command that runs a model needs feeds. Users give some as ``.npy`` files and let the rest be
random; the random data must be reproducible (``--seed``) and *valid* for the model, or a
comparison fails for reasons unrelated to the compiler: token ids fed to a ``gather`` must index
inside the table, so integer inputs get a small non-negative range bounded by the table size.
"""

from __future__ import annotations

import os
import re
from typing import Mapping, Sequence

import numpy as np

from mlc.errors import MlcError, ShapeError
from mlc.ir.graph import Graph, Value

DEFAULT_INT_HIGH = 10  # exclusive upper bound of random ints when nothing tighter is known
#: The largest random input drawn: a model declaring more (a typo in --shape, a hostile file)
#: gets one error line instead of a MemoryError or a machine brought to a crawl.
MAX_RANDOM_INPUT_BYTES = 4 << 30

_DIM_SPLIT = re.compile(r"[,x]")


class InputError(MlcError):
    """An ``--input`` file is missing, unreadable, or does not match the model's input."""


def parse_shapes(specs: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Parse repeated ``--shape name=1,3,224,224`` options (``1x3x224x224`` also accepted).

    An empty dim list (``name=``) declares a scalar. Raises ShapeError with the expected form.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, sep, dims_text = spec.rpartition("=")
        name = name.strip()
        if not sep or not name:
            raise ShapeError(f"malformed --shape {spec!r}",
                             hint="write --shape NAME=D0,D1,..., e.g. --shape input=1,3,224,224")
        dims_text = dims_text.strip()
        parts = [p.strip() for p in _DIM_SPLIT.split(dims_text)] if dims_text else []
        if not all(p.isdigit() and int(p) > 0 for p in parts):
            raise ShapeError(f"malformed --shape {spec!r}: dims must be positive integers",
                             hint="write --shape NAME=D0,D1,..., e.g. --shape input=1,3,224,224")
        if name in shapes:
            raise ShapeError(f"--shape {name} is given twice", hint="give each input once")
        shapes[name] = tuple(int(p) for p in parts)
    return shapes


def parse_input_specs(specs: Sequence[str]) -> dict[str, np.ndarray]:
    """Load repeated ``--input name=file.npy`` options (or ``--input all.npz`` keyed by name)."""
    feeds: dict[str, np.ndarray] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            if spec.endswith(".npz"):
                for key, array in _load_npz(spec).items():
                    _add(feeds, key, array)
                continue
            raise InputError(f"malformed --input {spec!r}",
                             hint="write --input NAME=file.npy, or --input inputs.npz")
        if not name or not path:
            raise InputError(f"malformed --input {spec!r}", hint="write --input NAME=file.npy")
        _add(feeds, name, _load_npy(path))
    return feeds


def _add(feeds: dict[str, np.ndarray], name: str, array: np.ndarray) -> None:
    if name in feeds:
        raise InputError(f"input {name} is given twice", hint="give each --input once")
    feeds[name] = array


def _load_npy(path: str) -> np.ndarray:
    if not os.path.isfile(path):
        raise InputError(f"input file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError/OSError/EOFError for broken files
        raise InputError(f"cannot read {path} as a .npy array: {exc}",
                         hint="save inputs with numpy.save") from None


def _load_npz(path: str) -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise InputError(f"input file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except Exception as exc:
        raise InputError(f"cannot read {path} as a .npz archive: {exc}",
                         hint="save inputs with numpy.savez(path, name=array, ...)") from None


def gather_bound(value: Value) -> int | None:
    """The number of rows of the smallest table ``value`` indexes through ``gather``, if any.

    Looks through fused nodes into their bodies, since fusion moves the gather there.
    """
    bounds: list[int] = []
    for use in value.uses:
        node = use.node
        if node.op == "gather" and use.index == 1:
            table = node.inputs[0]
            axis = int(node.attrs.get("axis", 0))
            if table is not None and table.type.is_static and table.type.rank:
                bounds.append(int(table.shape[axis]))
        elif node.body is not None and use.index < len(node.body.inputs):
            inner = gather_bound(node.body.inputs[use.index])
            if inner is not None:
                bounds.append(inner)
    return min(bounds) if bounds else None


def random_input(value: Value, rng: np.random.Generator) -> np.ndarray:
    """Random data of ``value``'s type: normal floats, small non-negative ints, random bools."""
    if not value.type.is_static:
        dims = ", ".join(value.type.symbolic_dims)
        raise ShapeError(f"input {value.name} has unresolved dims ({dims})",
                         hint=f"give them with --shape {value.name}=D0,D1,...")
    shape = tuple(int(d) for d in value.shape)
    nbytes = value.type.numel * value.dtype.numpy.itemsize
    if nbytes > MAX_RANDOM_INPUT_BYTES:
        raise InputError(f"input {value.name} ({value.type}) needs {nbytes} bytes, more than the "
                         f"limit of {MAX_RANDOM_INPUT_BYTES} for random inputs "
                         "(MAX_RANDOM_INPUT_BYTES)",
                         hint=f"give a smaller --shape {value.name}=..., or the data with --input")
    try:
        return _draw(value, shape, rng)
    except MemoryError:
        raise InputError(f"input {value.name} ({value.type}, {nbytes} bytes) does not fit in "
                         "memory", hint=f"give a smaller --shape {value.name}=...") from None


def _draw(value: Value, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    dtype = value.dtype
    if dtype.is_float:
        return rng.standard_normal(shape).astype(dtype.numpy)
    if dtype.name == "bool":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    high = gather_bound(value) or DEFAULT_INT_HIGH
    return rng.integers(0, max(high, 1), size=shape).astype(dtype.numpy)


def make_feeds(graph: Graph, given: Mapping[str, np.ndarray] | None = None,
               seed: int = 0) -> dict[str, np.ndarray]:
    """Feeds for every graph input: the ``given`` arrays (checked, cast within their kind) and
    seeded random data for the rest. Graph inputs are drawn in order, so a seed means one input."""
    given = dict(given or {})
    names = [v.name for v in graph.inputs]
    unknown = [n for n in given if n not in names]
    if unknown:
        raise InputError(f"the model has no input named {', '.join(unknown)}",
                         hint=f"its inputs are: {', '.join(names) or 'none'}")
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for value in graph.inputs:
        random = random_input(value, rng)  # drawn even when given, so other inputs stay stable
        feeds[value.name] = _check_given(value, given[value.name]) if value.name in given else random
    return feeds


def _check_given(value: Value, array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if tuple(array.shape) != tuple(value.shape):
        raise InputError(f"input {value.name} has shape {list(array.shape)}, "
                         f"the model expects {list(value.shape)}",
                         hint="save an array of that shape, or change the model's shape with --shape")
    want = value.dtype.numpy
    if array.dtype != want:
        if not np.can_cast(array.dtype, want, casting="same_kind"):
            raise InputError(f"input {value.name} has dtype {array.dtype}, "
                             f"the model expects {want}", hint=f"save it as {want}")
        array = array.astype(want)
    return array
