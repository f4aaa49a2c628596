"""The tidy results table: schema, Parquet files per cell, CSV export and run metadata.

Long format, one row per (cell, x, metric). Columns (:data:`COLUMNS`):

=============== ======= ==========================================================
suite           str     suite name
experiment      str     experiment kind, e.g. ``gradient-quality``
cell            str     cell content hash (:attr:`pgbench.run.sweep.Cell.hash`)
env             str     environment registry name
env_params      str     its params as canonical JSON (``{}`` if none)
env_label       str     its label in the suite (unique there; plots use it)
policy          str     policy registry name
policy_params   str     canonical JSON
policy_label    str     label
theta           str     label of the evaluation point (``""`` for kinds without one)
theta_params    str     its definition as canonical JSON, e.g. ``{"kind":"init","seed":0}``
method          str     estimator (or algorithm) registry name
method_params   str     canonical JSON, e.g. ``{"baseline":"optimal"}``
method_label    str     label (one line per label in plots)
unbiased        bool    the estimator is unbiased with these params (NA for non-estimators)
seed            int64   replicate seed of the cell
x_name          str     what x counts: ``batch_size`` (episodes per estimate), ...
x               int64   the x value
metric          str     e.g. ``mse``; see the experiment module for definitions
value           float64 the metric's value (NaN where undefined)
reference       str     reference gradient: ``exact``, or ``mc-<episodes>`` where it is a
                        large-batch reward-to-go estimate (``""`` if none)
=============== ======= ==========================================================

A run directory holds::

    metadata.json                suite text, cell list, versions, git commit (+ a digest of
                                 uncommitted changes), machine, Numba threads, compile times
    cells/<hash>.parquet         one file per finished cell of the current suite, and no
                                 other (written to a temp name, then renamed)
    stale-cells/<hash>.parquet   finished cells of earlier versions of the suite
    invalid-cells/<hash>.parquet files that failed the check below, kept for inspection
    failures.jsonl               one JSON object per failed cell of the last run (absent if none)
    results.csv                  the table of the current cells, as CSV
    *.png, *.md, *.csv           each experiment kind's figures and tables (the outputs of
                                 pgbench/experiments/<kind>/), report.md and report.html

so a glob over ``cells/*.parquet`` (DuckDB, polars, pyarrow.dataset) reads the
same rows as :func:`load_results`. A cell file is *valid* when it reads as
Parquet with its page checksums, carries its cell's canonical JSON in its schema
metadata (key ``pgbench.cell``) and its rows carry the hash its name says; the
runner also checks that JSON against the cell it expects (:func:`read_cell_file`).

The ``seconds`` metric (wall time) is the only value that differs between runs
of the same suite; every other value is reproduced bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pgbench.errors import PgbenchError
from pgbench.kernels import runtime_info
from pgbench.seeding import HASH_CHARS, canonical_json
from pgbench.version import __version__

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
CELLS_DIR = "cells"
STALE_DIR = "stale-cells"  # finished cells that the current suite does not have
INVALID_DIR = "invalid-cells"  # files that failed validation, kept for inspection
CELL_KEY = b"pgbench.cell"  # schema metadata key of a cell file: the cell's canonical JSON
METADATA = "metadata.json"
FAILURES = "failures.jsonl"
CSV = "results.csv"


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
_SCHEMA = pa.schema([(name, _ARROW[kind]) for name, kind in COLUMNS.items()])


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


# ---------------------------------------------------------------- atomic files


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory + os.replace,
    so readers see the old file or the new one, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def cell_path(run_dir: Path, cell_hash: str) -> Path:
    return Path(run_dir) / CELLS_DIR / f"{cell_hash}.parquet"


def write_cell(run_dir: Path, cell, df: pd.DataFrame) -> Path:
    """Write one cell's rows to ``cells/<hash>.parquet`` atomically; the cell's canonical
    JSON goes into the file's schema metadata (key ``pgbench.cell``)."""

    table = pa.Table.from_pandas(conform(df), schema=_SCHEMA, preserve_index=False)
    table = table.replace_schema_metadata({CELL_KEY: canonical_json(cell.canonical())})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, write_page_checksum=True)  # so a garbled page is detected
    path = cell_path(run_dir, cell.hash)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return path


# ---------------------------------------------------------------- reading


