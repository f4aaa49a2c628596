"""A run directory cannot mislead: ``cells/`` holds exactly the current suite's finished
cells, and a damaged cell file is named, set aside and recomputed, never loaded."""

from __future__ import annotations

import glob
import shutil
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import pgbench
from pgbench import results
from pgbench.cli import main
from pgbench.experiments import parse_suite
from pgbench.metrics import TIMING
from pgbench.results import CELLS_DIR, INVALID_DIR, STALE_DIR, ResultsError
from pgbench.run.executors import SerialExecutor
from pgbench.run.runner import run_suite
from pgbench.run.sweep import expand

SUITE = """\
name: integrity
experiment: gradient-quality
seeds: [0, 1]
repeats: 2
batch_sizes: [2, 4]
reference_episodes: 50
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: 5}}
policies:
  - {name: tabular-softmax}
estimators:
  - reinforce
  - reward-to-go
"""
SHIFTED = SUITE.replace("seeds: [0, 1]", "seeds: [1, 2]")  # keeps seed 1, drops 0, adds 2


def run(text: str, run_dir, **kw):
    return run_suite(
        parse_suite(text, "suite.yaml"), run_dir, suite_text=text, executor=SerialExecutor(), **kw
    )


def cell_names(folder) -> set[str]:
    return {p.name for p in folder.glob("*.parquet")}


def without_timing(df: pd.DataFrame) -> pd.DataFrame:
    return df[~df["metric"].isin(TIMING)].reset_index(drop=True)


