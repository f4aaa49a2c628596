"""``across_problems.png``: the estimator ranking aggregated across problems
(:mod:`.across_problems`), at the largest common batch size.

Left, three interval plots, one row per estimator (ordered by IQM, highest on top; the
base's row in bold), of the IQM, median and mean of the score log10(MSE_base / MSE) with
their stratified-bootstrap intervals, a grey line at 0 (the base's level). Right, the
performance profile: the fraction of all seeds x problems scores above tau, with its
stratified-bootstrap band (:func:`pgbench.stats.performance_profile`, ``"runs"``), in the
colors of the kind's other figures (:func:`.figures.estimator_styles`).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from pgbench.experiments.gradient_quality.across_problems import (
    METRICS,
    Selection,
    mse_rows,
    score_matrices,
)
from pgbench.experiments.gradient_quality.figures import estimator_styles
from pgbench.experiments.summaries import DEFAULT_SEED, pyplot, save_png, suite_title
from pgbench.stats import DEFAULT_BOOTSTRAP, DEFAULT_LEVEL, performance_profile

ACROSS_PNG = "across_problems.png"
TAUS = 101  # points of the performance profile's grid
_TITLES = {"iqm": "IQM", "median": "median", "mean": "mean"}


def _intervals(ax, frame: pd.DataFrame, metric: str, styles: dict, base: str) -> None:
    y = np.arange(len(frame))[::-1]
    for yi, r in zip(y, frame.itertuples(index=False), strict=True):
        color = styles[r.estimator]["color"]
        low, high = getattr(r, f"{metric}_lo"), getattr(r, f"{metric}_hi")
        ax.plot([low, high], [yi, yi], color=color, lw=5, alpha=0.45, solid_capstyle="butt")
        ax.plot([getattr(r, metric)], [yi], "|", color=color, ms=11, mew=2)
    ax.axvline(0.0, color="0.55", lw=0.8)
    ax.set_yticks(y, list(frame["estimator"]), fontsize=7)
    for label in ax.get_yticklabels():
        label.set_fontweight("bold" if label.get_text() == base else "normal")
    ax.set_ylim(-0.7, len(frame) - 0.3)
    ax.set_title(_TITLES[metric], fontsize=9)
    ax.set_xlabel("log10(MSE_base / MSE)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(True, axis="x", alpha=0.3)


def _profile(ax, scores: dict[str, np.ndarray], order: list[str], styles: dict) -> None:
    pooled = np.concatenate([x.ravel() for x in scores.values()])
    span = max(float(pooled.max() - pooled.min()), 1e-3)
    taus = np.linspace(pooled.min() - 0.05 * span, pooled.max() + 0.05 * span, TAUS)
    profiles = performance_profile(scores, taus, np.random.default_rng(DEFAULT_SEED))
    for name in order:
        p, style = profiles[name], styles[name]
        ax.plot(taus, p.fraction, color=style["color"], ls=style["linestyle"], lw=1.2, label=name)
        ax.fill_between(taus, p.low, p.high, color=style["color"], alpha=0.12, linewidth=0)
    ax.axvline(0.0, color="0.55", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("performance profile", fontsize=9)
    ax.set_xlabel("tau: log10(MSE_base / MSE)", fontsize=8)
    ax.set_ylabel("fraction of scores > tau", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3)


def across_figure(
    table: pd.DataFrame, selection: Selection, frame: pd.DataFrame, run_dir: str | Path
) -> Path:
    """Write ``across_problems.png`` into ``run_dir`` for :func:`.across_problems.across_problems`'
    ``selection`` and ``frame`` of ``table``; returns its path."""
    n = selection.batch_sizes[-1]
    at = frame[frame["batch_size"] == n]
    rows = mse_rows(table)
    styles = estimator_styles(rows)
    scores = score_matrices(rows, selection, n)
    n_runs = sorted(set(at["n_runs"]))
    fig, axes = pyplot().subplots(
        1,
        len(METRICS) + 1,
        figsize=(2.4 * len(METRICS) + 6.6, max(3.2, 0.3 * len(at) + 2.0)),
        layout="constrained",
        gridspec_kw={"width_ratios": [1.0] * len(METRICS) + [1.7]},
    )
    for k, metric in enumerate(METRICS):
        _intervals(axes[k], at, metric, styles, selection.base)
        if k:
            axes[k].tick_params(axis="y", labelleft=False)
    _profile(axes[-1], scores, list(at["estimator"]), styles)
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper", fontsize=7, title="estimator")
    seeds = "/".join(map(str, n_runs))
    head = f"{suite_title(table)}: estimators across {len(selection.panels)} problems at N = {n}"
    note = (
        f"score = log10(MSE_base / MSE), MSE_base the median over seeds of {selection.base}'s "
        f"MSE on the problem (higher: lower MSE); {DEFAULT_LEVEL:.0%} stratified-bootstrap "
        f"percentile intervals, {DEFAULT_BOOTSTRAP} replicates; {seeds} seeds per problem; "
        "profile: fraction of all seeds x problems scores above tau"
    )
    fig.suptitle(head + "\n" + "\n".join(textwrap.wrap(note, 150)), fontsize=8)
    return save_png(fig, Path(run_dir) / ACROSS_PNG, dpi=110)
