"""The aggregate verdict across tasks (``pgbench compare --aggregate``): per algorithm, an
aggregate metric (IQM by default) of the normalized final scores of the learning-curve
rows, NEW's minus BASE's, with a stratified-bootstrap interval
(:func:`pgbench.stats.aggregate_difference`). The rules are those of
:mod:`pgbench.compare` (Aggregate verdict); :func:`aggregate_check` computes it,
:class:`AggregateCheck` holds it and its JSON, :func:`run_settings` reads a side's
recorded report settings (its score ranges)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pgbench.experiments.across_tasks import curve_rows, final_scores, scored_rows
from pgbench.experiments.recorded import recorded_settings
from pgbench.registry import ScoreRange
from pgbench.results import METADATA
from pgbench.stats import DEFAULT_BOOTSTRAP, aggregate_difference, group_rng
from pgbench.stats.task_metrics import metric_function
from pgbench.suite.compare_block import AggregateSpec
from pgbench.suite.score_ranges import ranges_from_settings

LOWER_IS_BETTER = frozenset({"optimality_gap"})  # the other aggregates: higher is better
METRIC_NAMES = {"iqm": "IQM", "mean": "mean", "median": "median", "optimality_gap": "gap"}
AGGREGATE_STATUSES = ("regression", "underpowered", "worse", "changed", "improved", "ok")
AGGREGATE_RULE = (
    "regression iff worse_by > threshold and the interval of new - base excludes 0 on the "
    "worse side, worse_by = -(new - base) (+(new - base) for optimality_gap), in "
    "normalized-score units; underpowered (fails with --strict) where a side has one run "
    "per task"
)


@dataclass(frozen=True)
class AggregateRow:
    """One algorithm across the tasks: ``metric`` of BASE's and NEW's (runs, tasks)
    normalized scores, their ``difference`` new - base with the percentile interval
    [``low``, ``high``] (NaN where a side has one run per task), ``worse_by`` (> 0: NEW
    worse), the runs per task of each side, the tasks and the ``status``. ``entries``:
    task -> BASE's ``"method label (policy label)"`` scored there."""

    algorithm: str
    metric: str
    base: float
    new: float
    difference: float
    low: float
    high: float
    worse_by: float
    n_runs_base: int
    n_runs_new: int
    n_tasks: int
    status: str
    entries: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AggregateCheck:
    """The aggregate verdict of a comparison: its settings (``spec``, ``confidence``,
    ``reps``), BASE's tasks and their ranges, one row per algorithm compared, ``notes``
    (one line per env or algorithm left out of it, saying why: no range, one task only,
    on one side only; ``left_out`` in the JSON), ``warnings`` (one line each, for stderr)
    and ``unavailable`` (why there is no aggregate, or None)."""

    spec: AggregateSpec
    confidence: float
    reps: int
    tasks: tuple[str, ...] = ()
    ranges: dict[str, ScoreRange] = field(default_factory=dict)
    rows: tuple[AggregateRow, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    unavailable: str | None = None

    def failures(self, strict: bool = False) -> tuple[AggregateRow, ...]:
        """The failing rows: regressions, and (``strict``) underpowered rows."""
        failing = ("regression", "underpowered") if strict else ("regression",)
        return tuple(r for r in self.rows if r.status in failing)

    def counts(self) -> dict[str, int]:
        statuses = [r.status for r in self.rows]
        return {s: statuses.count(s) for s in AGGREGATE_STATUSES if s in statuses}

    def as_json(self, strict: bool = False) -> dict:
        """The ``aggregate`` object of the JSON verdict (NaN as null)."""

        def clean(value):
            return None if isinstance(value, float) and not math.isfinite(value) else value

        return {
            "verdict": "fail" if self.failures(strict) else "pass",
            "metric": self.spec.metric,
            "threshold": self.spec.threshold,
            "confidence": self.confidence,
            "reps": self.reps,
            "direction": "lower" if self.spec.metric in LOWER_IS_BETTER else "higher",
            "rule": AGGREGATE_RULE,
            "ranges_from": "BASE",
            "tasks": list(self.tasks),
            "ranges": {
                t: {"low": r.low, "high": r.high, "metric": r.metric, "source": r.source}
                for t, r in self.ranges.items()
            },
            "counts": self.counts(),
            "unavailable": self.unavailable,
            "left_out": list(self.notes),
            "rows": [{k: clean(v) for k, v in vars(r).items()} for r in self.rows],
        }


def run_settings(path: str | Path) -> dict:
    """The recorded report settings of the run directory ``path``
    (:func:`pgbench.experiments.recorded.recorded_settings` of its ``metadata.json``);
    {} for a Parquet file, or metadata that cannot be read."""
    meta_path = Path(path) / METADATA
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return {}
    return recorded_settings(meta) if isinstance(meta, dict) else {}


def aggregate_status(worse: float, low: float, high: float, threshold: float) -> str:
    """The status of one algorithm, from ``worse`` (worse_by) and the interval [``low``,
    ``high``] of worse_by (NaN: one run per task, ``underpowered``): the Aggregate verdict
    of :mod:`pgbench.compare`."""
    if math.isnan(low) or math.isnan(high):
        return "underpowered"
    if worse > threshold:
        return "regression" if low > 0.0 else "worse"
    if low > 0.0:
        return "changed"
    return "improved" if high < 0.0 else "ok"


def _range_differences(base: dict[str, ScoreRange], new: dict[str, ScoreRange]) -> list[str]:
    return [
        t
        for t, r in base.items()
        if t in new and (r.low, r.high, r.metric) != (new[t].low, new[t].high, new[t].metric)
    ]


def _groups(settings: dict) -> dict[str, str]:
    """Method label -> the algorithm it counts as (the suite's ``aggregate_as``)."""
    return {str(k): str(v) for k, v in (settings.get("aggregate_as") or {}).items()}


def _new_matrix(
    rows: pd.DataFrame,
    tasks: tuple[str, ...],
    ranges: dict[str, ScoreRange],
    budgets: dict[str, int],
) -> tuple[np.ndarray | None, str]:
    """NEW's (runs, tasks) normalized scores of one algorithm's learning-curve ``rows``
    (named by :func:`scored_rows`: one algorithm), columns in ``tasks`` order, or (None,
    why not); ``budgets``: BASE's env-step budget of it per task, which NEW's must equal."""
    one = {label: "one" for label in rows["method_label"]}
    scored = final_scores(rows, ranges, one)
    ran = set(rows["env_label"])
    if not scored.scores and not ran.issuperset(tasks):
        return None, f"in NEW on {', '.join(sorted(ran))} only"
    if not scored.scores:
        return None, "NEW has no seed with a score on every task"
    (matrix,) = scored.scores.values()
    if set(scored.tasks) != set(tasks):
        return None, f"in NEW on {', '.join(scored.tasks)} only"
    (spent,) = scored.budgets.values()
    moved = [f"{t} {budgets[t]:,} -> {spent[t]:,}" for t in tasks if spent[t] != budgets[t]]
    if moved:
        return None, f"its budget differs in NEW (env steps: {', '.join(moved)})"
    order = [scored.tasks.index(t) for t in tasks]
    return matrix[:, order], ""


def aggregate_check(
    base: pd.DataFrame,
    new: pd.DataFrame,
    spec: AggregateSpec,
    base_settings: dict,
    new_settings: dict | None = None,
    *,
    confidence: float = 0.95,
    rng: np.random.Generator | None = None,
    reps: int = DEFAULT_BOOTSTRAP,
) -> AggregateCheck:
    """The aggregate verdict of the tidy tables ``base`` and ``new``.

    The tasks and their ranges are BASE's: the score ranges of ``base_settings`` (BASE's
    recorded report settings, :func:`run_settings`), the tasks
    :func:`~pgbench.experiments.across_tasks.final_scores` chooses in BASE. An algorithm
    of BASE is compared where NEW has it on every one of those tasks (NEW's rows of that
    algorithm scored with BASE's ranges); the others, and NEW's algorithms that BASE
    lacks, are notes. Each side's algorithms are named by its own recorded
    ``aggregate_as``; NEW's score ranges (``new_settings``) only serve a warning where
    they differ from BASE's.

    One word is drawn from ``rng`` (default ``default_rng(0)``); algorithm ``a``'s
    bootstrap uses :func:`~pgbench.stats.group_rng` of it and ``("aggregate", a)``.
    """
    out = AggregateCheck(spec, confidence, reps)
    ranges = ranges_from_settings(base_settings)
    base_rows, new_rows = curve_rows(base), curve_rows(new)
    if base_rows.empty:
        why = "BASE has no learning-curve rows"
    elif not ranges:
        why = "BASE records no score ranges (a Parquet file, or no env with a range)"
    else:
        why = None
    if why is not None:
        return _unavailable(out, why)
    new_settings = new_settings or {}
    base_groups, new_groups = _groups(base_settings), _groups(new_settings)
    warnings = []
    differ = _range_differences(ranges, ranges_from_settings(new_settings))
    if differ:
        warnings.append(
            f"aggregate: NEW records other score ranges than BASE for {', '.join(differ)}; "
            "BASE's are used"
        )
    scored = final_scores(base, ranges, base_groups)
    if len(scored.tasks) < 2:
        why = "fewer than 2 tasks with a score range share an algorithm in BASE"
        return _unavailable(out, why, scored.left_out, warnings)
    tasks = scored.tasks
    on_tasks = {t: ranges[t] for t in tasks}
    notes = list(scored.left_out)
    # both sides named alike: the rows of the envs with a range (BASE's), then its tasks
    new_rows = scored_rows(new, ranges, new_groups)
    new_rows = new_rows[new_rows["env_label"].isin(tasks)]
    new_keys = new_rows["algorithm"]
    fn = metric_function(spec.metric)
    sign = 1.0 if spec.metric in LOWER_IS_BETTER else -1.0
    rng = rng if rng is not None else np.random.default_rng(0)
    word = int(rng.integers(0, 2**63))
    rows = []
    for algo, base_matrix in scored.scores.items():
        mine = new_rows[new_keys == algo]
        new_matrix, why = (None, "")
        if len(mine):
            new_matrix, why = _new_matrix(mine, tasks, on_tasks, scored.budgets[algo])
        if new_matrix is None:
            notes.append(f"algorithm {algo!r}: {why or 'not in NEW'}")
            continue
        one_run = min(len(base_matrix), len(new_matrix)) < 2
        diff, low, high = aggregate_difference(
            base_matrix,
            new_matrix,
            group_rng(word, ("aggregate", algo)),
            spec.metric,
            reps=reps,
            confidence=confidence,
        )
        if one_run:
            low = high = math.nan
        worse_low, worse_high = sorted((sign * low, sign * high))
        worse = sign * diff + 0.0  # no -0.0
        rows.append(
            AggregateRow(
                algo,
                spec.metric,
                float(fn(base_matrix)),
                float(fn(new_matrix)),
                diff,
                low,
                high,
                worse,
                len(base_matrix),
                len(new_matrix),
                len(tasks),
                aggregate_status(worse, worse_low, worse_high, spec.threshold),
                {t: f"{m} ({p})" for t, (m, p) in scored.entries.get(algo, {}).items()},
            )
        )
    known = set(scored_rows(base, ranges, base_groups)["algorithm"])
    for algo in dict.fromkeys(new_keys):
        if algo not in known:
            notes.append(f"algorithm {algo!r}: in NEW only")
    return AggregateCheck(
        spec, confidence, reps, tasks, on_tasks, tuple(rows), tuple(notes), tuple(warnings)
    )


def _unavailable(
    out: AggregateCheck, why: str, notes: tuple[str, ...] = (), warnings: Sequence[str] = ()
) -> AggregateCheck:
    """``out`` without an aggregate: ``why`` in one warning line and in ``unavailable``."""
    line = f"aggregate: not computed: {why}"
    return AggregateCheck(
        out.spec,
        out.confidence,
        out.reps,
        notes=tuple(notes),
        warnings=(*warnings, line),
        unavailable=why,
    )
