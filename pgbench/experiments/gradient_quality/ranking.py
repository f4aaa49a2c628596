"""The gradient-quality kind's tables: estimators ranked by MSE.

Pure functions of the tidy DataFrame (:mod:`pgbench.results`), plus
:func:`write_ranking`, which writes ``ranking.csv`` and ``ranking.md``.

A *panel* is one (env label, policy label, theta label); a *group* is a panel
at one batch size. In each group estimators are ordered by their median MSE
across seeds (rank 1 = lowest). The interval next to it is a percentile
bootstrap interval of that median over seeds (:func:`pgbench.stats.bootstrap_ci`,
:data:`~pgbench.stats.DEFAULT_BOOTSTRAP` resamples, level
:data:`~pgbench.stats.DEFAULT_LEVEL`), drawn from an explicit Generator
(``numpy.random.default_rng(0)`` unless one is passed), so the files are
reproducible; ``n_seeds`` says how many seeds it rests on.

``ranking.csv`` columns (one row per group and estimator, groups in table order,
rows by rank):

================= ======= =====================================================
env, policy       str     labels
theta             str     label of the evaluation point
reference         str     ``exact``, or ``mc-<E>``: a reward-to-go estimate from
                          E episodes standing in where no exact gradient exists
batch_size        int     episodes per estimate (N)
rank              int     1 = lowest median MSE among the group's estimators with the
                          same reference (ties: label order)
estimator         str     method label
unbiased          bool    the estimator's own claim for its params
mse_median        float   median over seeds of the MSE (squared gradient units)
mse_lo, mse_hi    float   bootstrap interval of that median
n_seeds           int     seeds with an MSE in this group
cosine_median     float   median over seeds of the mean cosine to the reference
env_steps_median  float   median over seeds of the env steps per estimate
seconds_median    float   median over seeds of the wall seconds per estimate (varies
                          between runs; every other column is reproduced exactly)
================= ======= =====================================================
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from pgbench.experiments.summaries import (
    DEFAULT_SEED,
    PANEL,
    SUMMARY_KEYS,
    seed_summary,
    suite_title,
    write_table_files,
)
from pgbench.stats import DEFAULT_BOOTSTRAP, DEFAULT_LEVEL

RANKING_CSV = "ranking.csv"
RANKING_MD = "ranking.md"
SUMMARY_COLUMNS = (  # an estimator's values at the largest batch size
    "mse_median",
    "mse_lo",
    "mse_hi",
    "n_seeds",
    "cosine_median",
    "env_steps_median",
    "seconds_median",
)
RANKING_COLUMNS = [
    "env",
    "policy",
    "theta",
    "reference",
    "batch_size",
    "rank",
    "estimator",
    "unbiased",
    *SUMMARY_COLUMNS,
]


def _gradient_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The gradient-quality rows (x = batch size) of ``table``."""
    keep = (table["experiment"] == "gradient-quality") & (table["x_name"] == "batch_size")
    return table[keep]


