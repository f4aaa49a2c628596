"""Learning-curve figures and the final table on synthetic tidy tables (no training).

Curves come from :class:`~pgbench.algorithms.trainer.TrainRun` on the grid 0, L, 2L, ...,
budget; a seed whose update crossed two grid points at once has no point at the first.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pgbench.experiments.learning_curve.outputs import (
    aligned,
    curve_figure,
    final_markdown,
    final_performance,
    median_seconds,
    median_steps_to_target,
)


def curve(method: str, seed: int, points: list[tuple[int, dict]], env: str = "cartpole"):
    """Tidy rows of one seed: ``points`` is [(x, {metric: value})]."""
    return [
        {
            "suite": "synthetic",
            "experiment": "learning-curve",
            "env_label": env,
            "policy_label": "linear",
            "method_label": method,
            "seed": seed,
            "x_name": "env_steps",
            "x": x,
            "metric": metric,
            "value": float(value),
        }
        for x, values in points
        for metric, value in values.items()
    ]


def table(*rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame.from_records([r for part in rows for r in part])


# seed s logs a constant return 10 s at every point it has, and training seconds that grow
# with its own rate; seed 1 stepped over grid point 1000 (one update crossed 1000 and 1500)
GRID = [0, 500, 1000, 1500, 2000]
SKIPPED = {1: {1000}}


def constant_seeds(n_seeds: int = 3) -> pd.DataFrame:
    parts = []
    for s in range(n_seeds):
        points = [
            (x, {"eval_return": 10.0 * s, "seconds": (s + 1) * x / 1000, "env_steps": x + 7 * s})
            for x in GRID
            if x not in SKIPPED.get(s, set())
        ]
        parts.append(curve("ppo", s, points))
    return table(*parts)


def test_aligned_gives_every_seed_a_value_at_every_grid_point():
    grid, values = aligned(constant_seeds(), "eval_return")
    assert grid.tolist() == GRID
    assert values.shape == (3, len(GRID))
    np.testing.assert_array_equal(values, np.repeat([[0.0], [10.0], [20.0]], len(GRID), axis=1))


def test_a_skipped_grid_point_takes_the_seeds_next_point():
    """Seed 1 has no point at 1000: its value there is the one at 1500 (the state after the
    update that first reached 1000 env steps), not the stale one at 500."""
    rows = constant_seeds()
    bump = (rows["seed"] == 1) & (rows["metric"] == "seconds") & (rows["x"] == 1500)
    rows.loc[bump, "value"] = 99.0
    _, secs = aligned(rows, "seconds")
    assert secs[1, GRID.index(1000)] == 99.0
    assert secs[1, GRID.index(500)] == 1.0


def test_a_nan_value_is_not_filled_from_later_points():
    rows = table(
        curve("a2c", 0, [(0, {"train_return": math.nan}), (500, {"train_return": 3.0})]),
        curve("a2c", 1, [(0, {"train_return": 1.0}), (500, {"train_return": 2.0})]),
    )
    _, values = aligned(rows, "train_return")
    assert math.isnan(values[0, 0]) and values[0, 1] == 3.0


def test_figure_plots_one_point_per_grid_step_mean_and_median_seconds():
    """No spikes: constant seeds give a constant mean on the step panel; the seconds panel's
    x is the median over seeds at each grid point, monotone; labels name the statistic."""
    fig = curve_figure(constant_seeds())
    ax_steps, ax_secs = fig.axes[:2]
    line = ax_steps.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), GRID)
    np.testing.assert_allclose(line.get_ydata(), 10.0)  # mean of 0, 10, 20 at every point
    secs_line = ax_secs.get_lines()[0]
    # medians over seeds of 1x, 2x, 3x seconds per 1000 steps; at 1000, seed 1 has its 1500
    np.testing.assert_allclose(secs_line.get_xdata(), [0.0, 1.0, 3.0, 3.0, 4.0])
    assert np.all(np.diff(secs_line.get_xdata()) >= 0)
    assert "mean over seeds" in ax_steps.get_ylabel()
    assert "95% bootstrap CI" in ax_steps.get_ylabel()
    assert "median over seeds" in ax_secs.get_xlabel()
    assert ax_steps.get_legend().get_texts()[0].get_text() == "ppo (n=3 seeds)"


def test_median_seconds_is_monotone_when_every_seed_is():
    rng = np.random.default_rng(0)
    seconds = np.cumsum(rng.exponential(size=(7, 30)), axis=1)
    assert np.all(np.diff(median_seconds(seconds)) >= 0)


@pytest.mark.parametrize(
    ("first", "n", "expected"),
    [
        ([], 0, math.inf),
        ([700], 1, 700),
        ([300, 100], 2, 100),  # half reached by 100: the KM median
        ([300, 100], 4, 300),
        ([300], 4, math.inf),  # fewer than half: beyond the budget
        ([500, 1000, 1500], 5, 1500),
        ([500, 1000], 5, math.inf),
    ],
)
def test_median_steps_to_target_counts_censored_seeds(first, n, expected):
    assert median_steps_to_target(np.array(first), n) == expected


def target_table(first_hits: dict[int, int | None], n_seeds: int) -> pd.DataFrame:
    """Seeds whose evaluation jumps from 0 to 100 at their first-hit x (None: never)."""
    parts = []
    for s in range(n_seeds):
        hit = first_hits.get(s)
        points = [
            (x, {"eval_return": 100.0 if hit is not None and x >= hit else 0.0, "seconds": 1.0})
            for x in GRID
        ]
        parts.append(curve("reinforce", s, points))
    return table(*parts)


def test_steps_to_target_row_and_markdown_show_n_and_censored():
    rows = target_table({0: 500, 1: 1500, 2: 1000}, n_seeds=5)
    final = final_performance(rows, targets={"cartpole": 50.0})
    (r,) = final.itertuples()
    assert (r.reached, r.final_at_target, r.n_seeds, r.steps_to_target) == (3, 3, 5, 1500)
    md = final_markdown(final, "t")
    assert "| median steps to target |" in md
    assert "| 1,500 (n=5, 2 censored) |" in md
    assert "| 3/5 | 3/5 |" in md


def test_steps_to_target_beyond_the_budget_when_fewer_than_half_reached():
    final = final_performance(target_table({0: 500}, n_seeds=3), targets={"cartpole": 50.0})
    assert math.isinf(final["steps_to_target"].iloc[0])
    assert "| > 2,000 (n=3, 2 censored) |" in final_markdown(final, "t")


def test_target_and_exact_columns_are_left_out_when_empty():
    md = final_markdown(final_performance(constant_seeds()), "t")
    header = next(line for line in md.splitlines() if line.startswith("| env |"))
    for hidden in ("target", "reached", "steps to target", "exact J", "optimal J"):
        assert hidden not in header, hidden
    assert "Target columns" not in md
    assert header.endswith("| env steps | seconds | steps/s | n |")
    values = {"eval_return": 1.0, "exact_value": 0.5, "optimal_value": 0.9, "seconds": 0.5}
    tabular = table(curve("ppo", 0, [(0, values)], env="garnet"), curve("ppo", 0, [(0, values)]))
    md = final_markdown(final_performance(tabular), "t")
    assert "| exact J | optimal J |" in md
    assert "| 0.500 | 0.900 |" in md


def test_final_seconds_and_steps_are_the_runs_own():
    """seconds: the median over seeds of each seed's last-point training seconds (not a
    grid-aligned value); env steps and steps/s from the env steps each seed spent."""
    rows = constant_seeds()
    final = final_performance(rows)
    (r,) = final.itertuples()
    assert r.seconds_median == 4.0  # last points: 2, 4, 6 seconds
    assert r.env_steps == 2007  # spent: 2000, 2007, 2014
    assert r.steps_per_second == pytest.approx(2007 / 4.0)
    md = final_markdown(final, "t")
    assert "| 2,007 | 4.00 | 502 | 3 |" in md


def test_small_seconds_keep_three_significant_digits():
    points = [(0, {"eval_return": 1.0, "seconds": 0.0}), (500, {"seconds": 0.004123})]
    rows = table(curve("ppo", 0, points))
    assert "| 0.00412 |" in final_markdown(final_performance(rows), "t")
