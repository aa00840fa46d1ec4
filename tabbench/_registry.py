"""A small name → object registry shared by datasets, splitters, models, metrics and rankers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from tabbench.exceptions import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Map lowercase names to objects; duplicates raise, unknown names list the valid ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T) -> T:
        """Add ``item`` under ``name``; raise ``ValueError`` if the name is taken."""
        key = name.lower()
        if key in self._items:
            raise ValueError(f"{self.kind} {key!r} is already registered")
        self._items[key] = item
        return item

    def get(self, name: str, where: str = "", *, parameter: str | None = None) -> T:
        """Return the item registered as ``name``, or raise :class:`UnknownNameError`.

        ``where`` (a file and key) or ``parameter`` (the argument that held the name)
        starts the error message.
        """
        try:
            return self._items[name.lower()]
        except KeyError:
            raise UnknownNameError(self.kind, name, self._items, where,
                                   parameter=parameter) from None

    def names(self) -> list[str]:
        """All registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
