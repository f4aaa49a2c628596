"""The comparison of two tidy tables: one row per (key, x, metric) (:func:`compare`), the
failures and exit code, the JSON verdict (:class:`Comparison`, with the aggregate verdict
across tasks where it was asked for) and the warnings for the reader. The rules are those
of :mod:`pgbench.compare`."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from pgbench.compare.aggregate import AggregateCheck
from pgbench.compare.errors import CompareError
from pgbench.compare.pairing import (
    FINAL,
    KEY,
    PARAMS,
    groups,
    key_columns,
    pair_seeds,
    replicates,
    shared_what,
    with_variant,
)
from pgbench.compare.rows import compare_pairs, compare_samples
from pgbench.compare.settings import DEFAULT_METRICS, Settings
from pgbench.compare.text import describe, describe_power
from pgbench.metrics import DIRECTIONS, LOWER
from pgbench.stats import (
    POWER,
    group_rng,
    min_mannwhitney_p,
    min_wilcoxon_p,
    pairs_needed,
    seeds_needed,
)

FAILING = ("regression", "missing")
STATUS_ORDER = (
    "regression",
    "missing",
    "underpowered",
    "worse",
    "changed",
    "improved",
    "new",
    "no-data",
    "ok",
)


@dataclass
class Comparison:
    """The rows of a comparison (one per key, x and metric; columns of
    :func:`~pgbench.compare.rows.compare_samples` plus labels, params, direction and
    threshold), the settings, the warnings (one line each) and the aggregate verdict
    across tasks (:class:`~pgbench.compare.aggregate.AggregateCheck`; None: not asked
    for, and then absent from the JSON verdict)."""

    rows: pd.DataFrame
    settings: Settings
    warnings: list[str]
    aggregate: AggregateCheck | None = None

    @property
    def failures(self) -> pd.DataFrame:
        """The failing rows, with a column ``failure``: the status, or ``underpowered``
        for a row that fails only because of ``--strict``."""
        fail = [s for s in FAILING if not (s == "missing" and self.settings.allow_missing)]
        failing = self.rows["status"].isin(fail)
        strict = self.rows["underpowered"].eq(True) & ~failing if self.settings.strict else False
        out = self.rows[failing | strict]
        return out.assign(failure=np.where(out["status"].isin(fail), out["status"], "underpowered"))

    @property
    def aggregate_failures(self) -> tuple:
        """The failing :class:`~pgbench.compare.aggregate.AggregateRow` rows (none where
        the aggregate is off)."""
        if self.aggregate is None:
            return ()
        return self.aggregate.failures(self.settings.strict)

    @property
    def exit_code(self) -> int:
        return 1 if len(self.failures) or self.aggregate_failures else 0

    def with_aggregate(self, check: AggregateCheck) -> Comparison:
        """This comparison with the aggregate verdict ``check``, its warnings appended."""
        return replace(self, aggregate=check, warnings=[*self.warnings, *check.warnings])

    def counts(self) -> dict[str, int]:
        counts = self.rows["status"].value_counts()
        return {s: int(counts[s]) for s in STATUS_ORDER if s in counts}

    def verdict(self, base: str = "", new: str = "") -> dict:
        """The JSON verdict: pass / fail, settings, counts, failures, warnings, all rows,
        and (where asked for) the ``aggregate`` object."""
        out = {
            "verdict": "fail" if self.exit_code else "pass",
            "exit_code": self.exit_code,
            "base": base,
            "new": new,
            "settings": self.settings.as_json(),
            "counts": self.counts(),
            "underpowered": int(self.rows["underpowered"].sum()),
            "failures": _records(self.failures),
            "warnings": list(self.warnings),
            "comparisons": _records(self.rows),
        }
        if self.aggregate is not None:
            out["aggregate"] = self.aggregate.as_json(self.settings.strict)
        return out


def _records(df: pd.DataFrame) -> list[dict]:
    """JSON-ready records: NaN / inf as null, x of final points as null."""

    def clean(value):
        if isinstance(value, (float, np.floating)):
            return float(value) if math.isfinite(value) else None
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.bool_):
            return bool(value)
        return None if value is pd.NA else value

    out = []
    for rec in df.to_dict("records"):
        rec = {k: clean(v) for k, v in rec.items()}
        if rec.get("x") == FINAL:
            rec["x"] = None
        out.append(rec)
    return out


def compare(
    base: pd.DataFrame,
    new: pd.DataFrame,
    settings: Settings | None = None,
    rng: np.random.Generator | None = None,
) -> Comparison:
    """Compare the tidy tables ``base`` and ``new`` (:mod:`pgbench.results`).

    One word is drawn from ``rng`` (default ``default_rng(0)``); each row's bootstrap
    uses :func:`~pgbench.stats.group_rng` of it and the row's key, so a row's interval
    does not depend on the other rows. Raises :class:`CompareError` when ``base`` has
    none of the metrics, the tables share no key, or (paired) no key shares a seed.
    """
    settings = settings or Settings()
    unknown = [m for m in settings.metrics if m not in DIRECTIONS]
    if unknown:
        raise CompareError(f"no direction known for metrics {unknown}")
    key_cols = key_columns(settings.pair_by)
    rng = rng if rng is not None else np.random.default_rng(0)
    word = int(rng.integers(0, 2**63))
    if key_cols == KEY:
        base, new = with_variant([base, new])
    gb = groups(replicates(base, settings.metrics, "BASE", key_cols), key_cols)
    gn = groups(replicates(new, settings.metrics, "NEW", key_cols), key_cols)
    if gb.empty:
        raise CompareError("BASE has none of the compared metrics: " + ", ".join(settings.metrics))
    if not gb.index.intersection(gn.index).size:
        raise CompareError(
            f"BASE and NEW share no {shared_what(key_cols)}; are they runs of the same suite?"
        )
    info = [c for c in gb.columns if c not in ("values", "seeds")]
    info_b, info_n = gb[info].to_dict("index"), gn[info].to_dict("index")
    seeds_b = dict(zip(gb.index, zip(gb["values"], gb["seeds"], strict=True), strict=True))
    seeds_n = dict(zip(gn.index, zip(gn["values"], gn["seeds"], strict=True), strict=True))
    keys = list(gb.index) + [k for k in gn.index if k not in info_b]
    records = []
    for key in keys:
        k = dict(zip(key_cols, key, strict=True))
        ib, inew = info_b.get(key), info_n.get(key)
        meta = {**(ib or {}), **(inew or {}), **k}  # NEW's labels and params first
        metric = k["metric"]
        args = (DIRECTIONS[metric], settings.threshold_for(metric), settings.alpha)
        row_rng = group_rng(word, tuple(str(v) for v in key))
        a, b = (np.asarray(s[key][0] if key in s else [], float) for s in (seeds_b, seeds_n))
        if settings.paired and np.isfinite(a).any() and np.isfinite(b).any():
            a, b, lost = pair_seeds(seeds_b[key], seeds_n[key])
            stats = {**compare_pairs(a, b, *args, row_rng), "n_unpaired": lost}
        else:
            stats = compare_samples(a, b, *args, row_rng)
            stats["n_unpaired"] = 0 if settings.paired else None
        changed = [c for c in PARAMS if ib and inew and c in ib and ib[c] != inew[c]]
        records.append(
            {
                "experiment": k["experiment"],
                "env": meta["env_label"],
                "policy": meta["policy_label"],
                "theta": meta["theta"],
                "method": meta["method_label"],
                "x_name": k["x_name"],
                "x": int(k["x"]),
                "metric": metric,
                "direction": "lower" if DIRECTIONS[metric] == LOWER else "higher",
                "threshold": settings.threshold_for(metric),
                **stats,
                **{c: meta[c] for c in PARAMS},
                "params_changed": changed,
            }
        )
    rows = pd.DataFrame.from_records(records)
    rows = rows.astype({"seeds_suggested": "Int64", "n_unpaired": "Int64"})
    pairless = rows["status"].eq("no-data") & rows["underpowered"]
    if settings.paired and pairless.any() and not (rows["n_new"] > 0).any():
        raise CompareError("--paired: BASE and NEW share no seed of any comparison")
    return Comparison(rows, settings, _warnings(rows, base, new, settings))


def _warnings(
    rows: pd.DataFrame, base: pd.DataFrame, new: pd.DataFrame, settings: Settings
) -> list[str]:
    """One line per problem the reader should know about (none of them fails the check,
    but underpowered rows fail with ``--strict``)."""
    out = []
    alpha = settings.alpha
    tested = rows[(rows["n_base"] > 0) & (rows["n_new"] > 0)]
    blind = _blind_sizes(tested, alpha, settings.paired)
    if blind:
        count = int(sum(_of_size(tested, nb, nn).sum() for nb, nn in blind))
        if settings.paired:
            sizes = ", ".join(f"{n} pairs (smallest p {min_wilcoxon_p(n):.2g})" for n, _ in blind)
            test, need = "signed-rank test", f"{pairs_needed(alpha)} seeds on both sides"
        else:
            sizes = ", ".join(
                f"{nb} vs {nn} (smallest p {min_mannwhitney_p(nb, nn):.2g})" for nb, nn in blind
            )
            test, need = "test", f"{seeds_needed(alpha)} seeds on each side"
        out.append(
            f"too few seeds for the {test} to ever fire at alpha {alpha:g}: {sizes}; "
            f"{count} of {len(tested)} comparisons can never fail; use at least {need}"
        )
    under = rows[rows["status"] == "underpowered"]
    if len(under):
        out.append(
            f"{len(under)} changes worse than the threshold could not be tested (too few "
            "seeds for their spread): "
            + "; ".join(describe(r) for r in under.head(5).to_dict("records"))
            + (" ..." if len(under) > 5 else "")
        )
    weak = rows[rows["underpowered"].eq(True)]
    if len(weak):
        out.append(
            f"{len(weak)} of {len(tested)} comparisons are underpowered: they could not detect "
            f"a change of the threshold size at alpha {alpha:g} with power {POWER:g} "
            "(minimum detectable change above threshold - 1, or a test that cannot reach "
            "alpha): "
            + "; ".join(describe_power(r, settings.paired) for r in weak.head(5).to_dict("records"))
            + (" ..." if len(weak) > 5 else "")
            + ("; failed (--strict)" if settings.strict else "; --strict fails them")
        )
    if settings.paired:
        lost = int(rows["n_unpaired"].fillna(0).sum())
        if lost:
            count = int((rows["n_unpaired"] > 0).sum())
            out.append(
                f"--paired: {lost} values of {count} comparisons have no partner (the same "
                "comparison and seed on the other side) and were left out"
            )
    fewer = rows[(rows["n_new"] > 0) & (rows["n_new"] < rows["n_base"])]
    if len(fewer):
        out.append(
            f"{len(fewer)} comparisons have fewer seeds with finite values in NEW than in "
            "BASE (failed cells? see NEW's failures.jsonl)"
        )
    differ = rows[rows["params_changed"].map(len) > 0]
    if len(differ):
        names = dict.fromkeys(
            f"{r['method']} ({', '.join(r['params_changed'])})" for r in differ.to_dict("records")
        )
        out.append(
            f"{len(differ)} comparisons pair rows whose parameters differ (--pair-by label): "
            + ", ".join(list(names)[:5])
            + (" ..." if len(names) > 5 else "")
        )
    missing = rows[rows["status"] == "missing"]
    if len(missing) and settings.allow_missing:
        out.append(f"{len(missing)} comparisons are missing from NEW (allowed)")
    if settings.metrics != DEFAULT_METRICS:  # asked for by name: say which are absent
        present = set(base["metric"]) | set(new["metric"])
        absent = [m for m in settings.metrics if m not in present]
        if absent:
            out.append("metrics in neither BASE nor NEW: " + ", ".join(absent))
    added = rows[rows["status"] == "new"]
    if len(added):
        out.append(f"{len(added)} comparisons are in NEW only (not checked)")
    return out


def _blind_sizes(tested: pd.DataFrame, alpha: float, paired: bool) -> list[tuple[int, int]]:
    """The (n_base, n_new) of ``tested`` with which the rank test can never reach alpha."""
    sizes = sorted(set(zip(tested["n_base"], tested["n_new"], strict=True)))
    if paired:
        return [(nb, nn) for nb, nn in sizes if min_wilcoxon_p(nb) >= alpha]
    return [(nb, nn) for nb, nn in sizes if min(nb, nn) < 2 or min_mannwhitney_p(nb, nn) >= alpha]


def _of_size(rows: pd.DataFrame, n_base: int, n_new: int) -> pd.Series:
    return (rows["n_base"] == n_base) & (rows["n_new"] == n_new)
