"""Which rows of BASE and NEW are compared with which: the key columns, each seed's value
per key (:func:`replicates`), the values per key (:func:`groups`) and, for the paired
design, the seeds both sides hold (:func:`pair_seeds`). The rules are those of
:mod:`pgbench.compare` (Pairing; What is compared)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pgbench.compare.errors import CompareError
from pgbench.metrics import CURVE_X

FINAL_X = CURVE_X  # compared at each seed's last point
FINAL = -1  # x of a final-point comparison (shown as "final", null in JSON)
CONFIG = [
    "experiment",
    "env",
    "env_params",
    "policy",
    "policy_params",
    "theta_params",
    "method",
    "method_params",
]
LABELS = ["env_label", "policy_label", "theta", "method_label"]
PARAMS = ["env_params", "policy_params", "theta_params", "method_params"]
KEY = [*CONFIG, "variant", "x_name", "x", "metric"]  # --pair-by config
LABEL_KEY = ["experiment", *LABELS, "x_name", "x", "metric"]  # --pair-by label
PAIR_BY = ("config", "label")


def key_columns(pair_by: str = "config") -> list[str]:
    """The columns that pair rows: :data:`KEY` (``config``) or :data:`LABEL_KEY` (``label``)."""
    if pair_by not in PAIR_BY:
        raise CompareError(f"--pair-by: {pair_by!r} is not one of {', '.join(PAIR_BY)}")
    return KEY if pair_by == "config" else LABEL_KEY


def shared_what(key_cols: list[str]) -> str:
    """What the key columns ``key_cols`` name, for the error of tables that share none."""
    if key_cols == KEY:
        return "configuration (env, policy, method, params, x, metric)"
    return "labels (env, policy, theta, method, x, metric)"


def with_variant(frames: list[pd.DataFrame]) -> list[pd.DataFrame]:
    """``frames`` (tidy tables) with a ``variant`` column: the joined labels where a
    configuration appears under more than one label tuple in some frame, else ``""``."""
    ambiguous = []
    for df in frames:
        labelled = df[CONFIG + LABELS].drop_duplicates()
        ambiguous.append(labelled[labelled.duplicated(CONFIG, keep=False)][CONFIG])
    flags = pd.concat(ambiguous).drop_duplicates().assign(_ambiguous=True)
    out = []
    for df in frames:
        marked = df.merge(flags, on=CONFIG, how="left")["_ambiguous"].eq(True).to_numpy()
        joined = df[LABELS[0]].astype(str)
        for column in LABELS[1:]:
            joined = joined + " / " + df[column].astype(str)
        out.append(df.assign(variant=np.where(marked, joined.to_numpy(), "")))
    return out


def replicates(
    df: pd.DataFrame, metrics: tuple[str, ...], side: str, key: list[str] = KEY
) -> pd.DataFrame:
    """One row per (``key``, seed) of ``df`` (a tidy table, with a ``variant`` column when
    ``key`` is :data:`KEY`), for ``metrics`` only; at x_names in :data:`FINAL_X` only each
    seed's last point, with x = :data:`FINAL`. ``side`` (BASE / NEW) names the table in
    errors."""
    df = df[df["metric"].isin(metrics)]
    final = df["x_name"].isin(FINAL_X)
    if final.any():
        series = [*(c for c in key if c != "x"), "seed"]
        last = df[final].groupby(series, sort=False)["x"].transform("max")
        ends = df[final][df[final]["x"] == last].assign(x=FINAL)
        df = pd.concat([df[~final], ends], ignore_index=True)
    dup = df.duplicated([*key, "seed"])
    if dup.any():
        row = df[dup].iloc[0]
        by = "configuration" if key == KEY else "labels"
        raise CompareError(
            f"{side} holds more than one row for {row['method_label']} on {row['env_label']}, "
            f"{row['metric']} at {row['x_name']}={row['x']}, seed {row['seed']} (paired by "
            f"{by}): not the table of one run"
        )
    return df


def groups(rep: pd.DataFrame, key: list[str] = KEY) -> pd.DataFrame:
    """Per ``key`` of the :func:`replicates` ``rep``: the values and seeds (lists, seed
    order), the labels and parameters not in the key (first row's), in table order."""
    rep = rep.sort_values("seed", kind="stable")
    info = [c for c in LABELS + PARAMS if c not in key]
    agg = {"values": ("value", list), "seeds": ("seed", list)}
    agg |= {c: (c, "first") for c in info}
    return rep.groupby(key, sort=False, dropna=False).agg(**agg)


def pair_seeds(
    base: tuple[list, list], new: tuple[list, list]
) -> tuple[np.ndarray, np.ndarray, int]:
    """The values of the seeds on both sides, as (base (n,), new (n,), unpaired), from
    (values, seeds) of each side; unpaired counts the values of seeds on one side only."""
    vb = dict(zip(base[1], base[0], strict=True))
    vn = dict(zip(new[1], new[0], strict=True))
    common = [s for s in vb if s in vn]
    a = np.array([vb[s] for s in common], dtype=np.float64)
    b = np.array([vn[s] for s in common], dtype=np.float64)
    return a, b, len(vb) + len(vn) - 2 * len(common)
