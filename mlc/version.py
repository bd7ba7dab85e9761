"""mlc's version, read from the installed distribution (pyproject.toml states it, once)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlc")
except PackageNotFoundError:  # a checkout on sys.path that was never installed
    __version__ = "0+unknown"
