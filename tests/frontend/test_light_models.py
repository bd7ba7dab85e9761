"""The nine real-architecture "light" models shipped in the onnx wheel, end to end: load_onnx,
run with the reference interpreter, compare with the expected outputs stored next to them.

Those outputs were computed (onnx/backend/test/runner) on a deterministic input, not a random
one: ``arange(n).reshape(shape) / n`` in float32 for the one non-initializer input (see
``Runner.generate_dummy_data(..., random=False)``), so we rebuild exactly that input.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from mlc import interp
from mlc.frontend import load_onnx
from mlc.testing.models import LIGHT_MODELS, light_model_path

# rtol as the onnx backend test declares per model (onnx/backend/test/case/model/__init__.py)
RTOL = {"densenet121": 2e-3}


def dummy_input(shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model_matches_expected_output(name: str) -> None:
    path = light_model_path(name)
    graph = load_onnx(path)
    assert len(graph.inputs) == 1
    x = graph.inputs[0]
    (got,) = interp.run(graph, {x.name: dummy_input(tuple(x.shape))}).values()
    expected = numpy_helper.to_array(onnx.load_tensor(str(path).replace(".onnx", "_output_0.pb")))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=RTOL.get(name, 1e-3), atol=1e-7)