# columns added after the first release, with their value in files written before them
_ADDED_COLUMNS = {"theta": "", "theta_params": "", "unbiased": None}


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _read_table(path: Path) -> pa.Table:
    """The Parquet file at ``path``, page checksums verified where it has them (files
    written before pgbench wrote checksums have none)."""
    with pq.ParquetFile(path, page_checksum_verification=True) as f:
        return f.read()


def _check_identity(path: Path, table: pa.Table, expected) -> None:
    """Raise :class:`CellFileError` unless ``table`` (read from ``path``) is a cell file
    whose rows carry the hash its name says and, if ``expected`` (a
    :class:`~pgbench.run.sweep.Cell`) is given, whose cell description is ``expected``'s."""
    name = Path(path).stem
    described = (table.schema.metadata or {}).get(CELL_KEY)
    if described is None:
        raise CellFileError(path, "no pgbench.cell description in its schema metadata")
    if expected is not None:

        if described != canonical_json(expected.canonical()).encode():
            holds = hashlib.sha256(described).hexdigest()[:HASH_CHARS]
            raise CellFileError(path, f"it describes cell {holds}, not {expected.hash}")
    if "cell" not in table.column_names:
        raise CellFileError(path, "it has no cell column")
    others = [h for h in pc.unique(table.column("cell")).to_pylist() if h != name]
    if others:
        raise CellFileError(path, f"its rows belong to cell {others[0]}")


def read_cell_file(path: Path, expected=None) -> pa.Table:
    """The rows of the cell file at ``path`` (an Arrow table, for :func:`concat_cells`),
    after checking that the file is valid (see the module docstring; ``expected``: the
    :class:`~pgbench.run.sweep.Cell` it must hold). Reads the file once.

    Raises :class:`CellFileError` (one line naming the file) for an invalid file.
    """
    try:
        table = _read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CellFileError(path, f"unreadable Parquet: {_first_line(exc)}") from None
    _check_identity(path, table, expected)
    return table


def _with_added_columns(table: pa.Table) -> pa.Table:
    """``table`` with the columns added since it was written, without schema metadata."""
    for name, value in _ADDED_COLUMNS.items():
        if name not in table.column_names:
            column = pa.array([value] * table.num_rows, type=_SCHEMA.field(name).type)
            table = table.append_column(_SCHEMA.field(name), column)
    return table.replace_schema_metadata(None)


def read_cell(path: Path) -> pd.DataFrame:
    """The rows of one Parquet file, conformed (no cell checks: any tidy table will do)."""
    return concat_cells([pq.read_table(path)])


def concat_cells(tables: list[pa.Table]) -> pd.DataFrame:
    """The tidy table of cells' rows (from :func:`read_cell_file`), in their order; one
    conversion to pandas for the whole table, not one per cell."""
    if not tables:
        return empty_table()
    whole = pa.concat_tables([_with_added_columns(t) for t in tables], promote_options="default")
    return conform(whole.to_pandas())


def empty_table() -> pd.DataFrame:
    return conform(pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS}))


def cell_files(run_dir: Path) -> list[Path]:
    """Parquet files of the run's current cells (metadata.json's list, in order), or all."""
    run_dir = Path(run_dir)
    meta = run_dir / METADATA
    cells = run_dir / CELLS_DIR if (run_dir / CELLS_DIR).is_dir() else run_dir
    if meta.is_file():
        try:
            hashes = json.loads(meta.read_text())["cells"]
        except (ValueError, KeyError, TypeError):
            raise ResultsError(f"{meta}: not a pgbench metadata file") from None
        return [p for p in (cells / f"{h}.parquet" for h in hashes) if p.is_file()]
    return sorted(cells.glob("*.parquet"))


def load_results(path: str | Path) -> pd.DataFrame:
    """One tidy DataFrame from a run directory (its current cells) or a single Parquet file.

    Every cell file of a run directory is checked (:func:`read_cell_file`); an invalid
    one is a :class:`ResultsError` that names it, never rows left out in silence.
    """
    path = Path(path)
    if path.is_file():
        return read_cell(path)
    if not path.is_dir():
        raise ResultsError(f"no results at {path}")
    try:
        tables = [read_cell_file(p) for p in cell_files(path)]
    except CellFileError as exc:
        raise ResultsError(f"{exc}; run its suite into {path} again to recompute it") from None
    return concat_cells(tables)


