"""What a suite names: a registry name with its parameters and label (:class:`Spec`),
environments and policies, and the checks every kind applies to them.

A spec's :meth:`~Spec.canonical` form is what determines results (it goes into the cell
hash); its :attr:`~Spec.display` label names it in tables and plots.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pgbench.api import make_env, make_policy
from pgbench.errors import InvalidSpecError, PgbenchError
from pgbench.registry import ENVS, Component, Registry, own_error
from pgbench.suite.errors import Loc, fail, one_line
from pgbench.suite.translate import fail_params
from pgbench.suite.types import Name, Params


def _short(value: Any) -> str:
    """A compact, unambiguous rendering of a param value for labels."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return str(value)
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def default_label(name: str, params: dict) -> str:
    """``name`` or ``name(k=v,...)``, e.g. ``garnet(n_states=6,n_actions=3)``."""
    if not params:
        return name
    return name + "(" + ",".join(f"{k}={_short(v)}" for k, v in params.items()) + ")"


def check_factory_params(component: Component, params: dict, kind: str, where: Loc) -> None:
    """Validate ``params`` (at ``where``) with the Params model of ``component``, an env or
    policy factory: an unknown key is reported at the key (with the closest parameter
    names), a value of the wrong type (strict: no strings or booleans for numbers; finite
    floats) at the value, and a bound the model checks itself as :func:`fail_built` does."""
    try:
        component.validate(params)
    except ValidationError as exc:
        own = own_error(exc)
        if own is not None:
            fail_built(where, params, own)
        err = exc.errors()[0]
        name = component.name
        key = err["loc"][0] if err["loc"] else None  # the parameter at fault
        if key is None:
            msg = f"{kind} {name!r}: {err['msg']}"
        elif err["type"] == "extra_forbidden":
            takes_none = "" if component.params.model_fields else "; it takes no parameters"
            msg = f"{kind} {name!r} has no parameter {key!r}{takes_none}"
        else:
            got = f", got {params[key]!r}" if key in params else ""
            msg = f"{kind} {name!r} parameter {key!r}: {err['msg']}{got}"
        fail_params(where, component.params, params, InvalidSpecError(msg))


def fail_built(where: Loc, params: dict, exc: BaseException) -> typing.NoReturn:
    """Report ``exc``, raised by a component checking or building with ``params`` (the
    mapping at ``where``): at the parameter it names (``exc.param``, e.g. a
    :class:`~pgbench.envs.checks.SizeError`), else at the mapping (or its entry when there
    are no params)."""
    param = getattr(exc, "param", None)  # the parameter responsible, if the error names one
    if param in params:
        fail((*where, param), one_line(exc))
    fail(where if params else where[:-1], one_line(exc))


class Spec(BaseModel):
    """A registry name with its parameters and an optional display label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = Field(description="registry name")
    params: Params = Field(default_factory=dict, description="keyword parameters of the factory")
    label: Name | None = Field(default=None, description="display name; default name(params)")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @property
    def display(self) -> str:
        """The label used in tables and plots."""
        return self.label if self.label is not None else default_label(self.name, self.params)

    def canonical(self) -> dict:
        """What determines results: name, params and label (JSON types only)."""
        return {"name": self.name, "params": self.params, "label": self.display}


class EnvSpec(Spec):
    """An environment: ``make_env(name, **params)``."""

    def build(self):
        return make_env(self.name, **self.params)


class PolicySpec(Spec):
    """A policy: ``make_policy(name, env, **params)``."""

    def build(self, env):
        return make_policy(self.name, env, **self.params)


def build_env(i: int, spec: EnvSpec):
    """The environment of ``envs[i]``; its problems as validation errors at their keys."""
    try:
        component = ENVS.get(spec.name)
    except PgbenchError as exc:
        fail(("envs", i, "name"), str(exc))
    where = ("envs", i, "params")
    check_factory_params(component, spec.params, "environment", where)
    try:
        return spec.build()
    except (PgbenchError, ValueError, TypeError) as exc:
        fail_built(where, spec.params, exc)


def check_labels(field: str, kind: str, specs: tuple[Spec, ...]) -> None:
    """Every spec of ``specs`` (the suite's key ``field``) has a label of its own."""
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if spec.display in seen:
            where = (field, i, "label") if spec.label is not None else (field, i)
            fail(
                where,
                f"{kind} label {spec.display!r} is used twice (entries "
                f"{seen[spec.display]} and {i}); give one a distinct label",
            )
        seen[spec.display] = i


def check_components(field: str, registry: Registry, specs: tuple[Spec, ...]) -> None:
    """Every spec of the suite's key ``field`` names a component of ``registry`` and gives
    it parameters its Params model accepts, and has a label of its own (one-line errors
    at the offending key)."""
    for k, spec in enumerate(specs):
        try:
            component = registry.get(spec.name)
        except PgbenchError as exc:
            fail((field, k, "name"), str(exc))
        try:
            registry.params(spec.name, **spec.params)
        except PgbenchError as exc:
            fail_params((field, k, "params"), component.params, spec.params, exc)
    check_labels(field, registry.kind, specs)
