"""Figures from the tidy results table (never from experiments: plots only read rows).

:func:`variance_mse` draws, log-log against batch size, the trace of the
covariance (top row) and the MSE (bottom row) of each estimator, one column per
(env, policy): the median across seeds with a min-max band, the number of
seeds in the legend.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

from pgbench.results import atomic_write_bytes  # noqa: E402

VARIANCE_MSE = "variance_mse.png"
_ROWS = (("trace_cov", "trace of covariance"), ("mse", "MSE"))


def seed_bands(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Median, min, max and number of seeds of ``metric`` per (env, policy, method label, x).

    Columns: env_label, policy_label, method_label, x, median, lo, hi, n_seeds.
    """
    rows = table[table["metric"] == metric]
    keys = ["env_label", "policy_label", "method_label", "x"]
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "median", "lo", "hi", "n_seeds"])
    grouped = rows.groupby(keys, sort=False)["value"]
    out = grouped.agg(median="median", lo="min", hi="max", n_seeds="count").reset_index()
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


def variance_mse(table: pd.DataFrame, run_dir: str | Path) -> Path | None:
    """Write ``variance_mse.png`` into ``run_dir``; None if the table has no such metrics."""
    table = table[table["x_name"] == "batch_size"]
    if table.empty:
        return None
    panels = list(dict.fromkeys(zip(table["env_label"], table["policy_label"], strict=True)))
    labels = list(dict.fromkeys(table["method_label"]))
    colors = {m: plt.cm.tab10(i % 10) for i, m in enumerate(labels)}
    fig, axes = plt.subplots(
        len(_ROWS),
        len(panels),
        squeeze=False,
        figsize=(4.2 * len(panels) + 0.8, 6.4),
        constrained_layout=True,
    )
    for r, (metric, title) in enumerate(_ROWS):
        bands = seed_bands(table, metric)
        for c, (env, pol) in enumerate(panels):
            ax = axes[r][c]
            here = bands[(bands["env_label"] == env) & (bands["policy_label"] == pol)]
            for label in labels:
                b = here[here["method_label"] == label].sort_values("x")
                b = b[b["median"] > 0]  # log axes
                if b.empty:
                    continue
                n = int(b["n_seeds"].min())
                x = b["x"].to_numpy(dtype=float)
                ax.plot(
                    x,
                    b["median"],
                    marker="o",
                    ms=3,
                    color=colors[label],
                    label=f"{label} (n={n} seed{'s' if n != 1 else ''})",
                )
                lo = np.clip(b["lo"].to_numpy(dtype=float), b["median"].min() * 1e-3, None)
                ax.fill_between(x, lo, b["hi"], color=colors[label], alpha=0.2, linewidth=0)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            sizes = sorted(here["x"].unique())
            if 0 < len(sizes) <= 12:
                ax.set_xticks(sizes, [str(int(n)) for n in sizes])
                ax.xaxis.set_minor_locator(NullLocator())
            ax.grid(True, which="both", alpha=0.3)
            if r == 0:
                ax.set_title(f"{env}\n{pol}", fontsize=9)
            if r == len(_ROWS) - 1:
                ax.set_xlabel("batch size (episodes per estimate)")
            if c == 0:
                ax.set_ylabel(title)
            if r == 0 and ax.has_data():
                ax.legend(fontsize=7, title="median, min-max band", title_fontsize=7)
    fig.suptitle(f"{table['suite'].iloc[0]}: gradient variance and MSE", fontsize=10)
    path = Path(run_dir) / VARIANCE_MSE
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def make_plots(table: pd.DataFrame, run_dir: str | Path) -> list[Path]:
    """Every figure that applies to the experiments in ``table``, written into ``run_dir``."""
    written: list[Path] = []
    if (table["experiment"] == "gradient-quality").any():
        path = variance_mse(table[table["experiment"] == "gradient-quality"], run_dir)
        if path:
            written.append(path)
    return written
