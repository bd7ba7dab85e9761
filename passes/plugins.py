"""Pass plugins: a user's Python file whose ``@register_pass`` classes join the registry.

``mlc opt M -p my-pass --load-pass my_pass.py`` imports ``my_pass.py`` by path (it need not be on
``sys.path`` or in a package) under a unique module name, so two plugins both called
``passes.py`` do not collide and no plugin's module name looks like a built-in pass's
(``mlc.passes.*``). Loading the same unchanged file again is a no-op; loading it after an edit
replaces the passes it registered before. Any failure is one PassError line naming the file.
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

from . import base
from .base import PassError

_MODULE_PREFIX = "mlc_pass_plugin_"
_loaded: dict[str, tuple[str, ModuleType]] = {}  # resolved path -> (content digest, module)


def load_pass_plugin(path: str | os.PathLike) -> ModuleType:
    """Import the Python file at ``path`` so the passes it registers can be named in pipelines.

    Returns the module. Raises PassError for a missing or unreadable file, a syntax error (with
    its line) or an exception while importing (with the plugin's line it came from).
    """
    shown = os.fspath(path)
    file = Path(path)
    if not file.is_file():
        what = "is a folder, not a Python file" if file.is_dir() else "does not exist"
        raise PassError(f"pass plugin {shown} {what}", hint="give the path of a .py file")
    try:
        source = file.read_bytes()
    except OSError as err:
        raise PassError(f"cannot read pass plugin {shown}: {err.strerror or err}") from None
    resolved = str(file.resolve())
    digest = hashlib.sha256(source).hexdigest()[:12]
    if resolved in _loaded and _loaded[resolved][0] == digest:
        return _loaded[resolved][1]
    if resolved in _loaded:  # the same file, edited: its earlier passes give way to the new ones
        _unregister_module(_loaded.pop(resolved)[1].__name__)

    base.all_passes()  # built-ins first, so a plugin reusing a built-in name fails clearly
    stem = "".join(c if c.isalnum() else "_" for c in file.stem)
    name = f"{_MODULE_PREFIX}{stem}_{hashlib.sha256(resolved.encode()).hexdigest()[:8]}_{digest}"
    loader = importlib.machinery.SourceFileLoader(name, resolved)
    spec = importlib.util.spec_from_file_location(name, resolved, loader=loader)
    if spec is None:  # pragma: no cover - SourceFileLoader accepts any file name
        raise PassError(f"cannot load pass plugin {shown}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    try:
        loader.exec_module(module)
    except SyntaxError as err:
        _forget(name)
        raise PassError(f"pass plugin {shown} has a syntax error at line {err.lineno}: "
                        f"{err.msg}") from None
    except BaseException as exc:  # noqa: BLE001  (SystemExit too: a plugin must not end mlc)
        _forget(name)
        if isinstance(exc, KeyboardInterrupt):
            raise
        line = _plugin_line(exc, resolved)
        at = f" at line {line}" if line else ""
        reason = getattr(exc, "message", None) if isinstance(exc, PassError) else None
        raise PassError(f"pass plugin {shown} failed while loading{at}: "
                        f"{type(exc).__name__}: {reason or exc}") from None
    _loaded[resolved] = (digest, module)
    return module


def plugin_passes(module: ModuleType) -> list[str]:
    """Names of the passes ``module`` (a loaded plugin) registered."""
    return sorted(n for n, cls in base.PASSES.items() if cls.__module__ == module.__name__)


def _plugin_line(exc: BaseException, resolved: str) -> int | None:
    """The deepest line of the plugin file in the exception's traceback."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == resolved:
            line = frame.lineno
    return line


def _forget(module_name: str) -> None:
    """Undo a failed load: drop the module and any pass it registered before failing."""
    sys.modules.pop(module_name, None)
    _unregister_module(module_name)


def _unregister_module(module_name: str) -> None:
    for pass_name, cls in base.PASSES.items():
        if cls.__module__ == module_name:
            base.PASSES.remove(pass_name)
    sys.modules.pop(module_name, None)


__all__ = ["load_pass_plugin", "plugin_passes"]
