"""Gradient-quality metrics without their finite-R bias, and the Monte Carlo reference with
its own noise: hand-worked arrays, statistical oracles on synthetic Gaussian estimates of
known mean and covariance (no env), and the reference on CartPole and a garnet."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import pgbench
from pgbench.errors import InvalidSpecError, NoExactFormError
from pgbench.estimators.natural import restricted_direction
from pgbench.experiments import parse_suite
from pgbench.experiments.gradient_quality import reference as gq_reference
from pgbench.experiments.gradient_quality import run as gq
from pgbench.experiments.gradient_quality.quality import (
    gradient_metrics,
    grouped_jackknife,
    squared_bias,
    squared_signal,
)
from pgbench.experiments.gradient_quality.reference import reference_gradient, reference_parts
from pgbench.run.sweep import expand
from pgbench.seeding import derive_seed

# estimates (2, 0), (0, 0), (1, 1) against g = (0, 0); R = 3. By hand:
#   mean = (1, 1/3), ||mean - g||^2 = ||mean||^2 = 10/9; trace_cov S = 1 + 1/3 = 4/3
#   squared bias = squared signal = 10/9 - S/3 = 2/3; squared errors 4, 0, 2 -> mean 2
EST = np.array([[2.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
ZERO = np.zeros(2)


def test_corrected_metrics_by_hand():
    assert squared_bias(EST, ZERO) == pytest.approx(2 / 3)
    assert squared_signal(EST) == pytest.approx(2 / 3)
    m = gradient_metrics(EST, ZERO)
    assert m["bias_norm"] == pytest.approx(math.sqrt(2 / 3))
    assert m["mse"] == pytest.approx(2.0) == m["bias_norm"] ** 2 + m["trace_cov"]
    assert m["snr"] == pytest.approx((2 / 3) / (4 / 3))
    # a reference with noise 1/6: subtracted from the squared bias and the mse, not the snr
    noisy = gradient_metrics(EST, ZERO, reference_noise=1 / 6)
    assert noisy["bias_norm"] == pytest.approx(math.sqrt(1 / 2))
    assert noisy["mse"] == pytest.approx(11 / 6)
    assert noisy["snr"] == m["snr"] and noisy["trace_cov"] == m["trace_cov"]
    # clipping: the squared bias 2/3 - 1 < 0 reads 0; the mse 2 - 3 < 0 reads 0
    assert gradient_metrics(EST, ZERO, reference_noise=1.0)["bias_norm"] == 0.0
    assert gradient_metrics(EST, ZERO, reference_noise=3.0)["mse"] == 0.0
    # a signal below its finite-R bias: snr 0, not negative
    assert gradient_metrics(np.array([[1.0], [-1.0]]), np.zeros(1))["snr"] == 0.0
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match="reference_noise"):
            gradient_metrics(EST, ZERO, reference_noise=bad)


def test_grouped_jackknife_by_hand():
    # equal sizes: the sample variance over the parts / K; (0, 2): 2 / 2 = 1
    value, noise = grouped_jackknife(np.array([[0.0], [2.0]]), np.array([1, 1]))
    assert value.tolist() == [1.0] and noise == pytest.approx(1.0)
    # unequal: parts 0 (size 2), 3 (size 1); mean 1; (1/2)(2/1 * 1 + 1/2 * 4) = 2
    value, noise = grouped_jackknife(np.array([[0.0], [3.0]]), np.array([2, 1]))
    assert value.tolist() == pytest.approx([1.0]) and noise == pytest.approx(2.0)
    # a linear h scales the noise by its square, exactly
    doubled = grouped_jackknife(np.array([[0.0], [3.0]]), np.array([2, 1]), lambda v: 2 * v)
    assert doubled[0].tolist() == pytest.approx([2.0]) and doubled[1] == pytest.approx(8.0)
    with pytest.raises(ValueError):
        grouped_jackknife(np.array([[1.0]]), np.array([1]))


def test_reference_parts():
    assert reference_parts(20000).tolist() == [1000] * 20
    assert reference_parts(100000).tolist() == [1000] * 100
    assert reference_parts(100).tolist() == [13] * 4 + [12] * 4  # at least 8 parts
    assert reference_parts(2001).tolist() == [251] + [250] * 7
    assert reference_parts(5).tolist() == [3, 2]  # two episodes per part at least
    for episodes in (40, 2001, 99999):
        assert reference_parts(episodes).sum() == episodes
    with pytest.raises(InvalidSpecError, match="at least 4") as info:
        reference_parts(3)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------- statistical oracles

P, R, DRAWS = 3, 4, 4000
COV = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])  # tr C = 3.5
TRUE = np.array([1.0, -0.5, 0.25])  # g*


def _draws(rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray, n: int) -> np.ndarray:
    """(DRAWS, n, P) Gaussian estimates of the given mean (P,) and covariance (P, P)."""
    return rng.multivariate_normal(mean, cov, size=(DRAWS, n))


def _close(samples, truth: float, sds: float = 4.0) -> bool:
    """Whether the mean of ``samples`` is within ``sds`` standard errors of ``truth``."""
    samples = np.asarray(samples)
    se = samples.std(ddof=1) / math.sqrt(len(samples))
    return abs(samples.mean() - truth) < sds * se


@pytest.mark.parametrize("bias", [np.zeros(P), np.array([0.3, 0.0, -0.4])])
def test_squared_bias_is_unbiased_against_an_exact_gradient(bias):
    """E[squared_bias] = ||b||^2 (0 for an unbiased estimator); the plain ||mean - g||^2
    is off by tr(C) / R = 0.875, tens of standard errors."""
    est = _draws(np.random.default_rng(1), TRUE + bias, COV, R)
    corrected = [squared_bias(e, TRUE) for e in est]
    plain = [float(np.sum((e.mean(axis=0) - TRUE) ** 2)) for e in est]
    b2 = float(bias @ bias)
    assert _close(corrected, b2)
    assert _close(plain, b2 + np.trace(COV) / R)
    assert not _close(plain, b2, sds=10.0)
    # the reported bias_norm is the clipped root of the same number
    m = gradient_metrics(est[0], TRUE)
    assert m["bias_norm"] == pytest.approx(math.sqrt(max(0.0, corrected[0])))


def test_squared_signal_is_unbiased():
    est = _draws(np.random.default_rng(2), TRUE, COV, R)
    corrected = [squared_signal(e) for e in est]
    plain = [float(np.sum(e.mean(axis=0) ** 2)) for e in est]
    assert _close(corrected, float(TRUE @ TRUE))
    assert not _close(plain, float(TRUE @ TRUE), sds=10.0)
    m = gradient_metrics(est[0], TRUE)
    assert m["snr"] == pytest.approx(max(0.0, corrected[0]) / m["trace_cov"])


def test_a_monte_carlo_reference_s_noise_is_estimated_and_subtracted():
    """A reference from K independent sub-batches of unequal sizes, part k ~ N(g*, C_ref / n_k):
    its jackknife noise averages to E||g_ref - g*||^2 = tr(C_ref) / E; subtracting it (and
    tr(C) / R) leaves ||b||^2 and ||b||^2 + tr(C) for the squared bias and the mse, where
    leaving it in is off by tr(C_ref) / E = 1.75."""
    rng = np.random.default_rng(3)
    bias, sizes = np.array([0.5, 0.0, 0.0]), reference_parts(22)  # 3 x 6, 2 x 2: 8 parts
    cov_ref = 11.0 * COV  # tr(C_ref) / E = 38.5 / 22
    noise = rng.multivariate_normal(np.zeros(P), cov_ref, size=(DRAWS, len(sizes)))
    parts = TRUE + noise / np.sqrt(sizes)[None, :, None]
    est = _draws(rng, TRUE + bias, COV, R)
    refs = [grouped_jackknife(p, sizes) for p in parts]
    ref_mse = [float(np.sum((g - TRUE) ** 2)) for g, _ in refs]
    noises = [nu for _, nu in refs]
    assert _close(ref_mse, np.trace(cov_ref) / 22) and _close(noises, np.trace(cov_ref) / 22)
    b2 = float(bias @ bias)
    pairs = list(zip(est, refs, strict=True))
    corrected = [squared_bias(e, g, nu) for e, (g, nu) in pairs]
    uncorrected = [squared_bias(e, g) for e, (g, _) in pairs]
    assert _close(corrected, b2) and not _close(uncorrected, b2, sds=10.0)
    raw_mse = [float(np.mean(np.sum((e - g) ** 2, axis=1))) for e, (g, _) in pairs]
    mse = [raw - nu for raw, nu in zip(raw_mse, noises, strict=True)]
    assert _close(mse, b2 + np.trace(COV)) and not _close(raw_mse, b2 + np.trace(COV), sds=10.0)
    # gradient_metrics reports the same mse, clipped at 0 where the subtraction overshoots
    m = gradient_metrics(est[0], *refs[0])
    assert m["mse"] == pytest.approx(max(0.0, mse[0]))


def test_the_jackknife_noise_of_a_restricted_step_is_its_variance_to_first_order():
    """h(mean) for h the restricted step sqrt(2 eps / g.g) g: the jackknife noise averages
    to the variance of h(mean) over the draws, within 10% (first-order accurate for a
    noise small against ||g*||)."""
    rng = np.random.default_rng(4)
    sizes = np.full(20, 50)
    noise = rng.multivariate_normal(np.zeros(P), COV, size=(DRAWS, len(sizes)))
    parts = 3 * TRUE + noise / np.sqrt(sizes)[None, :, None]
    out = [grouped_jackknife(p, sizes, lambda g: restricted_direction(g, 0.01)) for p in parts]
    values = np.array([v for v, _ in out])
    truth = float(np.sum(values.var(axis=0, ddof=1)))
    noise = float(np.mean([nu for _, nu in out]))
    assert noise == pytest.approx(truth, rel=0.1)
    # much smaller than the jackknife noise of the gradient itself: h normalizes the length
    assert noise < 0.1 * float(np.mean([grouped_jackknife(p, sizes)[1] for p in parts]))


# ---------------------------------------------------------------- references in envs


def test_cartpole_reference_is_the_mean_of_time_baseline_sub_batches(cartpole):
    env, policy = cartpole
    theta = policy.init(0)
    ref = reference_gradient(env, policy, theta, 5, 40, "cpu")
    again = reference_gradient(env, policy, theta, 5, 40, "cpu")
    assert ref.label == "mc-40" and ref.sizes.tolist() == [5] * 8
    assert ref.value.tobytes() == again.value.tobytes() and ref.noise == again.noise
    parts = [
        pgbench.estimate(
            "reward-to-go", env, policy, theta, 5, derive_seed(5, "reference", k), baseline="time"
        )
        for k in range(8)
    ]
    np.testing.assert_array_equal(ref.parts, parts)
    np.testing.assert_allclose(ref.value, np.mean(parts, axis=0), rtol=1e-12)
    assert ref.noise == pytest.approx(np.sum(np.var(parts, axis=0, ddof=1)) / 8)
    other = reference_gradient(env, policy, theta, 6, 40, "cpu")
    assert not np.allclose(other.value, ref.value)  # the reference seed follows the cell's
    with pytest.raises(InvalidSpecError, match="at least 4"):
        reference_gradient(env, policy, theta, 5, 3, "cpu")


SUITE = """\
name: mc
experiment: gradient-quality
seeds: [0]
repeats: 3
batch_sizes: [4, 16]
reference_episodes: 64
envs:
  - {name: garnet, params: {n_states: 3, n_actions: 2, branching: 2, horizon: 3}}
