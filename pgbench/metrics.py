"""The metric catalogue: every metric an experiment writes, with what it means and how
it is compared.

One :class:`Metric` per name (or per name pattern, for the per-agent game metrics):
its direction (``LOWER`` or ``HIGHER`` is better; ``None``: descriptive, never
compared), its unit, whether NaN is a legitimate value of it (``may_be_nan``),
whether a learning curve omits its row where it has no value (``where_defined``),
whether it is a wall-clock time (``timing``: not reproducible between runs) and
whether ``pgbench compare`` checks it by default (``compared``). Experiments,
the runner's result checks, ``pgbench compare`` and the report all read these
facts here and nowhere else.

A leaf: imports nothing from pgbench.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOWER, HIGHER = 1, -1  # sign s of "worse": lower is better / higher is better


@dataclass(frozen=True)
class Metric:
    """One metric (see the module docstring); ``name`` may hold ``{k}`` (an agent 1 or 2)
    or ``{s}`` (a game state) placeholders."""

    name: str
    direction: int | None
    unit: str
    description: str
    may_be_nan: bool = False
    where_defined: bool = False
    timing: bool = False
    compared: bool = True


CATALOGUE: tuple[Metric, ...] = (
    # gradient quality (pgbench.experiments.gradient_quality), per batch size
    Metric("mse", LOWER, "grad^2", "mean squared error of the estimates against the reference"),
    Metric("trace_cov", LOWER, "grad^2", "trace of the estimates' covariance"),
    Metric("bias_norm", LOWER, "grad", "norm of the estimates' bias (finite-sample corrected)"),
    Metric("cosine", HIGHER, "1", "mean cosine of the estimates with the reference",
           may_be_nan=True),
    Metric("snr", HIGHER, "1", "signal-to-noise ratio ||E g||^2 / tr Cov g", may_be_nan=True),
    Metric("pairwise_cosine", None, "1", "mean cosine between pairs of estimates",
           may_be_nan=True),
    # game derivative estimators (pgbench.experiments.two_agent), per batch size
    Metric("rel_error", LOWER, "1", "mean ||estimate - exact|| / ||exact||"),
    Metric("correlation", HIGHER, "1", "mean correlation of the estimates with the exact value"),
    # learning curves (pgbench.algorithms.trainer), per env-step point
    Metric("eval_return", HIGHER, "return", "mean return of greedy evaluation episodes",
           where_defined=True),
    Metric("train_return", HIGHER, "return", "mean return of training episodes since the "
           "previous point", may_be_nan=True),
    Metric("exact_value", HIGHER, "return", "J(theta) in closed form (tabular envs)",
           where_defined=True),
    Metric("optimal_value", None, "return", "max over policies of J (tabular envs; constant)",
           where_defined=True),
    Metric("grad_norm", None, "grad", "L2 norm of the last update's gradient estimate",
           where_defined=True),
    Metric("kl", None, "nats", "mean KL(pi_old || pi_new) of the last update",
           where_defined=True),
    Metric("entropy", None, "nats", "mean policy entropy on the last batch", where_defined=True),
    # two-agent games (pgbench.experiments.two_agent), per iteration
    Metric("reward_{k}", HIGHER, "reward/step", "exact expected per-step reward of agent k"),
    Metric("sampled_reward_{k}", HIGHER, "reward/step", "played per-step reward of agent k",
           compared=False),
    Metric("p_{s}_{k}", None, "1", "agent k's probability of cooperating in state s"),
    Metric("tft_{k}", None, "1", "whether agent k's final policy is tit-for-tat (0 or 1)"),
    Metric("tft_soft_{k}", None, "1", "closeness of agent k's final policy to tit-for-tat"),
    # every kind
    Metric("env_steps", None, "steps", "env steps spent"),
    Metric("seconds", LOWER, "s", "wall time, Numba compilation excluded", timing=True,
           compared=False),
)


def _pattern(name: str) -> re.Pattern:
    parts = re.split(r"(\{k\}|\{s\})", name)
    regex = "".join(
        "[12]" if p == "{k}" else "[A-Za-z0-9]+" if p == "{s}" else re.escape(p) for p in parts
    )
    return re.compile(regex + r"\Z")


_EXACT = {m.name: m for m in CATALOGUE if "{" not in m.name}
_PATTERNS = [(_pattern(m.name), m) for m in CATALOGUE if "{" in m.name]


def metric(name: str) -> Metric | None:
    """The catalogue entry of metric ``name`` (``reward_1`` matches ``reward_{k}``), or None."""
    if name in _EXACT:
        return _EXACT[name]
    return next((m for pattern, m in _PATTERNS if pattern.match(name)), None)


def _expand(m: Metric) -> list[str]:
    """The concrete names of a directional entry (``reward_{k}`` -> reward_1, reward_2)."""
    return [m.name.replace("{k}", str(k)) for k in (1, 2)] if "{k}" in m.name else [m.name]


DIRECTIONS: dict[str, int] = {
    name: m.direction for m in CATALOGUE if m.direction is not None for name in _expand(m)
}
"""Metric name -> ``LOWER`` or ``HIGHER``: the metrics ``pgbench compare`` can check."""

DEFAULT_COMPARED: tuple[str, ...] = tuple(n for n in DIRECTIONS if metric(n).compared)
"""What ``pgbench compare`` checks unless told otherwise (timings and played rewards are
left out: machine dependent, or noisier copies of an exact metric)."""

CURVE_X = frozenset({"env_steps", "iteration"})
"""x axes of curves (learning curves, two-agent play): compared at each seed's last point;
every other x axis (``batch_size``) is a grid, compared at each x."""

MAY_BE_NAN = frozenset(m.name for m in CATALOGUE if m.may_be_nan)
WHERE_DEFINED = frozenset(m.name for m in CATALOGUE if m.where_defined)
TIMING = frozenset(m.name for m in CATALOGUE if m.timing)
