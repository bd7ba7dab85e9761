"""Registry: one name → entry table, the one shape behind every "look it up by name" in mlc.

Ops, ONNX converters and exporters, loop-IR lowerings, TVM computes, passes and targets are each
a Registry.
What they share is written once here: refusing a name registered twice (a plugin reusing a
built-in name, two modules defining the same op), loading the built-in entries on first use
(importing a package registers its modules' entries, but only when someone asks), and
unregistering what a plugin added. What differs — the entry type, the error an unknown name
raises — stays with each registry's owner, which wraps ``get`` in its own lookup.

    OPS: Registry[OpDef] = Registry("op", load=lambda: importlib.import_module("mlc.ops"))
    OPS.add("relu", OpDef(...))
    OPS.get("relu")          # None if unknown: the caller raises its own error with a hint

    TE_OPS: Registry[Callable] = Registry("TE compute")
    @TE_OPS.register("add", "sub")   # entries that are functions: one decorator, several names
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
F = TypeVar("F", bound=Callable)


class Registry(Generic[T]):
    """Entries of one ``kind`` by name, in registration order. ``load`` runs once, before the
    first read, to import the modules that register the built-in entries."""

    def __init__(self, kind: str, load: Callable[[], object] | None = None):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._load = load
        self._loaded = load is None

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` as ``name``; a second, different entry for a name is a bug (or a
        plugin shadowing a built-in) and raises ValueError. Re-adding the same entry is a no-op,
        so re-importing a module does no harm. The built-ins load first, so they keep their
        order and a plugin cannot take a built-in's name."""
        self._ensure_loaded()
        if name in self._entries and self._entries[name] is not entry:
            raise ValueError(f"{self.kind} {name} registered twice")
        self._entries[name] = entry
        return entry

    def register(self, *names: str) -> Callable[[F], F]:
        """Decorator: add the function under each of ``names`` (one lowering serving several ops)
        and return it unchanged, for registries whose entries are the functions themselves."""

        def wrap(fn: F) -> F:
            for name in names:
                self.add(name, fn)  # type: ignore[arg-type]
            return fn

        return wrap

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T | None:
        self._ensure_loaded()
        return self._entries.get(name)

    def __getitem__(self, name: str) -> T:
        """The entry of a name known to be there (KeyError otherwise): for code that checked
        ``in`` first. Names a user typed go through ``get`` and the owner's own error."""
        self._ensure_loaded()
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        self._ensure_loaded()
        return iter(list(self._entries))

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._entries)

    def names(self) -> list[str]:
        """Names in registration order."""
        return list(self)

    def items(self) -> list[tuple[str, T]]:
        self._ensure_loaded()
        return list(self._entries.items())

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._loaded = True  # before loading: the modules it imports read the registry too
            assert self._load is not None
            self._load()

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"
