"""The files of a run directory: cell Parquet files (written atomically, read back with
their checks), the table of all cells, the CSV export and the failures list."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pgbench.results.table import (
    SCHEMA,
    CellFileError,
    ResultsError,
    conform,
    empty_table,
)
from pgbench.seeding import HASH_CHARS, canonical_json

CELLS_DIR = "cells"


STALE_DIR = "stale-cells"  # finished cells that the current suite does not have


INVALID_DIR = "invalid-cells"  # files that failed validation, kept for inspection


CELL_KEY = b"pgbench.cell"  # schema metadata key of a cell file: the cell's canonical JSON


METADATA = "metadata.json"


FAILURES = "failures.jsonl"


CSV = "results.csv"


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

    table = pa.Table.from_pandas(conform(df), schema=SCHEMA, preserve_index=False)
    table = table.replace_schema_metadata({CELL_KEY: canonical_json(cell.canonical())})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, write_page_checksum=True)  # so a garbled page is detected
    path = cell_path(run_dir, cell.hash)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return path


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
            column = pa.array([value] * table.num_rows, type=SCHEMA.field(name).type)
            table = table.append_column(SCHEMA.field(name), column)
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
