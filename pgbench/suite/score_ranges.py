"""Each env's reference range of return for normalized scores, resolved once per suite.

The range of an env (a :class:`~pgbench.registry.ScoreRange`), first that applies:

1. the suite's own: ``score_range: {low, high, source, metric}`` of the env (or
   ``[low, high]``);
2. the one its registry entry declares (:mod:`pgbench.envs.score_ranges`), where every
   parameter the suite gives the env, other than the return-neutral ones (discount,
   vectorization), is its default;
3. for ``gymnasium`` envs given by ``id`` alone, the range of that id;
4. for tabular envs, exact: the discounted J of the uniform random policy to the optimal J
   (value iteration), scoring the ``exact_value`` metric (no evaluation noise);
5. none: the env is left out of the cross-task aggregates, and the report says so.

:func:`resolve_ranges` returns the JSON form the runner writes into ``metadata.json``
(``settings["score_ranges"]``), read back by the report and ``pgbench compare`` with
:func:`ranges_from_settings`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pgbench import exact
from pgbench.envs.score_ranges import RETURN_NEUTRAL, gymnasium_range
from pgbench.registry import ENVS, ScoreRange
from pgbench.suite.types import FiniteFloat

SCORED_METRICS = ("eval_return", "exact_value")


class ScoreRangeSpec(BaseModel):
    """A suite's reference range of an env's return: ``low`` scores 0, ``high`` scores 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: FiniteFloat = Field(description="the return that scores 0 (e.g. a random policy's)")
    high: FiniteFloat = Field(description="the return that scores 1 (e.g. an expert's)")
    source: str = Field("set in the suite", description="where the numbers come from")
    metric: Literal["eval_return", "exact_value"] = Field(
        "eval_return", description="the curve metric scored"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, data: Any) -> Any:
        if isinstance(data, list | tuple) and len(data) == 2:
            return {"low": data[0], "high": data[1]}
        return data

    @model_validator(mode="after")
    def _not_empty(self) -> ScoreRangeSpec:
        if self.high == self.low:
            raise ValueError(f"high must differ from low (both {self.low:g})")
        return self

    def score_range(self) -> ScoreRange:
        return ScoreRange(self.low, self.high, self.source, self.metric)


def _declared(spec) -> ScoreRange | None:
    """The registry's range of ``spec``'s env where its params leave the return as
    registered (rules 2 and 3 of the module docstring)."""
    component = ENVS.get(spec.name)
    given = {k: v for k, v in spec.params.items() if k not in RETURN_NEUTRAL}
    if component.score_range is not None:
        defaults = component.params().model_dump()
        model = component.params.model_validate(dict(spec.params)).model_dump()
        if all(model[k] == defaults[k] for k in given):
            return component.score_range
        return None
    if spec.name == "gymnasium" and set(given) == {"id"}:
        return gymnasium_range(given["id"])
    return None


def _exact(env) -> ScoreRange | None:
    """Rule 4: [J(uniform), J*] of a tabular env, None for one where they coincide."""
    if env.tabular is None:
        return None
    low, high = exact.uniform_value(env), exact.optimal_value(env)
    if not math.isfinite(low) or not math.isfinite(high) or high == low:
        return None
    return ScoreRange(
        low,
        high,
        "exact: low the discounted J of the uniform random policy, high the optimal J "
        "(value iteration)",
        "exact_value",
    )


def score_range(spec, env) -> ScoreRange | None:
    """The range of env ``spec`` (built: ``env``), by the rules of the module docstring."""
    own = getattr(spec, "score_range", None)
    if own is not None:
        return own.score_range()
    return _declared(spec) or _exact(env)


def resolve_ranges(specs, envs) -> dict[str, dict]:
    """env label -> {low, high, source, metric} of every env that has a range, for
    ``metadata.json``; ``specs`` and the built ``envs`` in the same order."""
    out = {}
    for spec, env in zip(specs, envs, strict=True):
        found = score_range(spec, env)
        if found is not None:
            out[spec.display] = {
                "low": float(found.low),
                "high": float(found.high),
                "source": found.source,
                "metric": found.metric,
            }
    return out


def ranges_from_settings(settings: dict) -> dict[str, ScoreRange]:
    """env label -> :class:`ScoreRange` of a run's report settings (``score_ranges``);
    {} for a run that recorded none. Malformed entries are skipped."""
    out = {}
    for label, entry in (settings.get("score_ranges") or {}).items():
        try:
            found = ScoreRange(
                float(entry["low"]),
                float(entry["high"]),
                str(entry.get("source", "")),
                str(entry.get("metric", "eval_return")),
            )
        except (KeyError, TypeError, ValueError):
            continue
        if found.metric in SCORED_METRICS and found.high != found.low:
            out[str(label)] = found
    return out
