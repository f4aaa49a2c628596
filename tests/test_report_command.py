"""``pgbench report``: one report.md and one self-contained report.html per run directory."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil

import pytest

from pgbench import results
from pgbench.cli import main
from pgbench.estimators.base import Estimator, NoParams
from pgbench.experiments import parse_suite
from pgbench.registry import ESTIMATORS
from pgbench.report import REPORT_HTML, REPORT_MD, html_page, write_report
from pgbench.run.executors import SerialExecutor
from pgbench.run.runner import run_suite

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CRASH = "report-test-crash"


def _crashing_estimator(sampler, theta, episodes, seed, params):
    raise RuntimeError("disk on fire | twice")


if CRASH not in ESTIMATORS:
    ESTIMATORS.register(CRASH)(
        Estimator(
            name=CRASH,
            fn=_crashing_estimator,
            params=NoParams,
            unbiased=False,
            citation="tests/test_report_command.py",
        )
    )

GRADIENT = f"""\
name: tiny-gradients
experiment: gradient-quality
description: Two estimators on a small garnet.
seeds: 2
repeats: 3
batch_sizes: [2, 8]
reference_episodes: 50
envs:
  - {{name: garnet, params: {{n_states: 3, n_actions: 2, branching: 2, horizon: 5}}}}
policies: [tabular-softmax]
estimators: [reinforce, reward-to-go, {CRASH}]
"""

CURVES = """\
name: tiny-curves
experiment: learning-curve
seeds: 2
env_steps: 400
eval_episodes: 2
envs:
  - {name: garnet, label: garnet, params: {n_states: 4, n_actions: 2, horizon: 8, seed: 1},
     target: 1}
policies: [{name: tabular-softmax, label: tabular}]
algorithms: [{name: reinforce, params: {episodes: 4}}]
"""

GAMES = """\
name: tiny-games
experiment: two-agent
seeds: 2
envs: [{name: ipd, params: {horizon: 12}, label: ipd}]
iterations: 3
episodes: 8
pairings: [{learners: [lola-exact, nl-exact], label: LOLA-NL}]
"""

GAME_ESTIMATORS = """\
name: tiny-game-estimators
experiment: game-estimators
seeds: 1
envs: [{name: ipd, params: {horizon: 6}}]
batch_sizes: [4, 16]
repeats: 2
estimators: [pg-gradient, lola-pg-cross-term]
"""

FIGURES = {
    "gradient": {"variance_mse.png", "cosine.png", "mse_cost.png"},
    "curves": {"learning_curves.png"},
    "games": {"two_agent_rewards.png", "two_agent_policies.png"},
    "game-estimators": {"game_estimators.png"},
}
TABLES = {
    "gradient": {"ranking.md"},
    "curves": {"final_performance.md"},
    "games": {"two_agent.md"},
    "game-estimators": {"game_estimators.md"},
}
SECTIONS = {
    "gradient": "Gradient quality",
    "curves": "Learning curves",
    "games": "Two-agent learning",
    "game-estimators": "Game estimators",
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run directories with their reports: one tiny suite per kind ("gradient" through
    ``pgbench run``, with two failed cells; the others through :func:`run_suite` and
    :func:`write_report`), and "combined": the cells of the game and curve runs together,
    without metadata."""
    root = tmp_path_factory.mktemp("runs")
    suite_file = root / "gradient.yaml"
    suite_file.write_text(GRADIENT)
    argv = ["run", str(suite_file), "--out", str(root / "gradient"), "--executor", "serial"]
    assert main([*argv, "--quiet"]) == 1  # the crashing estimator's cells failed
    texts = {"curves": CURVES, "games": GAMES, "game-estimators": GAME_ESTIMATORS}
    written = {}
    for name, text in texts.items():
        suite = parse_suite(text, f"{name}.yaml")
        run_suite(suite, root / name, suite_text=text, executor=SerialExecutor())
        written[name] = write_report(root / name)
    combined = root / "combined" / results.CELLS_DIR
    combined.mkdir(parents=True)
    for name in texts:
        for cell in results.cell_files(root / name):
            shutil.copy(cell, combined)
    dirs = {name: root / name for name in [*FIGURES, "combined"]}
    return dirs, written


def _images(page: str) -> list[bytes]:
    """The decoded data URIs of every ``<img>`` of ``page``."""
    uris = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert all(u.startswith("data:image/png;base64,") for u in uris), "an image is not embedded"
    return [base64.b64decode(u.split(",", 1)[1], validate=True) for u in uris]


