"""The ``learning-curve`` suite: algorithms, env-step budgets, curve points, targets.

A ``learning-curve`` suite lists ``algorithms`` instead of ``estimators``::

    # learning-curve keys
    env_steps: 300000             # env-step budget of each run
    log_every: 15000              # env steps between curve points (default: budget / 20)
    eval_episodes: 10             # greedy episodes per curve point
    envs:                         # each may add env_steps, log_every, target (the return
      - {name: cartpole-v1, log_every: 10000, target: 475}   # that counts as solved) and
      - {name: pendulum-v1, env_steps: 1000000}              # score_range (report settings)
      - {name: gymnasium, params: {id: Swimmer-v5}, score_range: {low: 0, high: 360}}
    algorithms:                   # each: a name, or {name, params, label, envs, policies,
      - ppo-clip                  #   env_steps, seeds, aggregate_as}
      - {name: reinforce, params: {episodes: 16}, envs: [cartpole-v1], env_steps: 500000}
      - {name: npg, seeds: 3}     # only the suite's first 3 seeds

Budgets (learning-curve): a run's budget is its algorithm's ``env_steps``, else its
env's, else the suite's. A budget below the env steps of one update
(:func:`pgbench.algorithms.budget.steps_per_update`) is an error at the key that set
it; one that buys fewer than a handful of updates is a warning
(:meth:`LearningCurveSuite.warnings`, printed by ``pgbench run`` with its position).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from pgbench.algorithms.budget import budget_warning, steps_per_update
from pgbench.errors import PgbenchError
from pgbench.registry import ALGORITHMS, suggest
from pgbench.sampling import rollout_problem
from pgbench.suite.base import Suite
from pgbench.suite.errors import Loc, fail, one_line
from pgbench.suite.score_ranges import ScoreRangeSpec, resolve_ranges
from pgbench.suite.specs import EnvSpec, Spec, check_components
from pgbench.suite.types import FiniteFloat, Name, NonNegInt, PosInt


class CurveEnvSpec(EnvSpec):
    """An environment of a learning-curve suite, with its own budget and log interval."""

    env_steps: PosInt | None = Field(default=None, description="budget on this env")
    log_every: PosInt | None = Field(default=None, description="curve interval on this env")
    target: FiniteFloat | None = Field(
        default=None,
        description="evaluation return that counts as solved (a report setting: the final "
        "table counts the seeds reaching it; not part of the cells)",
    )
    score_range: ScoreRangeSpec | None = Field(
        default=None,
        description="reference range of the return for normalized scores across envs "
        "(a report setting; default: the env's own, pgbench.suite.score_ranges)",
    )

    def canonical(self) -> dict:
        out = super().canonical()
        for key in ("env_steps", "log_every"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


class AlgorithmSpec(Spec):
    """A learning algorithm: ``train(name, ..., **params)``, optionally limited to some
    env and policy labels."""

    envs: Annotated[tuple[Name, ...], Field(min_length=1)] | None = Field(
        default=None, description="labels of the only envs this algorithm runs on"
    )
    policies: Annotated[tuple[Name, ...], Field(min_length=1)] | None = Field(
        default=None, description="labels of the only policies this algorithm runs with"
    )
    env_steps: PosInt | None = Field(
        default=None, description="budget of this algorithm (overrides the env's and suite's)"
    )
    seeds: PosInt | None = Field(
        default=None, description="run only the first n of the suite's seeds (slow methods)"
    )
    aggregate_as: Name | None = Field(
        default=None,
        description="the algorithm this entry counts as across envs (a report setting; "
        "default: its registry name where that has one entry per env)",
    )

    def canonical(self) -> dict:
        out = super().canonical()
        for key in ("env_steps", "seeds"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


class LearningCurveSuite(Suite):
    """Return against env steps (and seconds) of learning algorithms, across seeds."""

    kind: ClassVar[str] = "learning-curve"
    method_key: ClassVar[str] = "algorithms"

    experiment: Literal["learning-curve"] = "learning-curve"
    envs: tuple[CurveEnvSpec, ...] = Field(min_length=1)
    env_steps: PosInt = Field(description="env-step budget of each run (an env may override)")
    log_every: PosInt | None = Field(
        default=None, description="env steps between curve points (default: budget / 20)"
    )
    eval_episodes: NonNegInt = Field(default=10, description="greedy episodes per curve point")
    algorithms: tuple[AlgorithmSpec, ...] = Field(min_length=1)

    def runs(self, env, method, policy=None, seed=None) -> bool:
        """False where the algorithm lists envs / policies and these are not among them, or
        limits its seeds to the suite's first n and ``seed`` is not one of them."""
        envs = getattr(method, "envs", None)
        pols = getattr(method, "policies", None)
        n_seeds = getattr(method, "seeds", None)
        if envs is not None and env.display not in envs:
            return False
        if seed is not None and n_seeds is not None and seed not in self.seeds[:n_seeds]:
            return False
        return policy is None or pols is None or policy.display in pols

    @model_validator(mode="after")
    def _check_algorithms(self) -> LearningCurveSuite:
        check_components("algorithms", ALGORITHMS, self.algorithms)
        env_labels = [e.display for e in self.envs]
        pol_labels = [p.display for p in self.policies]
        for k, algo in enumerate(self.algorithms):
            for field, what, labels in (
                ("envs", "env", env_labels),
                ("policies", "policy", pol_labels),
            ):
                for j, label in enumerate(getattr(algo, field) or ()):
                    if label not in labels:
                        fail(
                            ("algorithms", k, field, j),
                            f"algorithm {algo.display!r} lists {what} {label!r}, which is not "
                            f"one of the suite's {what} labels" + suggest(label, labels),
                        )
        built = self.built_pairs()
        for k, algo in enumerate(self.algorithms):
            if not any(self.runs(self.envs[i], algo, self.policies[j]) for i, _, j, _ in built):
                fail(("algorithms", k), f"algorithm {algo.display!r} runs on no env / policy pair")
        self._check_groups(built)
        self._updates(built)
        return self

    def _check_groups(self, built) -> None:
        """An ``aggregate_as`` name has at most one entry (algorithm, policy) per env: it
        is one algorithm's score on each env, across envs."""
        seen: dict[tuple[str, int], tuple[int, int]] = {}
        for k, algo in enumerate(self.algorithms):
            if algo.aggregate_as is None:
                continue
            for i, _, j, _ in built:
                if not self.runs(self.envs[i], algo, self.policies[j]):
                    continue
                first = seen.setdefault((algo.aggregate_as, i), (k, j))
                if first != (k, j):
                    fail(
                        ("algorithms", k, "aggregate_as"),
                        f"aggregate_as {algo.aggregate_as!r} has two entries on env "
                        f"{self.envs[i].display!r} (algorithm {self.algorithms[first[0]].display!r}"
                        f" with policy {self.policies[first[1]].display!r}, and "
                        f"{algo.display!r} with policy {self.policies[j].display!r}); one "
                        "algorithm across envs has one entry per env",
                    )

    def budget_of(self, i: int, k: int) -> tuple[int, Loc]:
        """(env-step budget, the key that sets it) of algorithm ``k`` on env ``i``: the
        algorithm's ``env_steps``, else the env's, else the suite's."""
        algo, env = self.algorithms[k], self.envs[i]
        if algo.env_steps is not None:
            return algo.env_steps, ("algorithms", k, "env_steps")
        if env.env_steps is not None:
            return env.env_steps, ("envs", i, "env_steps")
        return self.env_steps, ("env_steps",)

    def _updates(self, built) -> list[tuple[Loc, str]]:
        """Check that every cell's budget buys one update and that one update's stored
        steps fit in :data:`pgbench.sampling.MAX_ROLLOUT_BYTES` (validation errors); return
        the warnings of budgets that buy only a few updates, as (location, message)."""
        warnings: dict[tuple[Loc, str], None] = {}  # ordered, without repeats
        for k, algo in enumerate(self.algorithms):
            where_params = ("algorithms", k, "params") if algo.params else ("algorithms", k)
            for i, env, j, policy in built:
                if not self.runs(self.envs[i], algo, self.policies[j]):
                    continue
                where = f"algorithm {algo.display!r} on env {self.envs[i].display!r}"
                try:
                    fewest, most = steps_per_update(algo.name, env, policy=policy, **algo.params)
                except PgbenchError as exc:
                    fail(where_params, f"{where}: {one_line(exc)}")
                budget, key = self.budget_of(i, k)
                if budget < fewest:
                    fail(
                        key,
                        f"{where}: a budget of {budget:,} env steps is less than one update "
                        f"({fewest:,} env steps); raise env_steps or make the update smaller",
                    )
                problem = rollout_problem("one update", most, env, policy)
                if problem:
                    fail(where_params, f"{where}: {problem}")
                warning = budget_warning(where, budget, fewest, most)
                if warning:
                    warnings[(key, warning)] = None
        return list(warnings)

    def warnings(self) -> list[tuple[Loc, str]]:
        """(location, message) of budgets that buy fewer than a handful of updates (see
        :func:`pgbench.algorithms.budget.budget_warning`); the suite is valid."""
        return self._updates(self.built_pairs())

    def report_settings(self) -> dict:
        """The common settings, ``targets`` (env label -> the return that counts as solved)
        ``score_ranges`` (env label -> the reference range of its normalized score,
        :func:`pgbench.suite.score_ranges.resolve_ranges`) and ``aggregate_as``
        (algorithm label -> the algorithm it counts as across envs, where the suite says)."""
        targets = {e.display: e.target for e in self.envs if e.target is not None}
        built = {i: env for i, env, _, _ in self.built_pairs()}
        used = [i for i in range(len(self.envs)) if i in built]
        ranges = resolve_ranges([self.envs[i] for i in used], [built[i] for i in used])
        groups = {a.display: a.aggregate_as for a in self.algorithms if a.aggregate_as}
        return {
            **super().report_settings(),
            "targets": targets,
            "score_ranges": ranges,
            "aggregate_as": groups,
        }
