"""Figures of the gradient-quality kind (from the tidy results table only).

Every figure has one row of axes per (env, policy) and, for each evaluation
point theta, one column per quantity; a panel is one (env, policy, theta). A
line is one estimator: the median across seeds, with a 95% percentile bootstrap
interval of that median over seeds as a band or as error bars
(:func:`pgbench.experiments.summaries.seed_bands`, Generator ``default_rng(0)``); the
legend, outside the axes on the right and shared by all panels, gives each estimator's
number of seeds. Colors and markers combine so that 20+ estimators stay
distinct; biased estimators (column ``unbiased`` False) are dashed.

* ``variance_mse.png``: trace of the covariance and MSE against batch size, log-log.
* ``cosine.png``: mean cosine to the reference gradient and mean pairwise cosine
  between estimates (Ilyas et al. 2020) against batch size, log x.
* ``mse_cost.png``: MSE against env steps per estimate and against wall seconds
  per estimate (medians across seeds), log-log.

Panel titles name the reference: ``exact``, or ``mc-<E>``, a large-batch
estimate standing in where no exact gradient exists.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pgbench.experiments.summaries import pyplot, save_png, seed_bands, suite_title

VARIANCE_MSE = "variance_mse.png"
COSINE = "cosine.png"
MSE_COST = "mse_cost.png"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")


@dataclass(frozen=True)
class Quantity:
    """One column of a figure: ``y`` (a metric) against batch size, or against the median of
    the metric ``x`` (a cost) when given."""

    y: str
    ylabel: str
    x: str | None = None
    xlabel: str = "batch size (episodes per estimate)"
    ylog: bool = True


FIGURES: dict[str, tuple[str, tuple[Quantity, ...]]] = {
    VARIANCE_MSE: (
        "gradient variance and MSE",
        (Quantity("trace_cov", "trace of covariance"), Quantity("mse", "MSE")),
    ),
    COSINE: (
        "cosine to the reference and between estimates",
        (
            Quantity("cosine", "mean cosine to reference", ylog=False),
            Quantity("pairwise_cosine", "mean pairwise cosine", ylog=False),
        ),
    ),
    MSE_COST: (
        "MSE against cost",
        (
            Quantity("mse", "MSE", x="env_steps", xlabel="env steps per estimate"),
            Quantity("mse", "MSE", x="seconds", xlabel="seconds per estimate"),
        ),
    ),
}


def estimator_styles(table: pd.DataFrame) -> dict[str, dict]:
    """A distinct (color, marker, linestyle) per method label, in order of appearance."""
    labels = list(dict.fromkeys(table["method_label"]))
    cmap = pyplot().get_cmap("tab10" if len(labels) <= 10 else "tab20")
    ncolors = 10 if len(labels) <= 10 else 20
    biased = set(table.loc[table["unbiased"].fillna(True).eq(False), "method_label"])
    combos = itertools.product(range(len(_MARKERS)), range(ncolors))
    styles = {}
    for label, (m, c) in zip(labels, combos, strict=False):
        # walk colors fastest, shifting the marker with the color index so neighbours differ
        styles[label] = {
            "color": cmap(c % ncolors),
            "marker": _MARKERS[(m + c) % len(_MARKERS)],
            "linestyle": "--" if label in biased else "-",
        }
    return styles


def _reference(table: pd.DataFrame, env: str, pol: str, theta: str) -> str:
    here = table[
        (table["env_label"] == env) & (table["policy_label"] == pol) & (table["theta"] == theta)
    ]
    refs = [r for r in dict.fromkeys(here["reference"].astype(str)) if r]
    text = ",".join(refs) or "?"
    return text + (" (large-batch estimate)" if any(r.startswith("mc-") for r in refs) else "")


def _draw(ax, bands: pd.DataFrame, cost: pd.DataFrame | None, q: Quantity, styles) -> dict:
    """Draw one panel; returns {label: n_seeds} of the lines drawn."""
    drawn = {}
    for label, style in styles.items():
        b = bands[bands["method_label"] == label].sort_values("x")
        if cost is not None:
            c = cost[cost["method_label"] == label].set_index("x")["median"]
            b = b.assign(px=b["x"].map(c)).dropna(subset=["px"])
        else:
            b = b.assign(px=b["x"].astype(float))
        if q.ylog:
            b = b[b["median"] > 0]
        b = b[np.isfinite(b["median"]) & (b["px"] > 0)]
        if b.empty:
            continue
        x, y = b["px"].to_numpy(float), b["median"].to_numpy(float)
        lo, hi = b["lo"].to_numpy(float), b["hi"].to_numpy(float)
        if q.ylog:
            lo = np.clip(lo, y.min() * 1e-3, None)
        ax.plot(x, y, ms=3.5, lw=1.2, **style)
        if cost is None:
            ax.fill_between(x, lo, hi, color=style["color"], alpha=0.12, linewidth=0)
        else:
            err = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
            ax.errorbar(x, y, yerr=err, fmt="none", ecolor=style["color"], alpha=0.5, lw=0.8)
        drawn[label] = int(b["n_seeds"].min())
    return drawn


def _figure(table: pd.DataFrame, name: str, run_dir: str | Path) -> Path | None:
    """Write figure ``name`` of :data:`FIGURES` into ``run_dir``; None if nothing to draw."""
    # imported here, not at module level: start-up time (see summaries.pyplot)
    from matplotlib.lines import Line2D

    title, quantities = FIGURES[name]
    table = table[(table["x_name"] == "batch_size") & (table["experiment"] == "gradient-quality")]
    if table.empty:
        return None
    pairs = list(dict.fromkeys(zip(table["env_label"], table["policy_label"], strict=True)))
    thetas = list(dict.fromkeys(table["theta"]))
    styles = estimator_styles(table)
    summaries = {m: seed_bands(table, m) for q in quantities for m in filter(None, (q.y, q.x))}
    ncols = len(thetas) * len(quantities)
    fig, axes = pyplot().subplots(
        len(pairs),
        ncols,
        squeeze=False,
        figsize=(3.6 * ncols + 2.8, 3.0 * len(pairs) + 0.6),
        layout="constrained",
    )
    seeds: dict[str, int] = {}
    for r, (env, pol) in enumerate(pairs):
        for t, theta in enumerate(thetas):
            for k, q in enumerate(quantities):
                ax = axes[r][t * len(quantities) + k]

                def panel(df, env=env, pol=pol, theta=theta):
                    return df[
                        (df["env_label"] == env)
                        & (df["policy_label"] == pol)
                        & (df["theta"] == theta)
                    ]

                bands = panel(summaries[q.y])
                if bands.empty:
                    ax.set_axis_off()
                    continue
                cost = panel(summaries[q.x]) if q.x else None
                for label, n in _draw(ax, bands, cost, q, styles).items():
                    seeds[label] = min(n, seeds.get(label, n))
                _axes(ax, q, sorted(bands["x"].unique()))
                if k == 0:
                    head = f"{env} · {pol}" + (f"\ntheta {theta}" if theta else "")
                    ax.set_title(
                        f"{head}\nreference {_reference(table, env, pol, theta)}",
                        fontsize=8,
                        loc="left",
                    )
                if k == 0 and t == 0:
                    ax.set_ylabel(q.ylabel)
                elif k > 0 or t > 0:
                    ax.set_ylabel(q.ylabel, fontsize=8)
    handles = [Line2D([], [], ms=4, lw=1.2, **styles[label]) for label in styles if label in seeds]
    labels = [f"{label} (n={seeds[label]})" for label in styles if label in seeds]
    if handles:
        fig.legend(
            handles,
            labels,
            loc="outside right upper",
            fontsize=7,
            title="estimator (seeds)\nmedian, 95% bootstrap\ninterval over seeds;\ndashed: biased",
            title_fontsize=7,
        )
    fig.suptitle(f"{suite_title(table)}: {title}", fontsize=10)
    return save_png(fig, Path(run_dir) / name, dpi=110)


def _axes(ax, q: Quantity, sizes: list[int]) -> None:
    # imported here, not at module level: start-up time (see summaries.pyplot)
    from matplotlib.ticker import NullFormatter, NullLocator

    ax.set_xscale("log", base=2 if q.x is None else 10)
    if q.ylog:
        ax.set_yscale("log")
    else:
        lo, hi = ax.get_ylim()
        ax.set_ylim(min(lo, -0.05), max(hi, 1.05))
        ax.axhline(0.0, color="0.6", lw=0.6)
    if q.x is None and 0 < len(sizes) <= 12:
        ax.set_xticks(sizes, [str(int(n)) for n in sizes], fontsize=7)
        ax.xaxis.set_minor_locator(NullLocator())
    if q.x is not None:
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(labelsize=7)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_xlabel(q.xlabel, fontsize=8)


def variance_mse(table: pd.DataFrame, run_dir: str | Path) -> Path | None:
    """Write ``variance_mse.png``; None if the table has no gradient-quality rows."""
    return _figure(table, VARIANCE_MSE, run_dir)


def cosine(table: pd.DataFrame, run_dir: str | Path) -> Path | None:
    """Write ``cosine.png``; None if the table has no gradient-quality rows."""
    return _figure(table, COSINE, run_dir)


def mse_cost(table: pd.DataFrame, run_dir: str | Path) -> Path | None:
    """Write ``mse_cost.png``; None if the table has no gradient-quality rows."""
    return _figure(table, MSE_COST, run_dir)


def make_figures(table: pd.DataFrame, run_dir: str | Path) -> list[Path]:
    """The three figures of ``table`` (variance and MSE, cosine, MSE against cost), written
    into ``run_dir``; none if it has no gradient-quality rows."""
    written: list[Path] = []
    for draw in (variance_mse, cosine, mse_cost):
        path = draw(table, run_dir)
        if path:
            written.append(path)
    return written
