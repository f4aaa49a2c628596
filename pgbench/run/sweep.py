"""Suite -> Cells: the grid of independent units of work, each with a stable content hash.

A :class:`Cell` is one (env, policy, point, method, seed) of a suite, with the
experiment's settings (batch sizes, repeats, ...) inside it: the x axis of a
cell is computed in one go, so each cell writes one Parquet file of rows. The
point is the evaluation point theta of a gradient-quality suite
(e.g. :class:`~pgbench.experiments.gradient_quality.suite.ThetaSpec`); kinds without one
have ``theta=None``.

Seeds are derived, never drawn: :func:`pgbench.seeding.derive_seed` hashes a key such as
``(seed, "estimate", N, r)`` through :class:`numpy.random.SeedSequence` into a
uint64. The key of an estimate names the replicate seed, the batch size N and
the repeat r, but *not* the method, so all methods of one (env, policy, seed)
see the same episode streams (common random numbers: their differences are
paired). The key does not name the theta point either, so every point reuses
the same keys (the episodes still differ, since the policy does).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pgbench.seeding import HASH_CHARS, canonical_json
from pgbench.suite.base import Suite
from pgbench.suite.specs import EnvSpec, PolicySpec, Spec
from pgbench.version import __version__


@dataclass(frozen=True, eq=False)
class Cell:
    """One unit of work: an (env, policy, theta point, method, seed) of a suite.

    ``index`` is the cell's place in :func:`expand` order (tables are sorted by it).
    ``settings`` holds the experiment's keys beyond the grid (batch sizes, repeats,
    reference episodes, backend) as JSON types. ``theta`` is None for experiment
    kinds without evaluation points.
    """

    suite: str
    experiment: str
    index: int
    env: EnvSpec
    policy: PolicySpec
    method: Spec
    seed: int
    settings: dict
    theta: Any = None  # a point spec with definition() and display, or None

    def canonical(self) -> dict:
        """Everything that determines this cell's rows, incl. the pgbench version."""
        return {
            "pgbench": __version__,
            "suite": self.suite,
            "experiment": self.experiment,
            "env": self.env.canonical(),
            "policy": self.policy.canonical(),
            "theta": self.theta.canonical() if self.theta is not None else None,
            "method": self.method.canonical(),
            "seed": self.seed,
            "settings": self.settings,
        }

    @cached_property
    def hash(self) -> str:
        """First :data:`HASH_CHARS` hex digits of sha256(canonical JSON)."""
        return hashlib.sha256(canonical_json(self.canonical()).encode()).hexdigest()[:HASH_CHARS]

    def describe(self) -> str:
        """``env / policy / [theta /] method / seed s``, for progress lines and failures."""
        parts = [self.env.display, self.policy.display]
        if self.theta is not None:
            parts.append(self.theta.display)
        return " / ".join([*parts, self.method.display, f"seed {self.seed}"])

    def __repr__(self) -> str:
        return f"Cell({self.hash}: {self.describe()})"


def _settings(suite: Suite) -> dict:
    """The suite's keys other than the grid axes and report settings, as JSON types."""
    grid = {"name", "experiment", "description", "seeds", "envs", "policies", suite.method_key}
    grid.add("compare")  # settings of pgbench compare: they do not change the rows
    grid |= {"theta", "thetas"} & set(type(suite).model_fields)
    return suite.model_dump(mode="json", exclude=grid)


def expand(suite: Suite) -> list[Cell]:
    """Cells of ``suite`` in a fixed order: env, policy (where the env accepts it), theta
    point, seed, method (where :meth:`Suite.runs` lets it run on the env).

    Methods vary fastest so that cells sharing episode streams run next to each other.
    """
    settings = _settings(suite)
    methods = suite.methods
    cells: list[Cell] = []
    for i, j in suite.pairs():
        for theta in suite.points:
            for seed in suite.seeds:
                for method in methods:
                    if not suite.runs(suite.envs[i], method, suite.policies[j], seed):
                        continue
                    cells.append(
                        Cell(
                            suite=suite.name,
                            experiment=suite.experiment,
                            index=len(cells),
                            env=suite.envs[i],
                            policy=suite.policies[j],
                            method=method,
                            seed=seed,
                            settings=settings,
                            theta=theta,
                        )
                    )
    hashes = [c.hash for c in cells]
    assert len(set(hashes)) == len(hashes), "cell hashes collide"
    return cells
