"""External tools (compilers, emulators) and the one line that installs each.

A missing tool is the user's environment, not a bug in mlc: it is a ``ToolchainError`` naming the
tool and how to install it. Targets list the tools they need (``mlc targets`` shows them), and a
backend asks for each with ``require`` before it starts work.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass

from mlc.errors import MlcError


class ToolchainError(MlcError):
    """A tool mlc needs (C compiler, linker, cross compiler, emulator) is missing or unusable."""


@dataclass(frozen=True)
class Tool:
    """An executable looked up on PATH, and how to install it."""

    name: str
    hint: str

    def find(self) -> str | None:
        """Where the tool is, or None."""
        return shutil.which(self.name)

    def require(self) -> str:
        """The tool's path, or a ToolchainError with the install hint."""
        found = self.find()
        if found is None:
            raise ToolchainError(f"{self.name} not found on PATH", hint=self.hint)
        return found


class PythonPackage(Tool):
    """An optional Python package a target imports (``name`` is its import name)."""

    def find(self) -> str | None:
        spec = importlib.util.find_spec(self.name)
        return None if spec is None else (spec.origin or self.name)


ARM_HINT = "apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
CMAKE = Tool("cmake", "apt-get install -y cmake")
ARM_GCC = Tool("arm-none-eabi-gcc", ARM_HINT)
ARM_SIZE = Tool("arm-none-eabi-size", ARM_HINT)
QEMU_ARM = Tool("qemu-system-arm", ARM_HINT)
