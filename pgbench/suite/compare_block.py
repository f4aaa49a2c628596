"""The ``compare:`` block of a suite: settings of ``pgbench compare`` for runs of it.

A report setting, not part of the cells: the runner writes the validated block into the
run's ``metadata.json`` (``settings.compare``), where ``pgbench compare`` reads it; the
command line overrides each key.
"""

from __future__ import annotations

from typing import Annotated, Literal

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

    @field_validator("thresholds")
    @classmethod
    def _threshold_metrics(cls, value: dict[str, float]) -> dict[str, float]:
        for key in value:
            try:
                _known_metric(key)
            except ValueError as exc:
                fail(("compare", "thresholds", key), f"metric {key!r}: {exc}", at_key=True)
        return value
