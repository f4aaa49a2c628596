"""Running statistics of the normalisation option (pgbench/algorithms/normalize.py)."""

from __future__ import annotations

import numpy as np

from pgbench.algorithms.normalize import INITIAL_COUNT, RunningMeanStd


def test_batches_merge_to_the_statistics_of_all_rows():
    """Chan et al.'s merge of batches of any size (one-row batches included) gives the
    mean and population variance of every row seen, weighted against the start
    (mean 0, variance 1, count 1e-4)."""
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((300, 3)) * [1.0, 5.0, 0.1] + [0.0, -2.0, 7.0]
    rms = RunningMeanStd((3,))
    for start, stop in [(0, 1), (1, 40), (40, 41), (41, 42), (42, 300)]:
        rms.update(rows[start:stop])
    n = rows.shape[0]
    total = INITIAL_COUNT + n
    mean = rows.mean(axis=0) * n / total
    var = (INITIAL_COUNT * 1.0 + n * rows.var(axis=0)) / total + (
        INITIAL_COUNT * n * rows.mean(axis=0) ** 2 / total**2
    )
    np.testing.assert_allclose(rms.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(rms.var, var, rtol=1e-10)
    assert rms.count == total


def test_one_row_equals_numpys_reductions_bit_for_bit():
    rng = np.random.default_rng(1)
    fast, slow = RunningMeanStd((4,)), RunningMeanStd((4,))
    for _ in range(200):
        row = rng.standard_normal((1, 4)) * 3.0
        fast.update(row)
        n, b_mean, b_var = 1, row.mean(axis=0), row.var(axis=0)
        total = slow.count + n
        delta = b_mean - slow.mean
        m2 = slow.var * slow.count + b_var * n + delta * delta * slow.count * n / total
        slow.mean, slow.var, slow.count = slow.mean + delta * n / total, m2 / total, total
    np.testing.assert_array_equal(fast.mean, slow.mean)
    np.testing.assert_array_equal(fast.var, slow.var)
