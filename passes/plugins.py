"""Pass plugins: a user's Python file whose ``@register_pass`` classes join the registry.

``mlc opt M -p my-pass --load-pass my_pass.py`` imports ``my_pass.py`` as a plugin
(``mlc.plugins``: by path, under a unique module name, once per content). Loading it after an
edit replaces the passes it registered before. Any failure is one PassError line naming the
file.
"""

from __future__ import annotations

import os
from types import ModuleType

from mlc.plugins import load_plugin

from . import base
from .base import PassError


def load_pass_plugin(path: str | os.PathLike) -> ModuleType:
    """Import the Python file at ``path`` so the passes it registers can be named in pipelines.

    Returns the module. Raises PassError for a missing or unreadable file, a syntax error (with
    its line) or an exception while importing (with the plugin's line it came from).
    """
    base.all_passes()  # built-ins first, so a plugin reusing a built-in name fails clearly
    return load_plugin(path, kind="pass plugin", error=PassError, forget=_unregister_module)


def plugin_passes(module: ModuleType) -> list[str]:
    """Names of the passes ``module`` (a loaded plugin) registered."""
    return sorted(n for n, cls in base.PASSES.items() if cls.__module__ == module.__name__)


def _unregister_module(module_name: str) -> None:
    for pass_name, cls in base.PASSES.items():
        if cls.__module__ == module_name:
            base.PASSES.remove(pass_name)


__all__ = ["load_pass_plugin", "plugin_passes"]