def by_cell(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` conformed and ordered by cell (rows of a cell keep their order)."""
    df = results.conform(df)
    return df.sort_values("cell", kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run of SUITE (4 cells), copied by each test that changes it."""
    run_dir = tmp_path_factory.mktemp("integrity") / "run"
    summary = run(SUITE, run_dir)
    assert summary.ok and summary.count("done") == 4 and not summary.warnings
    return run_dir


@pytest.fixture
def run_dir(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


# ---------------------------------------------------------------- layout


def test_a_glob_over_cells_reads_the_rows_of_load_results_after_a_suite_change(run_dir):
    first = {c.hash for c in expand(parse_suite(SUITE, "suite.yaml"))}
    shifted = run(SHIFTED, run_dir)
    current = {c.hash for c in shifted.cells}
    assert shifted.count("skipped") == 2 and shifted.count("done") == 2  # seed 1 reused
    assert cell_names(run_dir / CELLS_DIR) == {f"{h}.parquet" for h in current}
    assert cell_names(run_dir / STALE_DIR) == {f"{h}.parquet" for h in first - current}

    table = by_cell(pgbench.load_results(run_dir))
    assert set(table["seed"]) == {1, 2} and table["cell"].nunique() == 4
    pattern = str(run_dir / CELLS_DIR / "*.parquet")
    reads = {
        "pandas, list of globbed files": pd.read_parquet(sorted(glob.glob(pattern))),
        "pandas, the cells folder": pd.read_parquet(run_dir / CELLS_DIR),
        "pyarrow.dataset": ds.dataset(run_dir / CELLS_DIR, format="parquet").to_table().to_pandas(),
    }
    for how, df in reads.items():
        pd.testing.assert_frame_equal(by_cell(df), table, check_exact=True, obj=how)
    pd.testing.assert_frame_equal(by_cell(shifted.table), table, check_exact=True)


def test_stale_cells_move_back_instead_of_being_recomputed(run_dir):
    before = {p.name: p.stat().st_mtime_ns for p in (run_dir / CELLS_DIR).glob("*.parquet")}
    run(SHIFTED, run_dir)
    again = run(SUITE, run_dir)
    assert again.count("skipped") == 4 and again.count("done") == 0
    after = {p.name: p.stat().st_mtime_ns for p in (run_dir / CELLS_DIR).glob("*.parquet")}
    assert after == before  # the very files of the first run, back in place
    assert len(cell_names(run_dir / STALE_DIR)) == 2  # seed 2's cells, set aside in turn


def test_a_run_directory_of_the_old_layout_loads_and_is_tidied_by_the_next_run(run_dir):
    """Before this layout, ``cells/`` kept the files of earlier suites (``metadata.json``
    said which were current), and older files lack columns and page checksums."""
    other = SimpleNamespace(hash="0123456789abcdef", canonical=lambda: {"cell": "other"})
    table = pgbench.load_results(run_dir)
    results.write_cell(
        run_dir, other, table[table["cell"] == table["cell"][0]].assign(cell=other.hash)
    )
    oldest = sorted((run_dir / CELLS_DIR).glob("*.parquet"))[-1]
    legacy = pq.read_table(oldest).drop_columns(["theta", "theta_params", "unbiased"])
    pq.write_table(legacy, oldest)  # no page checksums either
    loaded = pgbench.load_results(run_dir)
    pd.testing.assert_frame_equal(
        loaded.drop(columns=["theta", "theta_params", "unbiased"]),
        table.drop(columns=["theta", "theta_params", "unbiased"]),
    )
    assert (loaded.loc[loaded["cell"] == oldest.stem, "theta"] == "").all()

    summary = run(SUITE, run_dir)
    assert summary.count("skipped") == 4 and not summary.warnings
    assert cell_names(run_dir / STALE_DIR) == {f"{other.hash}.parquet"}


# ---------------------------------------------------------------- damaged files


def _truncate(path, other):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path, other):
    path.write_bytes(b"not a parquet file at all\n" * 40)


def _copy_of_another_cell(path, other):
    shutil.copyfile(other, path)


def _garbled_page(path, other):
    """One flipped byte in a data page (footer intact): only the page checksum sees it."""
    meta = pq.ParquetFile(path).metadata
    chunk = meta.row_group(0).column(meta.schema.names.index("value"))
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + chunk.total_compressed_size - 1] ^= 0x01
    path.write_bytes(bytes(data))


def _without_description(path, other):
    """The same rows, written by plain pyarrow: no ``pgbench.cell`` schema metadata."""
    table = pq.read_table(path)
    pq.write_table(table.replace_schema_metadata(None), path)


DAMAGE = {
    "truncated": (_truncate, "unreadable Parquet"),
    "garbage": (_garbage, "unreadable Parquet"),
    "copy of another cell": (_copy_of_another_cell, "its rows belong to cell"),
    "garbled page": (_garbled_page, "unreadable Parquet"),
    "no description": (_without_description, "no pgbench.cell description"),
}


@pytest.fixture(params=list(DAMAGE))
def damaged(request, run_dir):
    """``(run_dir, damaged file, words of the load error)`` for each kind of damage."""
    damage, words = DAMAGE[request.param]
    victim, other = sorted((run_dir / CELLS_DIR).glob("*.parquet"))[:2]
    damage(victim, other)
    return run_dir, victim, words


def test_loading_a_damaged_file_is_one_line_that_names_it(damaged):
    run_dir, victim, words = damaged
    with pytest.raises(ResultsError) as info:
        pgbench.load_results(run_dir)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{victim} is not a valid cell file (")
    assert words in message and message.endswith(
        f"run its suite into {run_dir} again to recompute it"
    )


def test_report_and_compare_of_a_damaged_run_stop_with_one_line(damaged, finished, capsys):
    run_dir, victim, _ = damaged
    assert main(["report", str(run_dir)]) == 2
    assert main(["compare", str(finished), str(run_dir), "--json", str(run_dir / "c.json")]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all(f"{victim} is not a valid cell file" in line for line in lines)
    assert lines[0].startswith("pgbench: error: ") and "Traceback" not in "".join(lines)


def test_the_next_run_names_the_damaged_file_sets_it_aside_and_recomputes_it(
    damaged, finished, capsys
):
    run_dir, victim, _ = damaged
    summary = run(SUITE, run_dir)
    assert summary.ok and summary.count("done") == 1 and summary.count("skipped") == 3
    invalid = run_dir / INVALID_DIR
    (warning,) = summary.warnings
    assert warning.startswith(f"{victim} is not a valid cell file (")
    assert warning.endswith(f"; moved to {invalid}/, it will be recomputed")
    assert capsys.readouterr().err == f"pgbench: warning: {warning}\n"
    assert cell_names(invalid) == {victim.name} and victim.is_file()
    recomputed = pgbench.load_results(run_dir)
    pd.testing.assert_frame_equal(
        without_timing(recomputed), without_timing(pgbench.load_results(finished))
    )
    assert not run(SUITE, run_dir).warnings  # whole again


def test_a_damaged_stale_file_is_recomputed_not_moved_back(run_dir):
    run(SHIFTED, run_dir)
    stale = sorted((run_dir / STALE_DIR).glob("*.parquet"))[0]
    _truncate(stale, None)
    summary = run(SUITE, run_dir)
    assert summary.count("done") == 1 and summary.count("skipped") == 3
    (warning,) = summary.warnings
    assert warning.startswith(f"{stale} is not a valid cell file (unreadable Parquet: ")
    assert cell_names(run_dir / INVALID_DIR) == {stale.name}
    assert pq.read_table(run_dir / CELLS_DIR / stale.name).num_rows > 0


def _lose(path, other):
    path.unlink()


@pytest.mark.parametrize("fault", [_truncate, _lose], ids=["truncated", "missing"])
def test_a_cell_file_damaged_or_lost_as_it_is_written_is_a_failed_cell(run_dir, monkeypatch, fault):
    real = results.write_cell
    victim = expand(parse_suite(SUITE, "suite.yaml"))[0]

    def write_then_damage(folder, cell, df):  # a planted fault: a disk that loses bytes,
        path = real(folder, cell, df)  # or a worker on a file system the runner cannot see
        if cell.hash == victim.hash:
            fault(path, None)
        return path

    monkeypatch.setattr(results, "write_cell", write_then_damage)
    summary = run(SUITE, run_dir, force=True)
    (failed,) = summary.failed
    assert failed.cell.hash == victim.hash and failed.error_type == "InvalidCellFile"
    assert failed.error == summary.warnings[0] and len(summary.warnings) == 1
    assert failed.error.startswith(str(run_dir / CELLS_DIR / f"{victim.hash}.parquet"))
    assert failed.error.endswith("it will be recomputed by the next run")
    assert [f["cell"] for f in results.read_failures(run_dir)] == [victim.hash]
    assert victim.hash not in set(summary.table["cell"]) and summary.table["cell"].nunique() == 3
    assert not (run_dir / CELLS_DIR / f"{victim.hash}.parquet").exists()

    monkeypatch.setattr(results, "write_cell", real)
    again = run(SUITE, run_dir)
    assert again.ok and again.count("done") == 1 and not results.read_failures(run_dir)


# ---------------------------------------------------------------- the check itself


def test_the_runner_checks_the_description_against_the_cell_it_expects(run_dir):
    a, b = expand(parse_suite(SUITE, "suite.yaml"))[:2]
    path = run_dir / CELLS_DIR / f"{b.hash}.parquet"
    table = pq.read_table(run_dir / CELLS_DIR / f"{a.hash}.parquet")
    relabelled = table.set_column(
        table.column_names.index("cell"), "cell", pa.array([b.hash] * len(table))
    )
    pq.write_table(relabelled, path)  # rows say b, the description says a
    assert set(results.read_cell_file(path)["cell"].to_pylist()) == {b.hash}  # load check: ok
    with pytest.raises(results.CellFileError, match=f"it describes cell {a.hash}, not {b.hash}"):
        results.read_cell_file(path, b)
    assert run(SUITE, run_dir).count("done") == 1
