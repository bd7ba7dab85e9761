"""Identifiers from untrusted names: model, tensor and kernel names never reach generated code
(C, or TVM's PrimFunc names and through them CUDA) unsanitized.

A model file chooses its own tensor names, so a name may hold ``*/``, quotes, newlines, a C
keyword, a leading digit or non-ASCII text. Every identifier the C renderer and the TVM backend
write goes through ``NameTable``: only ``[A-Za-z0-9_]`` survive (runs of anything else become
one ``_``, so no ``__`` reserved identifier appears), each kind of name gets a fixed prefix that
no keyword or library symbol starts with, names are cut to a bounded length, and collisions get
a numeric suffix. Comments in generated code show only these sanitized forms.
"""

from __future__ import annotations

import re

C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline
int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while _Bool _Complex _Imaginary bool true false NULL
""".split())

# Names the generated code itself uses, which a loop variable must not shadow.
RESERVED = frozenset("""
ctx ws arena inputs outputs it count n memcpy size_t int8_t int16_t int32_t int64_t uint8_t
uint16_t uint32_t uint64_t uintptr_t main errno
""".split())

MAX_LENGTH = 48
_SAFE_VARIABLE = re.compile(r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*")


def clean(raw: str) -> str:
    """``raw`` reduced to ASCII letters, digits and single underscores (may be empty)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", raw).strip("_")[:MAX_LENGTH].rstrip("_")


class NameTable:
    """Unique C identifiers within one scope (a file or a function)."""

    def __init__(self, taken: set[str] | frozenset[str] = frozenset()):
        self.taken = set(taken) | C_KEYWORDS | RESERVED

    def unique(self, candidate: str) -> str:
        name, k = candidate, 2
        while name in self.taken:
            name, k = f"{candidate}_{k}", k + 1
        self.taken.add(name)
        return name

    def prefixed(self, raw: str, prefix: str) -> str:
        """``prefix`` + the cleaned ``raw`` (``prefix`` starts with a letter and ends with
        ``_``, so the result is never a keyword and never starts with a digit)."""
        body = clean(raw)
        return self.unique(prefix + body if body else prefix.rstrip("_"))

    def variable(self, raw: str) -> str:
        """A loop variable or local: kept as written when it is already a plain identifier of
        mlc's own making (``i0``, ``acc3``), else prefixed with ``v_``."""
        if _SAFE_VARIABLE.fullmatch(raw) and len(raw) <= MAX_LENGTH and \
                not raw.startswith("mlc_") and raw not in self.taken:
            self.taken.add(raw)
            return raw
        return self.prefixed(raw, "v_")
