"""The tidy table's schema: its columns, and the rows of one cell conformed to them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from pgbench.errors import PgbenchError
from pgbench.seeding import canonical_json

COLUMNS: dict[str, str] = {
    "suite": "string",
    "experiment": "string",
    "cell": "string",
    "env": "string",
    "env_params": "string",
    "env_label": "string",
    "policy": "string",
    "policy_params": "string",
    "policy_label": "string",
    "theta": "string",
    "theta_params": "string",
    "method": "string",
    "method_params": "string",
    "method_label": "string",
    "unbiased": "boolean",
    "seed": "int64",
    "x_name": "string",
    "x": "int64",
    "metric": "string",
    "value": "float64",
    "reference": "string",
}


class ResultsError(PgbenchError):
    """A results path that does not hold results."""


class CellFileError(ResultsError):
    """A cell file that is truncated, garbled or holds another cell's rows."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path} is not a valid cell file ({reason})")


_ARROW = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "boolean": pa.bool_(),
}


SCHEMA = pa.schema([(name, _ARROW[kind]) for name, kind in COLUMNS.items()])


def cell_frame(cell, output) -> pd.DataFrame:
    """The rows of ``cell`` (:class:`~pgbench.run.sweep.Cell`) from its experiment ``output``."""

    ident = {
        "suite": cell.suite,
        "experiment": cell.experiment,
        "cell": cell.hash,
        "env": cell.env.name,
        "env_params": canonical_json(cell.env.params),
        "env_label": cell.env.display,
        "policy": cell.policy.name,
        "policy_params": canonical_json(cell.policy.params),
        "policy_label": cell.policy.display,
        "theta": cell.theta.display if cell.theta is not None else "",
        "theta_params": canonical_json(cell.theta.definition()) if cell.theta is not None else "",
        "method": cell.method.name,
        "method_params": canonical_json(cell.method.params),
        "method_label": cell.method.display,
        "seed": cell.seed,
    }
    extra = {"reference": "", "unbiased": None, **output.columns}
    records = [{**ident, **row._asdict(), **extra} for row in output.rows]
    return conform(pd.DataFrame.from_records(records, columns=list(COLUMNS)))


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with exactly the schema's columns and dtypes, schema columns first."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"results table lacks columns {missing}")
    extra = [c for c in df.columns if c not in COLUMNS]
    out = df[list(COLUMNS) + extra].copy()
    for name, kind in COLUMNS.items():
        out[name] = out[name].astype(object if kind == "string" else kind)
    return out.reset_index(drop=True)


def empty_table() -> pd.DataFrame:
    return conform(pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS}))
