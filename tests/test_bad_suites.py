"""A corpus of malformed suites (tests/bad_suites/): each makes ``pgbench run`` exit with 2,
print ONE line on stderr, ``file:LINE:COL: message`` at the offending spot, and write nothing.

Every corpus file starts with ``# expect LINE:COL fragment``: the 1-based position the error
must name and a piece of its message. Files that cannot be read at all (missing, a directory,
no read permission) have no position; their one line is ``pgbench: error: ...`` naming the
path (the CLI reads the suite itself) or, equally, :func:`pgbench.suite.yaml_reading.read_suite`'s
``path: cannot read suite: reason``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pgbench.cli import main
from pgbench.experiments import SUITE_KINDS, load_suite
from pgbench.suite.errors import SuiteError

CORPUS = Path(__file__).parent / "bad_suites"
CASES = sorted(CORPUS.glob("*.yaml"))
HEADER = re.compile(r"# expect (\d+):(\d+) (\S.*)")


def expectation(path: Path) -> tuple[str, str]:
    """(``LINE:COL``, message fragment) from the corpus file's first line."""
    first = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    match = HEADER.fullmatch(first)
    assert match, f"{path.name}: the first line must be '# expect LINE:COL fragment'"
    return f"{match[1]}:{match[2]}", match[3]


def run_cli(suite: Path, tmp_path: Path, capsys, monkeypatch) -> tuple[int, str]:
    """Exit code and the stderr line of ``pgbench run suite`` (checked: exactly one line,
    nothing on stdout, nothing written under ``tmp_path`` -- also the working directory,
    so that a default ``results/<name>/`` would show -- beside what was there)."""
    before = sorted(tmp_path.rglob("*"))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    code = main(["run", str(suite), "--out", str(out), "--executor", "serial"])
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and captured.err == lines[0] + "\n", captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists()
    assert sorted(tmp_path.rglob("*")) == before
    return code, lines[0]


def test_corpus_covers_every_kind_and_category():
    assert len(CASES) >= 24
    texts = [p.read_bytes().decode("utf-8", "replace") for p in CASES]
    for kind in SUITE_KINDS:
        assert sum(f"experiment: {kind}\n" in t for t in texts) >= 5, kind
    names = " ".join(p.stem for p in CASES)
    for category in (
        "yaml-",
        "unknown-",
        "-for-",
        "zero-",
        "negative-",
        "empty-",
        "duplicate-key",
        "duplicate-top-key",
        "duplicate-estimator-label",
        "empty-file",
        "bare-list",
        "bare-scalar",
        "non-utf8",
        # bounded: aliases, nesting, sizes, grids (each fails at once, nothing allocated)
        "yaml-alias-bomb",
        "yaml-alias-cycle",
        "yaml-deep-nesting",
        "huge-seed-count",
        "seed-count-as-text",
        "too-many-cells",
        "garnet-too-large",
        "batch-over-memory",
        "update-over-memory",
        "name-too-long",
        # strict and finite parameters
        "bool-for-estimator-number",
        "string-for-estimator-number",
        "infinite-estimator-parameter",
        "infinite-nested-parameter",
        "bool-for-learner-number",
        "nan-env-parameter",
        "nan-target",
        # a learning-curve budget that buys no update
        "budget-below-one-update",
    ):
        assert category in names, category
    for path in CASES:
        expectation(path)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_bad_suite_exit_2_one_line_at_position_nothing_written(path, tmp_path, capsys, monkeypatch):
    where, fragment = expectation(path)
    code, line = run_cli(path, tmp_path, capsys, monkeypatch)
    assert code == 2
    positioned = f"{path}:{where}: "
    assert line.startswith(positioned), line
    assert fragment in line, line
    # the library reports the same line as the command
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value) == line


def check_unreadable(line: str, path: Path, reason: str) -> None:
    assert line == f"{path}: cannot read suite: {reason}", line


def test_missing_file(tmp_path, capsys, monkeypatch):
    path = tmp_path / "no-such-suite.yaml"
    code, line = run_cli(path, tmp_path, capsys, monkeypatch)
    assert code == 2
    check_unreadable(line, path, "No such file or directory")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value) == f"{path}: cannot read suite: No such file or directory"


def test_directory_as_suite(tmp_path, capsys, monkeypatch):
    path = tmp_path / "suite.yaml"
    path.mkdir()
    code, line = run_cli(path, tmp_path, capsys, monkeypatch)
    assert code == 2
    check_unreadable(line, path, "Is a directory")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    assert str(info.value) == f"{path}: cannot read suite: Is a directory"


def test_file_without_read_permission(tmp_path, capsys, monkeypatch):
    path = tmp_path / "suite.yaml"
    path.write_bytes((CORPUS / "gq-zero-repeats.yaml").read_bytes())
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root (or a file system without permissions) reads it
            pytest.skip("a file with mode 000 is readable here (running as root?)")
        code, line = run_cli(path, tmp_path, capsys, monkeypatch)
        assert code == 2
        check_unreadable(line, path, "Permission denied")
    finally:
        path.chmod(0o644)
