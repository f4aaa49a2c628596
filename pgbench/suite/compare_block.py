"""The ``compare:`` block of a suite: settings of ``pgbench compare`` for runs of it.

A report setting, not part of the cells: the runner writes the validated block into the
run's ``metadata.json`` (``settings.compare``), where ``pgbench compare`` reads it; the
command line overrides each key. ``aggregate:`` (:class:`AggregateSpec`; ``true`` for its
defaults) turns on the aggregate verdict across tasks of learning-curve runs.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, field_validator

from pgbench.metrics import DIRECTIONS
from pgbench.registry import suggest
from pgbench.suite.errors import fail
from pgbench.suite.types import Name


def _known_metric(name: str) -> str:
    if name not in DIRECTIONS:
        raise ValueError("not a metric with a known direction" + suggest(name, list(DIRECTIONS)))
    return name


MetricName = Annotated[Name, AfterValidator(_known_metric)]
Threshold = Annotated[float, Strict(), Field(ge=1.0, allow_inf_nan=False)]
AGGREGATE_METRICS = ("iqm", "mean", "median", "optimality_gap")  # pgbench.stats' names


class AggregateSpec(BaseModel):
    """The aggregate verdict across tasks of ``pgbench compare`` (:mod:`pgbench.compare`):
    per algorithm, ``metric`` of the normalized final scores, NEW's minus BASE's, fails
    where it is worse by more than ``threshold`` and its interval excludes zero."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: Annotated[float, Strict(), Field(ge=0.0, allow_inf_nan=False)] = Field(
        default=0.05,
        description="fail when the aggregate is worse by more than this, in normalized-score "
        "units (0.05: 5 % of the tasks' reference ranges)",
    )
    metric: Literal[AGGREGATE_METRICS] = Field(
        default="iqm", description="the aggregate of the normalized scores (pgbench.stats)"
    )


class CompareSpec(BaseModel):
    """Settings of ``pgbench compare`` (:mod:`pgbench.compare`) for runs of a suite; a
    report setting, not part of the cells. The command line overrides each key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: Threshold = Field(
        default=1.25, description="fail when a metric is worse by this factor (1.25: 25%)"
    )
    thresholds: dict[Name, Threshold] = Field(
        default_factory=dict, description="per-metric factors overriding threshold"
    )
    alpha: Annotated[float, Strict(), Field(gt=0.0, lt=1.0)] = Field(
        default=0.05, description="significance level of both tests"
    )
    metrics: Annotated[tuple[MetricName, ...], Field(min_length=1)] | None = Field(
        default=None, description="metrics compared (default: pgbench.metrics.DEFAULT_COMPARED)"
    )
    strict: Annotated[bool, Strict()] = Field(
        default=False, description="fail underpowered comparisons (pgbench compare --strict)"
    )
    pair_by: Literal["config", "label"] = Field(
        default="config", description="pair rows by configuration or by labels (--pair-by)"
    )
    aggregate: AggregateSpec | None = Field(
        default=None,
        description="the aggregate verdict across tasks (--aggregate); true: its defaults",
    )

    @field_validator("aggregate", mode="before")
    @classmethod
    def _aggregate_switch(cls, value: Any) -> Any:
        if value is True:
            return {}
        return None if value is False else value

    @field_validator("thresholds")
    @classmethod
    def _threshold_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        for key in value:
            try:
                _known_metric(key)
            except ValueError as exc:
                fail(("compare", "thresholds", key), f"metric {key!r}: {exc}", at_key=True)
        return value
