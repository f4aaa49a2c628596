"""The settings of a comparison: the ``compare:`` block of NEW's suite, as the runner
recorded it in ``metadata.json`` (``settings.compare``, :func:`recorded_spec`), overridden
by the command line (:func:`resolve_settings`). The YAML is never read again."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from pgbench.compare.errors import CompareError
from pgbench.compare.pairing import key_columns
from pgbench.metrics import DEFAULT_COMPARED
from pgbench.results import METADATA
from pgbench.stats import POWER
from pgbench.suite.compare_block import AggregateSpec, CompareSpec

DEFAULT_METRICS = DEFAULT_COMPARED
RULE = (
    "regression iff worse_by > threshold - 1 and p_welch < alpha and p_mannwhitney < alpha, "
    "worse_by = s * (new_mean - base_mean) / |base_mean|, s = +1 lower-is-better, -1 "
    "higher-is-better; missing (values in BASE, none in NEW) fails unless allowed"
)
PAIRED_RULE = RULE.replace("p_welch < alpha and p_mannwhitney < alpha", "p_wilcoxon < alpha")
STRICT_RULE = "; underpowered (mdc > threshold - 1 or the test cannot reach alpha) fails"


@dataclass(frozen=True)
class Settings:
    """Resolved settings: threshold factor T >= 1 (per metric overrides in ``thresholds``),
    significance level ``alpha``, compared ``metrics``, ``allow_missing``, the pairing
    (``pair_by`` config or label), the ``paired`` design, ``strict`` (underpowered
    rows fail) and the aggregate verdict across tasks (``aggregate``; None: off). The
    aggregate's settings are in the verdict's ``aggregate`` object, not :meth:`as_json`."""

    threshold: float = 1.25
    thresholds: dict[str, float] = field(default_factory=dict)
    alpha: float = 0.05
    metrics: tuple[str, ...] = DEFAULT_METRICS
    allow_missing: bool = False
    pair_by: str = "config"
    paired: bool = False
    strict: bool = False
    aggregate: AggregateSpec | None = None

    @classmethod
    def from_spec(cls, spec: CompareSpec | None, allow_missing: bool = False, **flags) -> Settings:
        """From a :class:`~pgbench.suite.compare_block.CompareSpec` (or None: the defaults);
        ``flags`` (pair_by, paired, strict, aggregate: the spec's where not given) as given."""
        if spec is None:
            return cls(allow_missing=allow_missing, **flags)
        flags.setdefault("aggregate", spec.aggregate)
        return cls(
            threshold=spec.threshold,
            thresholds=dict(spec.thresholds),
            alpha=spec.alpha,
            metrics=spec.metrics or DEFAULT_METRICS,
            allow_missing=allow_missing,
            **flags,
        )

    def threshold_for(self, metric: str) -> float:
        return self.thresholds.get(metric, self.threshold)

    def as_json(self) -> dict:
        rule = PAIRED_RULE if self.paired else RULE
        return {
            "threshold": self.threshold,
            "thresholds": dict(self.thresholds),
            "alpha": self.alpha,
            "metrics": list(self.metrics),
            "allow_missing": self.allow_missing,
            "ci_level": 1.0 - self.alpha,
            "pair_by": self.pair_by,
            "paired": self.paired,
            "strict": self.strict,
            "power": POWER,
            "rule": rule + (STRICT_RULE if self.strict else ""),
        }


def recorded_spec(run_dir: str | Path) -> tuple[CompareSpec | None, str | None]:
    """The ``compare:`` block of the suite of the run in ``run_dir``, as the runner recorded
    it in ``metadata.json`` (``settings.compare``), and a warning line or None.

    (None, None) where there is no metadata or the suite has no block (recorded as null);
    (None, warning) where the metadata predates recorded settings (no ``settings`` key):
    the defaults apply. A file that is not a metadata object, or a recorded block that does
    not validate, is a :class:`CompareError` (one line).
    """
    path = Path(run_dir) / METADATA
    if not path.is_file():
        return None, None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        meta = None
    if not isinstance(meta, dict):
        raise CompareError(f"{path}: not a pgbench metadata file")
    settings = meta.get("settings")
    if settings is None or (isinstance(settings, dict) and "compare" not in settings):
        return None, (
            f"{path} does not record the compare block of its suite (written before runs "
            "recorded their settings): comparing with the default settings; re-run the suite "
            "to record them"
        )
    if not isinstance(settings, dict):
        raise CompareError(f"{path}: settings: not an object")
    block = settings["compare"]
    if block is None:
        return None, None
    try:
        return CompareSpec.model_validate(block), None
    except ValidationError as exc:
        raise CompareError(f"{path}: settings.compare: {_pydantic_line(exc)}") from None


def _pydantic_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def _number(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CompareError(f"{flag}: not a number: {text!r}") from None


def resolve_settings(
    spec: CompareSpec | None,
    threshold: list[str] | None = None,
    alpha: str | None = None,
    metrics: str | None = None,
    allow_missing: bool = False,
    pair_by: str | None = None,
    paired: bool = False,
    strict: bool = False,
    aggregate: bool | None = None,
    aggregate_threshold: str | None = None,
    aggregate_metric: str | None = None,
) -> Settings:
    """Settings from the suite's ``spec`` (CompareSpec or None) overridden by the command
    line: ``threshold`` items ``FACTOR`` or ``METRIC=FACTOR``, ``alpha``, ``metrics``
    (comma-separated names), ``pair_by`` (None: the suite's, else config), ``paired``,
    ``strict`` (or the suite's), and the aggregate verdict (:func:`resolve_aggregate`).
    Invalid values raise :class:`CompareError` (one line)."""
    data = spec.model_dump() if spec is not None else {}
    thresholds = dict(data.get("thresholds") or {})
    flag = "--threshold"
    for item in threshold or []:
        if "=" in item:
            name, _, value = item.partition("=")
            thresholds[name.strip()] = _number(value, flag)
        else:
            data["threshold"] = _number(item, flag)
    data["thresholds"] = thresholds
    if alpha is not None:
        data["alpha"] = _number(alpha, "--alpha")
    if metrics is not None:
        data["metrics"] = [m.strip() for m in metrics.split(",") if m.strip()]
        if not data["metrics"]:
            raise CompareError(f"--metrics: no metric named in {metrics!r}")
    try:
        resolved = CompareSpec.model_validate(data)
    except ValidationError as exc:
        raise CompareError(_flag_error(exc.errors()[0], data.get("metrics") or [])) from None
    pair_by = pair_by or resolved.pair_by
    key_columns(pair_by)  # validates it
    strict = strict or resolved.strict  # a suite may ask for it
    block = resolve_aggregate(resolved.aggregate, aggregate, aggregate_threshold, aggregate_metric)
    return Settings.from_spec(
        resolved, allow_missing, pair_by=pair_by, paired=paired, strict=strict, aggregate=block
    )


def resolve_aggregate(
    spec: AggregateSpec | None,
    enabled: bool | None = None,
    threshold: str | None = None,
    metric: str | None = None,
) -> AggregateSpec | None:
    """The aggregate verdict's settings, or None (off): the suite's ``spec`` (None where its
    block has no ``aggregate:``) overridden by ``--aggregate`` / ``--no-aggregate``
    (``enabled``: True / False; None: the suite's), ``--aggregate-threshold`` and
    ``--aggregate-metric``, either of which turns it on. Invalid values, or a value given
    with ``--no-aggregate``, raise :class:`CompareError` (one line)."""
    given = [f for f, v in (("threshold", threshold), ("metric", metric)) if v is not None]
    if enabled is False:
        if given:
            raise CompareError(f"--aggregate-{given[0]}: given with --no-aggregate")
        return None
    if spec is None and not enabled and not given:
        return None
    data = spec.model_dump() if spec is not None else {}
    if threshold is not None:
        data["threshold"] = _number(threshold, "--aggregate-threshold")
    if metric is not None:
        data["metric"] = metric.strip()
    try:
        return AggregateSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        raise CompareError(f"--aggregate-{err['loc'][0]}: {msg}") from None


def _flag_error(err: dict, metrics: list[str]) -> str:
    """One line naming the command-line flag (and metric) of a CompareSpec error ``err``."""
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "pgbench":  # a per-metric threshold naming an unknown metric
        return f"--threshold: {msg}"
    key, rest = str(err["loc"][0]), err["loc"][1:]
    if key == "metrics" and rest:
        return f"--metrics {metrics[int(rest[0])]!r}: {msg}"
    if key == "thresholds" and rest:
        return f"--threshold {rest[0]}: {msg}"
    return f"--{key}: {msg}"
