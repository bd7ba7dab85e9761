"""Skipping honestly: a test that needs a missing tool skips on a developer's machine, but fails
in CI (CI=true), where `make test` installs everything and a skip would hide a broken install."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_outside_ci(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} — in CI this must be installed (make test installs it)")
    pytest.skip(reason)


def need_module(name: str, reason: str) -> None:
    """At a test module's top: skip the whole module (outside CI) unless ``name`` imports."""
    try:
        __import__(name)
    except ImportError:
        if in_ci():
            pytest.fail(f"{reason} — in CI this must be installed (make test installs it)",
                        pytrace=False)
        pytest.skip(reason, allow_module_level=True)


def need_target(name: str) -> None:
    """Skip (outside CI) when a tool the target ``name`` needs is missing here."""
    from mlc.runtime import get_target

    missing = get_target(name).missing_tools()
    if missing:
        skip_outside_ci(f"{name} needs {missing[0].name} ({missing[0].hint})")
