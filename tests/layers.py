"""``lint-imports`` over mlc's layers, the way import-linter can see them.

mlc installs ``passes/``, ``backends/`` and ``runtime/`` as ``mlc.passes``, ``mlc.backends`` and
``mlc.runtime`` (a setuptools package-dir mapping), but import-linter's graph builder (grimp)
finds a package's modules by walking the folder of ``mlc`` itself. So the check runs on a view:
a folder whose ``mlc/`` links to every entry of the real ``mlc/`` plus each mapped sub-package
at its import path. Nothing is copied; the contracts are pyproject.toml's
``[tool.importlinter]``.

    python tests/layers.py              # what `make lint` runs; exit status of lint-imports
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "mlc"
MAPPED = ("passes", "backends", "runtime")  # setup.py's package-dir mapping
REPO_CONFIG = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name} is not an importable package")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def import_view(dest: Path) -> Path:
    """Make ``dest/mlc``, linking each entry of mlc's folder and each sub-package that lives
    elsewhere (``MAPPED``, as setup.py maps them); returns ``dest``, to go first on
    ``PYTHONPATH``."""
    root = _package_dir(PACKAGE)
    view = dest / PACKAGE
    view.mkdir(parents=True)
    for entry in root.iterdir():
        if entry.name != "__pycache__":
            (view / entry.name).symlink_to(entry)
    for name in MAPPED:
        folder = _package_dir(f"{PACKAGE}.{name}")
        if folder.parent != root:  # an installed wheel nests them already
            (view / name).symlink_to(folder)
    return dest


def lint_imports(view: Path, config: Path = REPO_CONFIG) -> subprocess.CompletedProcess:
    """Run import-linter on ``view`` (from :func:`import_view`) with ``config``'s contracts."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(view), *filter(None, [os.environ.get("PYTHONPATH")])]))
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--no-cache", "--no-logo", str(config)], cwd=view,
                          env=env, capture_output=True, text=True, timeout=300)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mlc-layers-") as tmp:
        result = lint_imports(import_view(Path(tmp)))
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
