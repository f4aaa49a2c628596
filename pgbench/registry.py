"""Components and their registries: environments, policies, estimators, algorithms, learners
and game estimators.

A :class:`Component` is a function with the pydantic model of its parameters (a
:class:`pgbench.params.HyperParams` subclass declared next to the function), a citation and a
one-line summary. Kinds that promise more subclass it: ``Estimator`` adds whether it is
unbiased, ``Algorithm`` whether it is deterministic, ``Learner`` whether it samples episodes,
``GameEstimator`` the exact value it is compared with. Suites and the Python API validate
parameters with the same model, so both reject the same values.

Each :class:`Registry` holds the components of one kind, rejects duplicate names and
answers an unknown name with the closest registered ones, so a typo in a suite reads as
``unknown estimator 'reinforc'; did you mean 'reinforce'?``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from pgbench.errors import InvalidSpecError, PgbenchError, UnknownNameError


def suggest(name: str, choices: list[str]) -> str:
    """A ``; did you mean ...?`` suffix naming the closest choices, or a list of all."""
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "; known: " + ", ".join(sorted(choices))


def error_line(exc: ValidationError) -> str:
    """``<where>: <msg>`` of the first error of ``exc``: ``where`` the dotted location
    (``critic.hidden.1``), or ``parameters`` for the mapping as a whole."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "parameters"
    return f"{where}: {err['msg']}"


def own_error(exc: ValidationError) -> PgbenchError | None:
    """The :class:`~pgbench.errors.PgbenchError` a model's own validator raised, if that is
    the first error of ``exc`` (its message is then the component's own, kept as written)."""
    error = (exc.errors()[0].get("ctx") or {}).get("error")
    return error if isinstance(error, PgbenchError) else None


def _first_doc_line(obj: object) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


@dataclass(frozen=True)
class ScoreRange:
    """An environment's reference range of return, the 0 and 1 of its normalized score
    ``(score - low) / (high - low)`` (:func:`pgbench.stats.normalized_scores`).

    Attributes:
        low: the return that scores 0, e.g. a uniform random policy's.
        high: the return that scores 1, e.g. the most an episode can earn, a published
            expert score or the optimum; may lie below ``low`` (never equal).
        source: where both numbers come from, one line, shown in every table that uses them.
        metric: the curve metric scored: ``"eval_return"`` (undiscounted evaluation
            return) or ``"exact_value"`` (the exact discounted J of tabular envs).
    """

    low: float
    high: float
    source: str
    metric: str = "eval_return"


@dataclass(frozen=True, kw_only=True)
class Component:
    """A registered function and the model of its parameters.

    Attributes:
        name: registry name.
        fn: the function; its calling convention belongs to the kind (an env factory
            ``(**params) -> Env``, an estimator ``(sampler, theta, episodes, seed, params)
            -> (P,)``, ...).
        params: the pydantic model of the parameters (a :class:`pgbench.params.HyperParams`
            subclass: closed, frozen, strict).
        citation: the source (paper, equations), or "".
        summary: one line for ``pgbench list``; the first line of ``fn``'s docstring if not
            given.
        score_range: environments only: the reference range of the env's return for
            normalized scores across tasks, or None (none published or measured; a suite
            may give one).
    """

    kind: ClassVar[str] = "component"  # the word error messages use, e.g. "estimator"

    name: str
    fn: Callable
    params: type[BaseModel]
    citation: str = ""
    summary: str = ""
    score_range: ScoreRange | None = None

    def __post_init__(self) -> None:
        if not self.summary:
            object.__setattr__(self, "summary", _first_doc_line(self.fn))

    def validate(self, values: Mapping[str, Any]) -> BaseModel:
        """``values`` validated into :attr:`params`; raises pydantic's ``ValidationError``
        (for callers that report it with positions, like the suite loader)."""
        return self.params.model_validate(dict(values))

    def parse(self, values: Mapping[str, Any], kind: str | None = None) -> BaseModel:
        """``values`` validated into :attr:`params`, or a one-line
        :class:`~pgbench.errors.InvalidSpecError` ``"<kind> 'name': <where>: <msg>"``
        (``kind`` defaults to the class's). An error the model's own validators raise as a
        :class:`~pgbench.errors.PgbenchError` is raised as it is."""
        try:
            return self.validate(values)
        except ValidationError as exc:
            own = own_error(exc)
            if own is not None:
                raise own from None
            detail = error_line(exc)  # "<where>: <msg>"
            raise InvalidSpecError(f"{kind or self.kind} {self.name!r}: {detail}") from None


C = TypeVar("C", bound=Component)


class Registry(Generic[C]):
    """The components of one kind (``environment``, ``policy``, ...) by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, C] = {}
        self._hints: list[Callable[[str], str | None]] = []

    def add_hint(self, hint: Callable[[str], str | None]) -> None:
        """``hint(name)``: a suffix for the error of an unknown ``name`` (or None), e.g.
        naming the component a foreign spelling of the name means."""
        self._hints.append(hint)

    def add(self, component: C) -> C:
        """Register ``component`` under its own name; a second registration is an error."""
        if not isinstance(component, Component):
            raise TypeError(
                f"a {self.kind} registry holds Components, got {type(component).__name__}"
            )
        if component.name in self._items:
            raise ValueError(f"{self.kind} {component.name!r} is registered twice")
        self._items[component.name] = component
        return component

    def register(self, name: str) -> Callable[[C], C]:
        """``register(name)(component)``: :meth:`add`, for code that names the component
        twice; ``name`` must be the component's own."""

        def add(component: C) -> C:
            if getattr(component, "name", None) != name:
                raise ValueError(
                    f"{self.kind} registered as {name!r} is named "
                    f"{getattr(component, 'name', None)!r}"
                )
            return self.add(component)

        return add

    def get(self, name: str) -> C:
        try:
            return self._items[name]
        except KeyError:
            for hint in self._hints:
                suffix = hint(name)
                if suffix:
                    raise UnknownNameError(f"unknown {self.kind} {name!r}{suffix}") from None
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}" + suggest(name, list(self._items))
            ) from None

    def params(self, name: str, /, **values: Any) -> BaseModel:
        """The validated parameters of component ``name`` (one-line errors, see
        :meth:`Component.parse`)."""
        return self.get(name).parse(values, self.kind)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def names(self) -> list[str]:
        return sorted(self._items)


ENVS: Registry[Component] = Registry("environment")
POLICIES: Registry[Component] = Registry("policy")
ESTIMATORS: Registry = Registry("estimator")
ALGORITHMS: Registry = Registry("algorithm")
LEARNERS: Registry = Registry("learner")
GAME_ESTIMATORS: Registry = Registry("game estimator")