def export_csv(df: pd.DataFrame, run_dir: Path) -> Path:
    """``results.csv`` of ``df`` in ``run_dir`` (atomic), values with full float precision."""
    path = Path(run_dir) / CSV
    atomic_write_text(path, df.to_csv(index=False, float_format="%.17g"))
    return path


def write_failures(run_dir: Path, failures: Iterable[dict]) -> Path | None:
    """``failures.jsonl`` with one object per failure, or remove it when there is none."""
    path = Path(run_dir) / FAILURES
    lines = [json.dumps(f, sort_keys=True) for f in failures]
    if not lines:
        path.unlink(missing_ok=True)
        return None
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def read_failures(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / FAILURES
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------- metadata


def _version(dist: str) -> str | None:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return None


_REPO = Path(__file__).resolve().parent.parent  # the checkout pgbench runs from, if any
_PACKAGE = "pgbench"


def _git(*args: str, repo: Path = _REPO) -> bytes | None:
    """Output of ``git -C repo ARGS`` (None where git or the repository is missing)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def git_info(repo: Path = _REPO) -> dict:
    """Commit of the source tree at ``repo`` and whether it differs from it, counting only
    changes that can alter results: modified tracked files and untracked files inside the
    package (not a ``.venv/``, ``results/`` or build output). A dirty tree also gets
    ``diff_sha256``, the sha256 of ``git diff HEAD`` and the untracked package files
    (names and contents), so runs from the same uncommitted code carry the same digest.
    Commit and dirty are None where ``repo`` is not the top of a git checkout (an installed
    package inside some other repository is not its checkout)."""
    top = _git("rev-parse", "--show-toplevel", repo=repo)
    commit = _git("rev-parse", "HEAD", repo=repo)
    if top is None or commit is None or Path(top.decode().strip()).resolve() != repo.resolve():
        return {"commit": None, "dirty": None}
    modified = _git("status", "--porcelain", "--untracked-files=no", repo=repo)
    untracked = _git("ls-files", "-z", "--others", "--exclude-standard", "--", _PACKAGE, repo=repo)
    diff = _git("diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", repo=repo)
    if modified is None or untracked is None or diff is None:
        return {"commit": commit.decode().strip(), "dirty": None}
    new_files = sorted(name for name in untracked.decode().split("\0") if name)
    info = {"commit": commit.decode().strip(), "dirty": bool(modified.strip() or new_files)}
    if info["dirty"]:
        digest = hashlib.sha256(diff)
        for name in new_files:
            digest.update(b"\0" + name.encode() + b"\0")
            path = repo / name
            digest.update(path.read_bytes() if path.is_file() else b"")
        info["diff_sha256"] = digest.hexdigest()
    return info


def numba_info() -> dict:
    """Numba version, threading layer, threads, CPU lanes and the kernel source hash."""
    return runtime_info()


def run_metadata(suite, suite_text: str, suite_file: str | None, cells: list, **extra) -> dict:
    """The ``metadata.json`` object of a run of ``suite`` over ``cells``."""
    return {
        "pgbench": __version__,
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "suite": {
            "name": suite.name,
            "experiment": suite.experiment,
            "file": suite_file,
            "text": suite_text,
        },
        "settings": suite.report_settings(),
        "cells": [c.hash for c in cells],
        "versions": {
            "python": platform.python_version(),
            **{
                d: _version(d)
                for d in (
                    "numpy",
                    "numba",
                    "pandas",
                    "pyarrow",
                    "pydantic",
                    "matplotlib",
                    "llvmlite",
                )
            },
        },
        "git": git_info(),
        "machine": {
            "platform": platform.platform(),
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        },
        "numba": numba_info(),
        **extra,
    }


def write_metadata(run_dir: Path, meta: dict) -> Path:
    path = Path(run_dir) / METADATA
    atomic_write_text(path, json.dumps(meta, indent=2, sort_keys=False) + "\n")
    return path


def read_metadata(run_dir: Path) -> dict:
    """``metadata.json`` of ``run_dir``, or {} where it is missing or not a JSON object."""
    try:
        meta = json.loads((Path(run_dir) / METADATA).read_text())
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def compile_block(seconds: dict[str, float]) -> dict:
    """The ``compile`` entry of ``metadata.json``: the Numba compile (or cache load)
    seconds that cells reported, kept out of their ``seconds`` metric, in total and per
    cell hash."""
    cells = {h: round(float(s), 6) for h, s in seconds.items()}
    return {"seconds": round(sum(cells.values()), 6), "cells": cells}
