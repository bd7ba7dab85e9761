"""Shared test configuration. Model paths live in mlc.testing.models so benchmarks can use them."""

from __future__ import annotations

from typing import Callable

import pytest

from mlc.runtime.targets import TARGETS, Runner, Target, register_target


@pytest.fixture
def scratch_target():
    """``add(name, runner)`` registers an in-process target for one test whose ``prepare``
    calls ``runner(model, threads) -> Runner`` (the registry is global, so it is removed after)."""
    added: list[str] = []

    def add(name: str, runner: Callable[..., Runner]) -> Target:
        added.append(name)
        return register_target(Target(name, f"test target {name}", runner=runner))

    yield add
    for name in added:
        TARGETS.remove(name)