policies:
  - {name: tabular-softmax, params: {init_scale: 1.0}}
estimators:
  - {name: reward-to-go, params: {baseline: time}}
  - restricted
"""


def test_a_cell_without_an_exact_gradient_subtracts_its_reference_s_noise(monkeypatch):
    """A garnet made to lack a closed form: the rows are gradient_metrics of the cell's own
    estimates against the Monte Carlo reference, with its noise."""

    def no_exact(*args, **kwargs):
        raise NoExactFormError("no closed form (test)")

    monkeypatch.setattr(gq_reference, "exact_gradient", no_exact)
    monkeypatch.setattr(gq_reference, "_MEMO", OrderedDict())
    cell, restricted = expand(parse_suite(SUITE))
    out = gq.run_cell(cell)
    assert out.columns["reference"] == "mc-64"
    env = cell.env.build()
    policy = cell.policy.build(env)
    theta = policy.init(0)
    ref = reference_gradient(env, policy, theta, 0, 64, "cpu")
    assert ref.noise > 0
    rows = {(r.x, r.metric): r.value for r in out.rows}
    for N in (4, 16):
        grads = np.array(
            [
                pgbench.estimate(
                    "reward-to-go",
                    env,
                    policy,
                    theta,
                    N,
                    derive_seed(0, "estimate", N, r),
                    baseline="time",
                )
                for r in range(3)
            ]
        )
        want = gradient_metrics(grads, ref.value, ref.noise)
        assert {m: rows[N, m] for m in want} == pytest.approx(want, rel=1e-12)
    step = gq.run_cell(restricted)
    assert step.columns["reference"] == "mc-64-restricted"
    eps = pgbench.estimator_params("restricted").epsilon
    want_step = ref.then(lambda g: restricted_direction(g, eps), "-restricted")
    assert 0 < want_step.noise < ref.noise
    np.testing.assert_allclose(want_step.value, restricted_direction(ref.value, eps))


def test_every_batch_size_is_warmed_up_once_per_process(monkeypatch):
    """An untimed estimate per (config, N) before the timed ones, and only the first time:
    kernels can depend on N (the reward-to-go scan turns parallel on large batches)."""
    calls = []
    real = pgbench.estimate

    def spy(name, env, policy, theta, episodes, seed, info=False, **kw):
        calls.append((episodes, info))
        return real(name, env, policy, theta, episodes, seed, info=info, **kw)

    monkeypatch.setattr(gq, "estimate", spy)
    monkeypatch.setattr(gq, "_WARM", set())
    cells = expand(parse_suite(SUITE.replace("seeds: [0]", "seeds: [0, 1]")))
    first, again = cells[0], cells[2]  # reward-to-go at seeds 0 and 1 (exact reference)
    assert again.method == first.method and (first.seed, again.seed) == (0, 1)
    gq.run_cell(first)
    assert calls == [(4, False)] + [(4, True)] * 3 + [(16, False)] + [(16, True)] * 3
    calls.clear()
    gq.run_cell(again)  # the same config at another seed: already warm
    assert calls == [(4, True)] * 3 + [(16, True)] * 3


def test_timed_estimates_never_compile(monkeypatch):
    """With the reward-to-go scan made to turn parallel between the two batch sizes and the
    scans rebuilt, the kernels of N = 16 are new to the process: the warm-up at N = 16, not
    a timed estimate, compiles (or loads) them, and the cell reports that time."""
    from pgbench.estimators import likelihood_ratio
    from pgbench.kernels import timing

    monkeypatch.setattr(likelihood_ratio, "PARALLEL_SCAN_SIZE", 40)  # N E [4, 16] x T 3
    monkeypatch.setattr(gq, "_WARM", set())
    likelihood_ratio.build_returns.cache_clear()
    compiled_in_timed = []
    real = pgbench.estimate

    def spy(*args, info=False, **kw):
        before = timing.compile_seconds()
        out = real(*args, info=info, **kw)
        if info:
            compiled_in_timed.append(timing.compile_seconds() - before)
        return out

    monkeypatch.setattr(gq, "estimate", spy)
    out = gq.run_cell(expand(parse_suite(SUITE))[0])
    assert compiled_in_timed == [0.0] * 6
    assert out.compile_seconds > 0
