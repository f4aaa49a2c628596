"""What a suite names: a registry name with its parameters and label (:class:`Spec`),
environments and policies, and the checks every kind applies to them.

A spec's :meth:`~Spec.canonical` form is what determines results (it goes into the cell
hash); its :attr:`~Spec.display` label names it in tables and plots.
"""

from __future__ import annotations

import inspect
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from pgbench.api import make_env, make_policy
from pgbench.errors import PgbenchError
from pgbench.registry import ENVS, suggest
from pgbench.suite.errors import Loc, fail, one_line
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


_STRICT = {
    tp: TypeAdapter(tp, config=ConfigDict(strict=True, allow_inf_nan=False))
    for tp in (int, float, bool, str)
}


def check_factory_params(
    factory, params: dict, kind: str, name: str, where: Loc, skip: tuple[str, ...] = ()
) -> None:
    """Reject keys ``factory`` does not take and values that do not fit its int/float/bool/str
    annotations (strict: no strings for numbers, no booleans for numbers; finite floats),
    each at its own key."""
    try:
        sig = inspect.signature(factory, eval_str=True)
    except (NameError, TypeError, ValueError):
        sig = inspect.signature(factory)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    known = {k: p for k, p in sig.parameters.items() if k not in skip}
    for key, value in params.items():
        if key not in known:
            hint = suggest(key, list(known)) if known else "; it takes no parameters"
            fail((*where, key), f"{kind} {name!r} has no parameter {key!r}{hint}", at_key=True)
        annotation = known[key].annotation
        if annotation in (int, float, bool, str):
            try:
                _STRICT[annotation].validate_python(value)
            except ValidationError as exc:
                fail(
                    (*where, key),
                    f"{kind} {name!r} parameter {key!r}: {exc.errors()[0]['msg']}, got {value!r}",
                )


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
        factory = ENVS.get(spec.name)
    except PgbenchError as exc:
        fail(("envs", i, "name"), str(exc))
    check_factory_params(factory, spec.params, "environment", spec.name, ("envs", i, "params"))
    try:
        return spec.build()
    except (PgbenchError, ValueError, TypeError) as exc:
        param = getattr(exc, "param", None)  # the parameter responsible, if the error names one
        if param in spec.params:
            fail(("envs", i, "params", param), one_line(exc))
        fail(("envs", i, "params") if spec.params else ("envs", i), one_line(exc))


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
