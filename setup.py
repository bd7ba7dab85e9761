"""Package list for setuptools (metadata lives in pyproject.toml).

`passes/`, `backends/` and `runtime/` sit at the repository root to show the architecture but are
installed as `mlc.passes`, `mlc.backends` and `mlc.runtime`. A wheel only ships packages it is told
about, so the list, sub-packages included, is generated here instead of written by hand.
"""

from setuptools import find_packages, setup

PACKAGE_DIRS = {"mlc": "mlc", "mlc.passes": "passes", "mlc.backends": "backends",
                "mlc.runtime": "runtime"}

packages = []
for package, folder in PACKAGE_DIRS.items():
    packages.append(package)
    packages += [f"{package}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=PACKAGE_DIRS)
