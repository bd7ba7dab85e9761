"""`mlc show --stats` agrees with the zoo builders' own layer-by-layer counts (models/zoo.json).

The builders count MACs from layer shapes without mlc; the registry's cost functions count them
from the imported graph. Two independent counts agreeing checks both.
"""

from __future__ import annotations

import json

import pytest

import mlc
from mlc.stats import graph_stats
from mlc.testing.models import MODELS_DIR, ZOO_MODELS

ZOO = json.loads((MODELS_DIR / "zoo.json").read_text())


@pytest.mark.parametrize("name", ZOO_MODELS)
def test_macs_and_params_match_the_builders(name):
    stats = graph_stats(mlc.load(MODELS_DIR / ZOO[name]["file"]))
    assert stats["macs"] == ZOO[name]["macs"]
    # The builders count initializers; mlc also counts scalar Constant nodes (e.g. attention's
    # 1/sqrt(d)), a handful of elements at most.
    assert 0 <= stats["params"] - ZOO[name]["params"] <= 16
