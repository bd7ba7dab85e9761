"""Give every graph input a static shape: declared dims, overridden by the user's ``--shape``.

ONNX inputs often have symbolic dims (``batch``, ``seq``) or none at all. The IR is static, so
each symbolic dim must get a value from ``shapes``. A dim_param bound by one input's shape binds
the same name in every other input (``batch`` is one number throughout the model).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import onnx

from mlc.errors import ShapeError
from mlc.ir import Graph, TensorType

from .converters.context import onnx_dtype
from .errors import UnsupportedTypeError

Shapes = Mapping[str, Sequence[int]]
Dim = int | str | None  # static, symbolic (dim_param), or unknown


#: What some exporters write as the dim_param of every unknown dim: a placeholder, not a name
#: (onnxruntime treats each one as independent, and so does mlc).
ANONYMOUS_DIM = "?"


def declared_dims(info: onnx.ValueInfoProto) -> list[Dim] | None:
    """The dims an ONNX input declares; None when the model gives no shape (rank unknown)."""
    tensor = info.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return [int(d.dim_value) if d.HasField("dim_value") and d.dim_value >= 0
            else None if d.dim_param == ANONYMOUS_DIM else d.dim_param or None
            for d in tensor.shape.dim]


def _example(name: str, dims: Sequence[Dim] | None) -> str:
    if dims is None:
        return f"--shape {name}=d0,d1,..."
    return f"--shape {name}=" + ",".join(str(d) if isinstance(d, int) else "1" for d in dims)


def check_names(what: str, given: Iterable[str], known: Sequence[str]) -> None:
    """Every name that ``what`` (--shape, bind) gives must be one of the model's inputs."""
    unknown = [n for n in given if n not in known]
    if unknown:
        raise ShapeError(f"{what} names unknown input(s) {', '.join(repr(n) for n in unknown)}",
                         hint="the model's inputs are: " + (", ".join(known) or "none"))


def _given(name: str, shape: Sequence[int]) -> list[int]:
    dims = [int(d) for d in shape]
    if any(d < 0 for d in dims):
        raise ShapeError(f"--shape for input '{name}' has a negative dim: {dims}")
    return dims


def input_types(inputs: Sequence[onnx.ValueInfoProto],
                shapes: Shapes | None) -> dict[str, TensorType]:
    """Static types for the model's real inputs (initializer-backed ones excluded by the caller)."""
    shapes = dict(shapes or {})
    declared = {}
    for info in inputs:
        if info.type.WhichOneof("value") != "tensor_type":
            kind = info.type.WhichOneof("value")
            raise UnsupportedTypeError(f"input '{info.name}' is not a tensor ({kind}); "
                                       "mlc supports tensors only")
        declared[info.name] = declared_dims(info)
    check_names("--shape", shapes, list(declared))

    # First pass: what the given shapes say about each dim_param.
    params: dict[str, tuple[int, str]] = {}
    for name, shape in shapes.items():
        dims = declared[name]
        given = _given(name, shape)
        if dims is not None and len(dims) != len(given):
            raise ShapeError(f"--shape {name}={','.join(map(str, given))} has rank {len(given)}, "
                             f"but input '{name}' has rank {len(dims)}",
                             hint=f"e.g. {_example(name, dims)}")
        for axis, (d, g) in enumerate(zip(dims or [], given)):
            if isinstance(d, int) and d != g:
                raise ShapeError(f"--shape {name}: dim {axis} is {g}, but the model fixes it to {d}",
                                 hint=f"e.g. {_example(name, dims)}")
            if isinstance(d, str):
                if d in params and params[d][0] != g:
                    raise ShapeError(f"dim '{d}' is {params[d][0]} for input '{params[d][1]}' but "
                                     f"{g} for input '{name}'")
                params[d] = (g, name)

    types: dict[str, TensorType] = {}
    for info in inputs:
        name, dims = info.name, declared[info.name]
        dtype = onnx_dtype(info.type.tensor_type.elem_type, f"input '{name}'")
        if name in shapes:
            types[name] = TensorType(_given(name, shapes[name]), dtype)
            continue
        if dims is None:
            raise ShapeError(f"input '{name}' has no shape in the model",
                             hint=f"give it: {_example(name, None)}")
        resolved = []
        for axis, d in enumerate(dims):
            if isinstance(d, str) and d in params:
                d = params[d][0]
            if not isinstance(d, int):
                what = f"symbolic dim '{d}'" if d else "an unknown dim"
                raise ShapeError(f"input '{name}' has {what} at axis {axis}; mlc needs static shapes",
                                 hint=f"specialise it, e.g. {_example(name, dims)}")
            resolved.append(d)
        types[name] = TensorType(resolved, dtype)
    return types


def check_shapes_match(graph: Graph, shapes: Shapes | None) -> None:
    """For an already static graph (a ``.mlc`` file): every given shape must name an input and
    equal its shape, since there is nothing left to specialise."""
    if not shapes:
        return
    by_name = {v.name: v for v in graph.inputs}
    check_names("--shape", shapes, list(by_name))
    for name, shape in shapes.items():
        expected = list(by_name[name].shape)
        given = _given(name, shape)
        if given != expected:
            raise ShapeError(f"--shape {name}={','.join(map(str, given))} disagrees with the "
                             f"graph's static shape {expected}",
                             hint="a .mlc graph is already specialised; re-import the ONNX model "
                                  "with the new shape")
