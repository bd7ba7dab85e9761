"""Pipeline strings (``simplify,fuse{max-group=8}``) and the named -O levels, in one place."""

from __future__ import annotations

import re

from .base import Pass, PassError, make_pass

# The -O levels. Each is a pipeline string, so `mlc passes` can print exactly what a level runs.
# There is no -O3 until a level does more than -O2 (per-target layout and schedule choices).
PIPELINES: dict[str, str] = {
    "O0": "",
    "O1": "simplify,fold-constants,cse,dce",
    "O2": "simplify,fold-constants,cse,fold-bn,canonicalize,simplify,fold-constants,dce,fuse",
}

_ITEM = re.compile(r"\s*([A-Za-z0-9_\-]+)\s*(?:\{([^{}]*)\})?\s*(?:,|$)")


def parse_pipeline(text: str) -> list[Pass]:
    """``"dce,fuse{max-group=8}"`` → passes; ``"-O2"``/``"O2"`` → that level's passes."""
    text = text.strip()
    level = text.lstrip("-")
    if level in PIPELINES:
        return parse_pipeline(PIPELINES[level]) if PIPELINES[level] else []
    passes: list[Pass] = []
    position = 0
    while position < len(text):
        match = _ITEM.match(text, position)
        if match is None or match.end() == position:
            raise PassError(f"cannot parse pipeline {text!r} at character {position + 1}",
                            hint="write passes as name or name{option=value,...}, separated by commas")
        name, body = match.group(1), match.group(2)
        options: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in (body or "").split(","))):
            if "=" not in item:
                raise PassError(f"option {item!r} of pass {name} needs a value", hint="write option=value")
            key, value = item.split("=", 1)
            options[key.strip()] = value.strip()
        passes.append(make_pass(name, options))
        position = match.end()
    return passes


def pipeline_string(passes: list[Pass]) -> str:
    return ",".join(p.spec() for p in passes)
