"""Name -> factory registries: environments, policies, estimators, algorithms, learners.

Each registry rejects duplicate names and answers an unknown name with the
closest registered ones, so a typo in a suite reads as
``unknown estimator 'reinforc'; did you mean 'reinforce'?``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from pgbench.errors import UnknownNameError

T = TypeVar("T")


def suggest(name: str, choices: list[str]) -> str:
    """A ``; did you mean ...?`` suffix naming the closest choices, or a list of all."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "; known: " + ", ".join(sorted(choices))


class Registry(Generic[T]):
    """A named collection of factories of one kind (``env``, ``policy``, ...)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: register ``obj`` under ``name``; a second registration is an error."""

        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}" + suggest(name, list(self._items))
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)


ENVS: Registry = Registry("environment")
POLICIES: Registry = Registry("policy")
ESTIMATORS: Registry = Registry("estimator")
ALGORITHMS: Registry = Registry("algorithm")
LEARNERS: Registry = Registry("learner")