def ranking(
    table: pd.DataFrame,
    rng: np.random.Generator | None = None,
    *,
    n_boot: int = DEFAULT_BOOTSTRAP,
    level: float = DEFAULT_LEVEL,
) -> pd.DataFrame:
    """Estimators ranked by median MSE in each (env, policy, theta, batch size) group.

    Estimators whose reference differs (another estimand, e.g. ``exact-natural`` for a
    natural-gradient estimator) are ranked among themselves, after the others of the
    group. Returns a DataFrame with :data:`RANKING_COLUMNS` (see the module docstring),
    empty if ``table`` has no gradient-quality rows.
    """
    rows = _gradient_rows(table)
    mse = seed_summary(rows, "mse", rng, n_boot=n_boot, level=level)
    if mse.empty:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    out = mse.rename(columns={"median": "mse_median", "lo": "mse_lo", "hi": "mse_hi"}).reset_index(
        drop=True
    )
    for metric in ("cosine", "env_steps", "seconds"):
        med = rows[rows["metric"] == metric].groupby(SUMMARY_KEYS, sort=False)["value"].median()
        out[f"{metric}_median"] = [med.get(tuple(k), math.nan) for k in _keys(out)]
    meta = rows.groupby(SUMMARY_KEYS[:-1], sort=False).agg(
        reference=("reference", _joined), unbiased=("unbiased", "first")
    )
    out["reference"] = [meta["reference"].get(tuple(k[:-1]), "") for k in _keys(out)]
    out["unbiased"] = [meta["unbiased"].get(tuple(k[:-1]), pd.NA) for k in _keys(out)]
    out["unbiased"] = out["unbiased"].astype("boolean")
    # groups in order of first appearance; estimators compared with the same reference
    # (the same estimand) ranked together, by median MSE (NaN last), then label
    group = [*PANEL, "x"]
    order = {k: i for i, k in enumerate(dict.fromkeys(map(tuple, out[group].to_numpy())))}
    out["_group"] = [order[tuple(k)] for k in out[group].to_numpy()]
    refs = {r: i for i, r in enumerate(dict.fromkeys(out["reference"]))}
    out["_ref"] = out["reference"].map(refs)
    out = out.sort_values(
        ["_group", "_ref", "mse_median", "method_label"], na_position="last", kind="stable"
    )
    out["rank"] = out.groupby(["_group", "_ref"]).cumcount() + 1
    out = out.rename(
        columns={
            "env_label": "env",
            "policy_label": "policy",
            "method_label": "estimator",
            "x": "batch_size",
        }
    )
    out["batch_size"] = out["batch_size"].astype("int64")
    out["n_seeds"] = out["n_seeds"].astype("int64")
    return out[RANKING_COLUMNS].reset_index(drop=True)


def _keys(df: pd.DataFrame) -> list[tuple]:
    return [tuple(k) for k in df[SUMMARY_KEYS].itertuples(index=False, name=None)]


def _main_reference(panel: pd.DataFrame) -> str:
    """The reference most rows of ``panel`` are compared with (first of the ties)."""
    counts = panel["reference"].astype(str).value_counts(sort=False)
    return str(counts.idxmax()) if len(counts) else ""


def _joined(values: pd.Series) -> str:
    return ",".join(dict.fromkeys(str(v) for v in values if v))


# ---------------------------------------------------------------- text


