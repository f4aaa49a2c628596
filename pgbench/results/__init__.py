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

Modules: :mod:`.table` (the schema, one cell's rows), :mod:`.files` (the run
directory's files), :mod:`.metadata` (``metadata.json``).
"""

from pgbench.results.files import (
    CELL_KEY,
    CELLS_DIR,
    CSV,
    FAILURES,
    INVALID_DIR,
    METADATA,
    STALE_DIR,
    atomic_write_bytes,
    atomic_write_text,
    cell_files,
    cell_path,
    concat_cells,
    export_csv,
    load_results,
    read_cell,
    read_cell_file,
    read_failures,
    write_cell,
    write_failures,
)
from pgbench.results.metadata import (
    compile_block,
    git_info,
    numba_info,
    read_metadata,
    run_metadata,
    write_metadata,
)
from pgbench.results.table import (
    COLUMNS,
    CellFileError,
    ResultsError,
    cell_frame,
    conform,
    empty_table,
)

__all__ = [
    "CELLS_DIR",
    "CELL_KEY",
    "COLUMNS",
    "CSV",
    "FAILURES",
    "INVALID_DIR",
    "METADATA",
    "STALE_DIR",
    "CellFileError",
    "ResultsError",
    "atomic_write_bytes",
    "atomic_write_text",
    "cell_files",
    "cell_frame",
    "cell_path",
    "compile_block",
    "concat_cells",
    "conform",
    "empty_table",
    "export_csv",
    "git_info",
    "load_results",
    "numba_info",
    "read_cell",
    "read_cell_file",
    "read_failures",
    "read_metadata",
    "run_metadata",
    "write_cell",
    "write_failures",
    "write_metadata",
]
