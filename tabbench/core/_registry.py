"""A small name → object registry shared by datasets, splitters, models, metrics and rankers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from tabbench.exceptions import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Map lowercase names to objects; duplicates raise, unknown names list the valid ones.

    ``prepare``, when given, is called before every lookup and listing (not before
    :meth:`register`): the model, splitter and metric registries load the installed
    plugins there on first use (:func:`tabbench.core._plugin_loader.autoload`, which returns at
    once after the first call).
    """

    def __init__(self, kind: str, prepare: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._prepare = prepare or _nothing

    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name``; raise ``ValueError`` if the name is taken."""
        key = name.lower()
        if key in self._items:
            raise ValueError(f"{self.kind} {key!r} is already registered")
        self._items[key] = item
        return item

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a plugin loaded again, or a test's model); absent names pass."""
        self._items.pop(name.lower(), None)

    def holds(self, name: str) -> bool:
        """Whether ``name`` is registered now (no plugin is loaded to answer)."""
        return name.lower() in self._items

    def get(self, name: str, where: str = "", *, parameter: str | None = None) -> T:
        """Return the item registered as ``name``, or raise :class:`UnknownNameError`.

        ``where`` (a file and key) or ``parameter`` (the argument that held the name)
        starts the error message.
        """
        self._prepare()
        try:
            return self._items[name.lower()]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items, where,
                                   parameter=parameter) from None

    def names(self) -> list[str]:
        """All registered names, in registration order."""
        self._prepare()
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        self._prepare()
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        self._prepare()
        return iter(list(self._items))

    def __len__(self) -> int:
        self._prepare()
        return len(self._items)


def _nothing() -> None:
    return None