def _headers(md_text: str) -> list[str]:
    """Header cells of every pipe table of ``md_text``."""
    lines = md_text.splitlines()
    cells = []
    for head, rule in zip(lines, lines[1:], strict=False):
        if head.startswith("|") and re.fullmatch(r"\|(:?-+:?\|)+", rule):
            cells += [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", head)[1:-1]]
    return cells


def _self_contained(page: str) -> None:
    for tag in ("<script", "<link", "<iframe", "href=", "url(", "@import"):
        assert tag not in page, tag
    assert re.findall(r'src="(?!data:)', page) == []


def test_run_writes_the_report_with_its_failures(runs):
    run = runs[0]["gradient"]
    md = (run / REPORT_MD).read_text()
    page = (run / REPORT_HTML).read_text()
    assert "# pgbench report: tiny-gradients" in md and "Two estimators on a small garnet." in md
    assert "6 in the suite: 4 finished, 2 failed" in md
    assert "## Failures" in md and md.count(f"| {CRASH} |") == 2
    assert "<td>RuntimeError: disk on fire | twice</td>" in page  # the pipe of the message survives
    assert len(_images(page)) == 3


@pytest.mark.parametrize("kind", list(FIGURES))
def test_report_of_each_kind(runs, kind):
    out = runs[0][kind]
    if kind in runs[1]:
        paths = runs[1][kind]
        assert [p.name for p in paths[-2:]] == [REPORT_MD, REPORT_HTML]
        assert {p.name for p in paths if p.suffix == ".png"} == FIGURES[kind]
        assert TABLES[kind] <= {p.name for p in paths}
    md, page = (out / REPORT_MD).read_text(), (out / REPORT_HTML).read_text()

    images = _images(page)
    assert len(images) == len(FIGURES[kind])
    assert all(data.startswith(PNG_SIGNATURE) for data in images)
    assert sorted(images) == sorted((out / name).read_bytes() for name in FIGURES[kind])
    for name in FIGURES[kind]:  # Markdown: relative links to the PNG files next to it
        assert f"![{name}]({name})" in md
    for table in TABLES[kind]:
        heads = _headers((out / table).read_text())
        assert heads
        for head in heads:
            assert f">{html.escape(head)}</th>" in page, head
    assert f"<h2>{SECTIONS[kind]}</h2>" in page
    assert [s for s in SECTIONS.values() if f"<h2>{s}</h2>" in page] == [SECTIONS[kind]]

    meta = json.loads((out / results.METADATA).read_text())
    assert f"<strong>pgbench</strong>: {meta['pgbench']}, git commit" in page
    for fact in (
        meta["suite"]["name"],
        meta["git"]["commit"] or "git commit unknown",
        meta["machine"]["platform"],
        meta["machine"]["cpu_model"],
        f"threading layer {meta['numba']['threading_layer']}",
        f"{meta['numba']['num_threads']} threads",
    ):
        assert html.escape(fact) in page, fact
    assert "<h2>Suite</h2>" in page
    if kind == "curves":  # the suite's target, read back from the metadata
        assert "| 1 | 2/2 |" in (out / "final_performance.md").read_text()
    assert ("<h2>Failures</h2>" in page) == (kind == "gradient")
    _self_contained(page)


def test_a_directory_of_several_kinds_without_metadata(runs):
    run = runs[0]["combined"]
    assert main(["report", str(run)]) == 0
    page = (run / REPORT_HTML).read_text()
    kinds = ("curves", "games", "game-estimators")
    assert len(_images(page)) == sum(len(FIGURES[k]) for k in kinds)
    assert [s for s in SECTIONS.values() if f"<h2>{s}</h2>" in page] == [SECTIONS[k] for k in kinds]
    assert "git commit unknown" in page and "3 in the suite: 3 finished, 0 failed" not in page
    _self_contained(page)


def test_cli_report_into_another_directory(runs, tmp_path, capsys):
    out = tmp_path / "elsewhere"
    run = runs[0]["games"]
    before = (run / REPORT_MD).stat().st_mtime_ns
    assert main(["report", str(run), "--out", str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line == f"report: {out / REPORT_MD}, {out / REPORT_HTML} (2 figures, 1 table)"
    md = (out / REPORT_MD).read_text()
    for name in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)
    assert (run / REPORT_MD).stat().st_mtime_ns == before


@pytest.mark.parametrize("case", ["missing", "empty", "no-finished-cell"])
def test_no_results_is_a_one_line_error(tmp_path, capsys, case):
    run = tmp_path / "run"
    if case != "missing":
        (run / results.CELLS_DIR).mkdir(parents=True)
    if case == "no-finished-cell":
        (run / results.METADATA).write_text(json.dumps({"cells": ["0" * 16]}))
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"pgbench: error: no results {'at' if case == 'missing' else 'in'} {run}"
    )
    assert not (run / REPORT_MD).exists()


def test_a_failed_write_keeps_the_previous_report(runs, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(runs[0]["games"], run)
    before = {name: (run / name).read_bytes() for name in (REPORT_MD, REPORT_HTML)}

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    assert main(["report", str(run)]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert {name: (run / name).read_bytes() for name in before} == before
    assert not list(run.glob(".*.tmp"))


def test_html_of_tables_code_and_markup():
    md = "\n".join(
        [
            "# A <title>",
            "",
            "Text with `code <b>` and **bold**.",
            "",
            "| name | value |",
            "|---|---:|",
            "| a \\| b | 1 |",
            "",
            "- **item**: <script>",
            "",
            "```yaml",
            "x: <y>",
            "```",
        ]
    )
    page = html_page("t", md, {})
    assert "<h1>A &lt;title&gt;</h1>" in page
    assert "<p>Text with <code>code &lt;b&gt;</code> and <strong>bold</strong>.</p>" in page
    assert '<tr><td>a | b</td><td style="text-align:right">1</td></tr>' in page
    assert "<li><strong>item</strong>: &lt;script&gt;</li>" in page
    assert "<pre><code>x: &lt;y&gt;</code></pre>" in page
    _self_contained(page)
