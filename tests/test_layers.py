"""Layers only point down (cli/driver → runtime → backends → passes/memory → frontend/text → ops →
ir): pyproject.toml's import-linter contract holds for the tree, and breaks — naming the import
— when a module of mlc/ir or mlc/ops imports a backend."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.layers import PACKAGE, import_view, lint_imports

LEAK = "from mlc.backends.loop import ir as loop_ir  # a lower layer reaching up\n"


def test_the_tree_keeps_its_layers(tmp_path):
    result = lint_imports(import_view(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("layer", ["ir", "ops"])
def test_a_low_layer_importing_a_backend_breaks_the_contract(layer, tmp_path):
    view = import_view(tmp_path)
    folder = view / PACKAGE / layer
    real = folder.resolve()
    folder.unlink()
    shutil.copytree(real, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "_leak.py").write_text(LEAK)
    result = lint_imports(view)
    assert result.returncode != 0
    assert f"mlc.{layer} is not allowed to import mlc.backends" in result.stdout
    assert f"mlc.{layer}._leak -> mlc.backends.loop" in result.stdout


def test_the_view_links_the_mapped_packages_where_they_are_imported_from(tmp_path):
    view = import_view(tmp_path) / PACKAGE
    for name in ("passes", "backends", "runtime"):
        assert (view / name / "__init__.py").resolve() == \
            Path(__import__(f"mlc.{name}", fromlist=["_"]).__file__).resolve()
