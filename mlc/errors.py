"""User-facing errors.

Every mistake a user can make (bad model file, unsupported op, unresolved dim, missing toolchain)
raises an :class:`MlcError`. The CLI prints ``error: <message>`` plus the hint on one line and exits
non-zero; anything else escaping is a bug in mlc and keeps its traceback.
"""

from __future__ import annotations


class MlcError(Exception):
    """An error caused by the user's input or environment, reported without a traceback."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        if self.hint:
            text += f" ({' '.join(self.hint.split())})"
        return text


class ModelLoadError(MlcError):
    """The model file is unreadable, malformed or unsafe."""


class UnsupportedOpError(MlcError):
    """The model uses ops mlc cannot import; the message lists all of them with counts."""


class ShapeError(MlcError):
    """Shapes do not agree, or a symbolic dim is unresolved."""


class VerifyError(MlcError):
    """The graph breaks an IR invariant; the message shows the offending node in IR text."""


class ParseError(MlcError):
    """The textual IR could not be parsed; the message has line, column and what was expected.

    The full message adds the offending source line with a caret under the column; the one-line
    form (what the CLI prints) keeps the first line, which already names file, line and column.
    """

    def one_line(self) -> str:
        first = self.message.splitlines()[0] if self.message else ""
        return MlcError(first, self.hint).one_line()


def first_line(exc: BaseException) -> str:
    """The first non-blank line of a third-party exception's message (onnxruntime's and TVM's
    go on for pages: a C++ trace, the offending TIR), or its type's name when it has none."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def single_line(text: object, limit: int | None = None) -> str:
    """``text`` on one line (every run of whitespace, newlines included, becomes one space), cut
    to ``limit`` characters with an ellipsis: for table cells and one-line reports."""
    flat = " ".join(str(text).split())
    return flat if limit is None or len(flat) <= limit else flat[:limit - 1] + "…"
