"""Pass: a named, declared graph transformation whose options are dataclass fields.

Writing a pass::

    @register_pass("drop-identity")
    @dataclass
    class DropIdentity(Pass):
        \"\"\"Replace every identity node by its input.\"\"\"
        keep_outputs: bool = True        # set from the CLI as drop-identity{keep-outputs=false}

        def run(self, graph: Graph) -> bool:
            ...                          # mutate graph in place; return whether anything changed

The first docstring line is the pass's one-line summary in ``mlc passes``. Options are the
dataclass fields; on the command line their underscores are written as dashes. A pass that sets
``bodies = True`` is also run by the PassManager on the body of every fused node (innermost
first, then the graph holding them), so no pass walks into bodies itself.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, ClassVar, TypeVar

from mlc.errors import MlcError
from mlc.ir import Graph
from mlc.registry import Registry


class PassError(MlcError):
    """A pipeline could not be built (unknown pass, bad option) or a pass broke the graph."""


class Pass:
    """Base class of every pass. Subclasses are dataclasses registered with ``@register_pass``."""

    name: ClassVar[str] = ""
    bodies: ClassVar[bool] = False  # also run on the bodies of fused nodes (by the PassManager)

    def run(self, graph: Graph) -> bool:
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @classmethod
    def options(cls) -> list[dataclasses.Field]:
        return list(dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else []

    def spec(self) -> str:
        """This pass as it would be written in a pipeline string, non-default options included."""
        changed = [f"{option_name(f.name)}={format_option(getattr(self, f.name))}"
                   for f in self.options()
                   if f.default is dataclasses.MISSING or not getattr(self, f.name) == f.default]
        return self.name + ("{" + ",".join(changed) + "}" if changed else "")

    def __str__(self) -> str:
        return self.spec()


PASSES: Registry[type[Pass]] = Registry("pass", load=lambda: importlib.import_module("mlc.passes"))
P = TypeVar("P", bound=type[Pass])


def register_pass(name: str) -> Callable[[P], P]:
    """Class decorator: make the pass available by ``name`` in pipelines and ``mlc passes``."""

    def wrap(cls: P) -> P:
        if "__dataclass_fields__" not in cls.__dict__:  # a subclass of a dataclass pass, too
            cls = dataclasses.dataclass(cls)  # type: ignore[assignment]
        PASSES.add(name, cls)
        cls.name = name
        return cls

    return wrap


def all_passes() -> dict[str, type[Pass]]:
    return dict(sorted(PASSES.items()))


def get_pass(name: str) -> type[Pass]:
    cls = PASSES.get(name)
    if cls is None:
        raise PassError(f"unknown pass {name!r}", hint="known passes: " + ", ".join(sorted(PASSES)))
    return cls


def option_name(field_name: str) -> str:
    return field_name.replace("_", "-")


def format_option(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_option(cls: type[Pass], field: dataclasses.Field, text: str) -> Any:
    """Convert ``text`` to the field's declared type (bool, int, float or str)."""
    kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "str")
    try:
        if kind == "bool":
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise PassError(f"option {option_name(field.name)} of pass {cls.name} takes {kind} values, "
                        f"not {text!r}") from None
    return text


def make_pass(name: str, options: dict[str, str] | None = None) -> Pass:
    """Instantiate pass ``name`` with options given as strings (CLI spelling, dashes allowed)."""
    cls = get_pass(name)
    fields = {option_name(f.name): f for f in cls.options()}
    kwargs: dict[str, Any] = {}
    for key, text in (options or {}).items():
        field = fields.get(option_name(key))
        if field is None:
            known = ", ".join(f"{n} (default {format_option(f.default)})" for n, f in fields.items()
                              if f.default is not dataclasses.MISSING) or "none"
            raise PassError(f"pass {name} has no option {key!r}", hint=f"its options: {known}")
        kwargs[field.name] = parse_option(cls, field, text)
    return cls(**kwargs)
