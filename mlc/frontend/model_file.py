"""A model file of either kind: ``.onnx`` (imported) or ``.mlc`` (mlc's textual IR).

The one place that tells the two apart, for ``mlc.load``/``mlc.save`` and for the runtime's
``Model``, which sit above the frontend and the text format and use both.
"""

from __future__ import annotations

import os
from typing import Mapping, Sequence

from mlc.ir import Graph

Shapes = Mapping[str, Sequence[int]]


def load_model(path: str | os.PathLike, shapes: Shapes | None = None) -> Graph:
    """Load an ``.onnx`` model (imported safely, symbolic dims specialised from ``shapes``) or an
    ``.mlc`` textual IR file (its sidecar ``.npz`` holds the large constants)."""
    path = os.fspath(path)
    if path.endswith(".mlc"):
        from mlc.text import load_text

        from .specialize import check_shapes_match

        graph = load_text(path)
        if shapes:
            check_shapes_match(graph, shapes)
        return graph
    from .importer import load_onnx

    return load_onnx(path, shapes=shapes)


def save_model(graph: Graph, path: str | os.PathLike) -> None:
    """Write ``graph`` as textual IR (``.mlc`` plus sidecar ``.npz``) or as ONNX (``.onnx``)."""
    path = os.fspath(path)
    if path.endswith(".onnx"):
        from .export import export_onnx

        export_onnx(graph, path)
    else:
        from mlc.text import save_text

        save_text(graph, path)