def _g(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def _steps(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:.0f}"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def _yes_no(value) -> str:
    return "-" if value is pd.NA or value is None else ("yes" if bool(value) else "no")


def interval_note(n_boot: int = DEFAULT_BOOTSTRAP, level: float = DEFAULT_LEVEL) -> str:
    """How the MSE interval is computed, in one sentence."""
    return (
        f"Interval: {level:.0%} percentile bootstrap interval of the median MSE over seeds "
        f"({n_boot} resamples of the seeds, numpy Generator default_rng({DEFAULT_SEED}) "
        "unless another is given)"
    )


def ranking_markdown(
    rank: pd.DataFrame,
    title: str = "",
    *,
    n_boot: int = DEFAULT_BOOTSTRAP,
    level: float = DEFAULT_LEVEL,
) -> str:
    """``ranking.md``: one section per panel, one table per batch size, rows by rank."""
    lines = [
        f"# Gradient estimators ranked by MSE{': ' + title if title else ''}",
        "",
        "At each batch size N (episodes per estimate), estimators are ordered by their "
        "median MSE across seeds (rank 1 = lowest). "
        + interval_note(n_boot, level)
        + "; n: seeds. cosine: median over seeds of the mean cosine to the reference; "
        "env steps: median env steps per estimate; unbiased: the estimator's claim for its "
        "params. Reference `exact`: the closed-form gradient; `mc-<E>`: a reward-to-go "
        "estimate (per-step baseline) from E episodes standing in for it (its own noise, "
        "estimated from independent sub-batches, is subtracted from the MSE); "
        "`-natural`: the natural gradient F^+ grad J, target of natural-gradient estimators; "
        "`-restricted`: the trust-region step built from the reference gradient, target of "
        "restricted-step estimators (marked `vs` where a row's reference differs from its "
        "section's; such rows are ranked among themselves).",
    ]
    if rank.empty:
        return "\n".join([*lines, "", "No gradient-quality results.", ""])
    head = (
        f"| rank | estimator | MSE (median) | {level:.0%} interval | n | cosine | env steps "
        "| unbiased |"
    )
    rule = "|---:|---|---:|---|---:|---:|---:|:-:|"
    for (env, pol, theta), panel in rank.groupby(["env", "policy", "theta"], sort=False):
        ref = _main_reference(panel)
        where = " · ".join([_md(env), _md(pol)] + ([f"theta {_md(theta)}"] if theta else []))
        lines += ["", f"## {where} (reference {ref})"]
        for n, group in panel.groupby("batch_size", sort=False):
            lines += ["", f"### N = {n}", "", head, rule]
            for r in group.itertuples(index=False):
                name = _md(r.estimator) + (f" (vs {r.reference})" if r.reference != ref else "")
                lines.append(
                    f"| {r.rank} | {name} | {_g(r.mse_median)} | "
                    f"[{_g(r.mse_lo)}, {_g(r.mse_hi)}] | {r.n_seeds} | {_g(r.cosine_median)} | "
                    f"{_steps(r.env_steps_median)} | {_yes_no(r.unbiased)} |"
                )
    return "\n".join(lines) + "\n"


def rank_matrix(rank: pd.DataFrame) -> list[tuple[tuple[str, str, str, str], pd.DataFrame]]:
    """The compact view printed after a run: per panel ((env, policy, theta, reference), frame),
    reference the one most estimators of the panel are compared with.

    Each frame has one row per estimator (``label (vs <reference>)`` where its reference
    differs, ranked among themselves), ordered by rank at the largest batch size:
    ``estimator``, ``unbiased``, one column ``N=<n>`` per batch size holding the
    rank there (NA where the estimator did not run), then at the largest batch
    size ``mse_median``, ``mse_lo``, ``mse_hi``, ``n_seeds``, ``cosine_median``,
    ``env_steps_median``, ``seconds_median``.
    """
    out = []
    for (env, pol, theta), panel in rank.groupby(["env", "policy", "theta"], sort=False):
        ref = _main_reference(panel)
        other = panel["reference"] != ref
        panel = panel.assign(
            estimator=panel["estimator"].where(
                ~other, panel["estimator"] + " (vs " + panel["reference"] + ")"
            )
        )
        sizes = sorted(panel["batch_size"].unique())
        ranks = panel.pivot(index="estimator", columns="batch_size", values="rank")
        top = panel[panel["batch_size"] == sizes[-1]].set_index("estimator")
        labels = list(top.index) + [
            e for e in dict.fromkeys(panel["estimator"]) if e not in top.index
        ]
        frame = pd.DataFrame({"estimator": labels})
        first = panel.drop_duplicates("estimator").set_index("estimator")
        frame["unbiased"] = [first.loc[e, "unbiased"] for e in labels]
        for n in sizes:
            frame[f"N={n}"] = pd.array([ranks.loc[e, n] for e in labels], dtype="Int64")
        for col in SUMMARY_COLUMNS:
            frame[col] = [top[col].get(e, math.nan) for e in labels]
        out.append(((env, pol, theta, ref), frame))
    return out


# ---------------------------------------------------------------- files


def write_ranking(
    table: pd.DataFrame, run_dir: str | Path, rng: np.random.Generator | None = None
) -> list[Path]:
    """Write ``ranking.csv`` and ``ranking.md`` into ``run_dir`` (atomically), none if ``table``
    has no gradient-quality rows. Returns the paths written."""
    rank = ranking(table, rng)
    if rank.empty:
        return []
    markdown = ranking_markdown(rank, suite_title(table))
    return write_table_files(rank, markdown, run_dir, RANKING_CSV, RANKING_MD, "%.17g")
