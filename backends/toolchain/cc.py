"""The system C compiler as compiler and linker driver: C sources (and object files, e.g. from
LLVM) plus the C runtime (``runtime/c``) into a shared library.

Why the system compiler: it is also the linker driver, so the LLVM backend needs it too (to link
its object with the runtime), and the C backend needs nothing else on the host. Failures are
``MlcError``s naming what to install, because a missing toolchain is the user's environment, not a
bug in mlc.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Iterable, Sequence

from mlc.errors import MlcError

from .tools import Tool, ToolchainError

# The C runtime's sources, linked into every library: runtime/c in a checkout and mlc/runtime/c
# when installed (both two folders above this package).
RUNTIME_DIR = Path(__file__).resolve().parents[2] / "runtime" / "c"
RUNTIME_SOURCES = ("runtime.c", "thread_pool.c")
# -fvisibility=hidden: only MLC_EXPORT symbols (the ABI) leave the library, so two models loaded
# into one process never bind to each other's runtime.
BASE_FLAGS = ("-O3", "-fPIC", "-shared", "-pthread", "-fvisibility=hidden")
COMPILERS = ("cc", "gcc", "clang")
INSTALL_HINT = "install a C compiler, e.g. `apt-get install gcc` (Debian/Ubuntu), or set CC"


class BuildError(MlcError):
    """The compiler or linker rejected the sources; ``log`` holds its full output."""

    def __init__(self, message: str, hint: str | None = None, log: str = ""):
        super().__init__(message, hint)
        self.log = log


def find_c_compiler() -> str:
    """The compiler to use: ``$CC`` if set, else the first of cc, gcc, clang on PATH."""
    wanted = os.environ.get("CC")
    if wanted:
        found = shutil.which(wanted)
        if found is None:
            raise ToolchainError(f"C compiler CC={wanted!r} not found", hint=INSTALL_HINT)
        return found
    for name in COMPILERS:
        found = shutil.which(name)
        if found is not None:
            return found
    raise ToolchainError(f"no C compiler found (looked for {', '.join(COMPILERS)} on PATH)",
                         hint=INSTALL_HINT)


class _CCompiler(Tool):
    """The C compiler as a target's required tool: ``$CC`` or the first of cc, gcc, clang."""

    def find(self) -> str | None:
        try:
            return find_c_compiler()
        except ToolchainError:
            return None


C_COMPILER = _CCompiler("cc", INSTALL_HINT)


def build_shared_library(sources: Sequence[str | os.PathLike], output: str | os.PathLike, *,
                         objects: Iterable[str | os.PathLike] = (),
                         flags: Iterable[str] = (),
                         include_dirs: Iterable[str | os.PathLike] = (),
                         with_runtime: bool = True,
                         cc: str | None = None,
                         timeout_s: float = 600.0) -> Path:
    """Build ``output`` (e.g. ``model.so``) from C ``sources`` plus ``objects`` and, unless
    ``with_runtime`` is false, the runtime's C files; ``runtime/c`` is always on the include
    path (``#include "mlc_runtime.h"``). ``flags`` go after the base flags (-O3 -fPIC -shared
    -pthread -fvisibility=hidden), e.g. ``-march=native`` or ``-std=c99``.

    The library is written under a temporary name and renamed, so ``output`` is either the old
    file or the complete new one, never half-written.
    """
    compiler = cc or find_c_compiler()
    output = Path(output)
    inputs = [Path(s) for s in sources] + [Path(o) for o in objects]
    for path in inputs:
        if not path.is_file():
            raise BuildError(f"cannot build {output.name}: {path} does not exist")
    if with_runtime:
        inputs += [RUNTIME_DIR / name for name in RUNTIME_SOURCES]
    includes = [f"-I{RUNTIME_DIR}"] + [f"-I{d}" for d in include_dirs]
    temporary = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    command = [compiler, *BASE_FLAGS, *includes, *flags, *map(str, inputs), "-o", str(temporary),
               "-lm"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise ToolchainError(f"C compiler {compiler} cannot be run", hint=INSTALL_HINT) from None
    except subprocess.TimeoutExpired:
        temporary.unlink(missing_ok=True)
        raise BuildError(f"building {output.name} took over {timeout_s:.0f} s and was stopped"
                         ) from None
    if result.returncode != 0:
        temporary.unlink(missing_ok=True)
        log = result.stderr + result.stdout
        raise _build_failure(output.name, compiler, log)
    os.replace(temporary, output)
    return output


def _build_failure(name: str, compiler: str, log: str) -> MlcError:
    """Turn the compiler's output into one line: the first error, and a fix when it is the
    toolchain (no linker, no libc headers) rather than the sources."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    first = next((line for line in lines if "error" in line.lower()), lines[0] if lines else "")
    text = log.lower()
    if re.search(r"cannot (find|execute) \W?(ld|as)\b", text) or "linker command failed" in text \
            or ("collect2" in text and "not found" in text) or "ld returned" in text:
        return ToolchainError(f"the system linker or assembler is missing or broken ({first})",
                              hint="install binutils, e.g. `apt-get install binutils`")
    if re.search(r"(stdio|stddef|stdint|stdlib|string|math|time|pthread)\.h'?: no such file", text):
        return ToolchainError(f"the C library headers are missing ({first})",
                              hint="install them, e.g. `apt-get install libc6-dev`")
    return BuildError(f"{os.path.basename(compiler)} failed to build {name}: {first}", log=log)
