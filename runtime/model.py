"""The model a runtime command works on: a file path plus the shapes that specialise it.

Targets need the model in different forms — the reference interpreter the mlc graph, onnxruntime
ONNX bytes, compiled targets the graph again — and loading is the slow part of small runs, so each
form is produced once, on first use, and shared by every target of a ``compare``.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Mapping, Sequence

from mlc.errors import ModelLoadError
from mlc.ir.graph import Graph

MODEL_SUFFIXES = (".onnx", ".mlc")


def check_model_path(path: str | os.PathLike) -> str:
    """The path as a string, or a ModelLoadError saying why it cannot be a model."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelLoadError(f"model file not found: {path}")
    if os.path.isdir(path):
        raise ModelLoadError(f"{path} is a directory, not a model file",
                             hint="give an .onnx or .mlc file")
    if not path.endswith(MODEL_SUFFIXES):
        raise ModelLoadError(f"{path} is neither an .onnx nor an .mlc file",
                             hint="mlc reads ONNX models (.onnx) and its textual IR (.mlc)")
    return path


class Model:
    """A model file, loaded lazily into the forms targets ask for."""

    def __init__(self, path: str | os.PathLike,
                 shapes: Mapping[str, Sequence[int]] | None = None):
        self.path = check_model_path(path)
        self.shapes = dict(shapes or {})

    @classmethod
    def from_graph(cls, graph: Graph, onnx_model: str | bytes | None = None) -> Model:
        """An in-memory model, e.g. a graph after passes, to run or compare without saving it.
        onnxruntime runs ``onnx_model`` (a path or serialized bytes) if given, else the export."""
        model = cls.__new__(cls)
        model.path = f"<graph @{graph.name}>"
        model.shapes = {}
        model.__dict__["graph"] = graph  # fills the cached property
        if onnx_model is not None:
            model.__dict__["onnx_model"] = onnx_model
        return model

    @property
    def name(self) -> str:
        return os.path.splitext(os.path.basename(self.path))[0]

    @property
    def is_onnx(self) -> bool:
        return self.path.endswith(".onnx")

    @cached_property
    def graph(self) -> Graph:
        """The mlc graph, specialised to ``shapes``. Targets must not mutate it: copy first."""
        from mlc.frontend.model_file import load_model

        return load_model(self.path, self.shapes or None)

    @cached_property
    def onnx_model(self) -> str | bytes:
        """What onnxruntime loads: the original file's path for ``.onnx`` (onnxruntime is the
        yardstick, so it runs what the user gave, not mlc's reading of it; a path also lets it find
        external weight files), the serialized export of the graph for ``.mlc``."""
        if self.is_onnx:
            return self.path
        from mlc.frontend.export import to_onnx

        return to_onnx(self.graph).SerializeToString()
