"""What the experiment kinds' figures and tables share: seed summaries and writing files.

* :func:`seed_summary`: the median across seeds of one metric with a percentile bootstrap
  interval of that median, per (panel, method, x); :func:`seed_bands` is it with the
  Generator the figures draw from (``numpy.random.default_rng(0)``).
* :func:`pyplot`: ``matplotlib.pyplot`` on the Agg backend, imported on first use so that
  importing the kinds (every run, every worker process) does not import matplotlib.
* :func:`save_png`, :func:`suite_title`: a figure written atomically; the title of a table.
"""

from __future__ import annotations

import functools
import math
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pgbench.results import atomic_write_bytes, atomic_write_text
from pgbench.stats import DEFAULT_BOOTSTRAP, DEFAULT_LEVEL, bootstrap_ci, group_rng

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DEFAULT_SEED = 0  # of the default bootstrap Generator
PANEL = ["env_label", "policy_label", "theta"]
SUMMARY_KEYS = [*PANEL, "method_label", "x"]


def _default_rng(rng: np.random.Generator | None) -> np.random.Generator:
    return rng if rng is not None else np.random.default_rng(DEFAULT_SEED)


def seed_summary(
    table: pd.DataFrame,
    metric: str,
    rng: np.random.Generator | None = None,
    *,
    n_boot: int = DEFAULT_BOOTSTRAP,
    level: float = DEFAULT_LEVEL,
) -> pd.DataFrame:
    """Median across seeds of ``metric`` with a bootstrap interval, per (panel, method, x).

    Columns: env_label, policy_label, theta, method_label, x, median, lo, hi, n_seeds
    (NaN values are left out and not counted; a group of NaN only has median NaN and
    n_seeds 0). Groups keep the table's order. One
    word is drawn from ``rng``; each group's resamples come from
    :func:`~pgbench.stats.group_rng` of it and the group's key.
    """
    rows = table[table["metric"] == metric]
    cols = [*SUMMARY_KEYS, "median", "lo", "hi", "n_seeds"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    base = int(_default_rng(rng).integers(0, 2**63))
    out = []
    for key, part in rows.groupby(SUMMARY_KEYS, sort=False):
        values = part.sort_values("seed")["value"].to_numpy(dtype=np.float64)
        values = values[~np.isnan(values)]
        key = (*(str(k) for k in key[:-1]), int(key[-1]))
        if values.size and np.all(np.isfinite(values)):
            gen = group_rng(base, (metric, *key))
            lo, hi = bootstrap_ci(values, gen, n_boot=n_boot, level=level)
        else:  # no value, or inf (e.g. snr of a constant estimate): no interval
            lo = hi = math.nan
        median = float(np.median(values)) if values.size else math.nan
        out.append((*key, median, lo, hi, len(values)))
    return pd.DataFrame(out, columns=cols)


def seed_bands(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Median, interval and number of seeds of ``metric`` per (panel, method label, x), as
    the figures draw them: :func:`seed_summary` with ``numpy.random.default_rng(0)``.

    Columns: env_label, policy_label, theta, method_label, x, median, lo, hi, n_seeds.
    """
    return seed_summary(table, metric, np.random.default_rng(0))


@functools.cache
def pyplot():
    """``matplotlib.pyplot``, its backend set to Agg on the first call."""
    # imported here, not at module level: start-up time of every run and worker process
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Figure, path: Path, dpi: int) -> Path:
    """Write ``fig`` as a PNG of ``dpi`` dots per inch to ``path`` (atomically), close it;
    returns ``path``."""
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def suite_title(table: pd.DataFrame) -> str:
    """The suite names of ``table``, in order of appearance, comma-separated."""
    return ", ".join(dict.fromkeys(table["suite"].astype(str)))


def write_table_files(
    frame: pd.DataFrame,
    markdown: str,
    run_dir: str | Path,
    csv_name: str,
    md_name: str,
    float_format: str,
) -> list[Path]:
    """Write ``frame`` as ``csv_name`` (floats as ``float_format``) and ``markdown`` as
    ``md_name`` into ``run_dir``, each atomically; returns [csv path, md path]."""
    run_dir = Path(run_dir)
    csv_path, md_path = run_dir / csv_name, run_dir / md_name
    atomic_write_text(csv_path, frame.to_csv(index=False, float_format=float_format))
    atomic_write_text(md_path, markdown)
    return [csv_path, md_path]
