"""A strict name -> object registry, shared by datasets, models, criteria and merge modes.

Modelled on torchvision's ``models/_api.py``: registering a name twice raises instead of
silently replacing the first entry, because a plug-in that shadows another is a bug that
is very hard to see from a notebook.

Example:
    >>> reg = Registry("criterion")
    >>> @reg.register("magnitude")
    ... def magnitude(model): ...
    >>> reg.names()
    ['magnitude']
    >>> reg.get("magnitude") is magnitude
    True
"""
from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import UnknownNameError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A named family of plug-ins (``register_*`` / ``list_*`` / ``get_*`` in the public API)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator that records ``obj`` under ``name`` (default: its ``__name__``)."""

        def wrapper(obj: T) -> T:
            self.add(name if name is not None else obj.__name__, obj)  # type: ignore[attr-defined]
            return obj

        return wrapper

    def add(self, name: str, obj: T) -> None:
        """Record ``obj`` under ``name``; a duplicate name raises ``ValueError``."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if name in self._items:
            raise ValueError(
                f"a {self.kind} named {name!r} is already registered; pick another name "
                f"(registered: {', '.join(self.names())})"
            )
        self._items[name] = obj

    def get(self, name: str) -> T:
        """Look ``name`` up; unknown: :class:`~labkit.errors.UnknownNameError` (a ``KeyError``) naming close matches."""
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), self.names(), n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """All registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __len__(self) -> int:
        return len(self._items)
