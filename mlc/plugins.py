"""Plugins: a user's Python file, imported by path, whose registrations (passes with
``@register_pass``, targets with ``register_target``) join mlc's registries.

``mlc --plugin my_target.py compile -t my-target …`` (and ``--load-pass`` for passes) imports the
file by path — it need not be on ``sys.path`` or in a package — under a unique module name, so
two plugins both called ``passes.py`` do not collide and no plugin's module name looks like a
built-in one. Loading the same unchanged file again is a no-op; loading it after an edit runs it
again (``forget`` lets a registry drop what the old version registered first). Any failure is
one error line naming the file, and the line of the plugin where it failed.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Callable

from mlc.errors import MlcError

_MODULE_PREFIX = "mlc_plugin_"
_loaded: dict[str, tuple[str, ModuleType]] = {}  # resolved path -> (content digest, module)


class PluginError(MlcError):
    """A plugin file is missing, unreadable, or failed while it was imported."""


def load_plugin(path: str | os.PathLike, *, kind: str = "plugin",
                error: type[MlcError] = PluginError,
                forget: Callable[[str], None] = lambda module_name: None) -> ModuleType:
    """Import the Python file at ``path`` and return the module. ``kind`` names it in errors
    (``pass plugin``), raised as ``error``; ``forget(module_name)`` undoes what a module
    registered, for an edited file being loaded again or a load that failed half way."""
    shown = os.fspath(path)
    file = Path(path)
    if not file.is_file():
        what = "is a folder, not a Python file" if file.is_dir() else "does not exist"
        raise error(f"{kind} {shown} {what}", hint="give the path of a .py file")
    try:
        source = file.read_bytes()
    except OSError as err:
        raise error(f"cannot read {kind} {shown}: {err.strerror or err}") from None
    resolved = str(file.resolve())
    digest = hashlib.sha256(source).hexdigest()[:12]
    if resolved in _loaded and _loaded[resolved][0] == digest:
        return _loaded[resolved][1]
    if resolved in _loaded:  # the same file, edited: what it registered gives way to the new
        old = _loaded.pop(resolved)[1].__name__
        forget(old)
        sys.modules.pop(old, None)
    stem = "".join(c if c.isalnum() else "_" for c in file.stem)
    name = f"{_MODULE_PREFIX}{stem}_{hashlib.sha256(resolved.encode()).hexdigest()[:8]}_{digest}"
    loader = importlib.machinery.SourceFileLoader(name, resolved)
    spec = importlib.util.spec_from_file_location(name, resolved, loader=loader)
    if spec is None:  # pragma: no cover - SourceFileLoader accepts any file name
        raise error(f"cannot load {kind} {shown}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    try:
        loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001  (SystemExit too: a plugin must not end mlc)
        sys.modules.pop(name, None)
        forget(name)
        if isinstance(exc, KeyboardInterrupt):
            raise
        if isinstance(exc, SyntaxError):
            raise error(f"{kind} {shown} has a syntax error at line {exc.lineno}: "
                        f"{exc.msg}") from None
        line = _plugin_line(exc, resolved)
        at = f" at line {line}" if line else ""
        reason = exc.message if isinstance(exc, MlcError) else exc
        raise error(f"{kind} {shown} failed while loading{at}: "
                    f"{type(exc).__name__}: {reason}") from None
    _loaded[resolved] = (digest, module)
    return module


def _plugin_line(exc: BaseException, resolved: str) -> int | None:
    """The deepest line of the plugin file in the exception's traceback."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == resolved:
            line = frame.lineno
    return line
