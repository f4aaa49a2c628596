"""The ``gradient-quality`` suite: estimators, batch sizes, evaluation points, budgets.

::

    # gradient-quality keys
    repeats: 20                   # R >= 2 independent estimates per (cell, batch size)
    batch_sizes: [4, 16, 64, 256] # episodes per estimate (the x axis), distinct
    thetas:                       # evaluation points (a grid axis; default [{kind: init, seed: 0}])
      - {kind: init, seed: 0}                        # policy.init(0)
      - {kind: random, seed: 1, scale: 1.0}          # N(0, scale^2) entries, own stream
      - {kind: path, seed: 0, steps: 20, lr: 0.5,    # 20 steps of gradient ascent from
         estimator: reward-to-go, episodes: 64,      # policy.init(0) with these estimates
         label: after-20}                            # (estimator: exact -> exact gradient,
                                                     # then no episodes / params)
    theta: {seed: 0}              # or ONE point (kind init unless given); not with thetas
    reference_episodes: 20000     # episodes of the reward-to-go reference gradient,
                                  # used where no exact gradient exists
    estimators:                   # each: a name, or {name, params, label, min_batch, envs}
      - reinforce
      - {name: reward-to-go}
      - {name: reinforce, label: reinforce-optimal, params: {baseline: optimal}}
      - {name: fd-forward, min_batch: 64}          # batch sizes below 64 are not run
      - {name: q-critic, params: {critic: exact}, envs: [garnet]}  # only on these env labels

Theta points: every key but ``kind`` and ``label`` belongs to one kind
(``init``: seed; ``random``: seed, scale (default 1.0); ``path``: seed, steps,
lr, estimator (default reward-to-go), params, episodes); a key of another kind
is an error. A path step k uses seed ``derive_seed(seed, "theta-path", k)``; the
point depends on its definition only, not on the cell's seed or estimator.
Labels default to ``kind(key=value,...)``, e.g. ``init(seed=0)``.

Budgets (gradient-quality): an estimator's ``min_batch`` and an env's
``max_batch`` narrow ``batch_sizes`` for the cells they meet; an estimator's
``envs`` (env labels) limits where it runs (e.g. an exact critic where no exact
Q exists). A pair left without a batch size, an env no estimator runs on, or an
unknown env label is an error. An estimator that still cannot spend a batch
size fails its cell with a one-line message naming the batch size (recorded in
``failures.jsonl``; the sweep goes on).
"""

from __future__ import annotations

import typing
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from pgbench.errors import PgbenchError
from pgbench.registry import ESTIMATORS, suggest
from pgbench.sampling import rollout_problem
from pgbench.suite.base import Suite, first_repeat
from pgbench.suite.errors import Loc, fail
from pgbench.suite.specs import EnvSpec, Spec, check_components, check_labels, default_label
from pgbench.suite.translate import fail_params
from pgbench.suite.types import Name, NonNegInt, Params, PosFloat, PosInt


class BudgetedEnvSpec(EnvSpec):
    """An environment of a gradient-quality suite, with an optional cap on the batch size."""

    max_batch: PosInt | None = Field(
        default=None, description="batch sizes above this are not run on this env"
    )

    def canonical(self) -> dict:
        out = super().canonical()
        if self.max_batch is not None:
            out["max_batch"] = self.max_batch
        return out


class EstimatorSpec(Spec):
    """A gradient estimator: ``estimate(name, ..., **params)``."""

    min_batch: PosInt | None = Field(
        default=None, description="batch sizes below this are not run for this estimator"
    )
    envs: Annotated[tuple[Name, ...], Field(min_length=1)] | None = Field(
        default=None, description="labels of the only envs this estimator runs on"
    )

    def canonical(self) -> dict:
        out = super().canonical()
        if self.min_batch is not None:
            out["min_batch"] = self.min_batch
        return out


def budget_sizes(
    sizes: typing.Sequence[int], min_batch: int | None, max_batch: int | None
) -> tuple[int, ...]:
    """The entries of ``sizes`` within [``min_batch``, ``max_batch``] (None: no bound)."""
    return tuple(
        n
        for n in sizes
        if (min_batch is None or n >= min_batch) and (max_batch is None or n <= max_batch)
    )


EXACT = "exact"  # the path 'estimator' that follows the exact gradient


# the keys each theta kind takes besides 'kind' and 'label'
THETA_KEYS: dict[str, tuple[str, ...]] = {
    "init": ("seed",),
    "random": ("seed", "scale"),
    "path": ("seed", "steps", "lr", "estimator", "params", "episodes"),
}


class ThetaSpec(BaseModel):
    """A point theta (P,) where gradients are evaluated; see the module docstring.

    ``init``: ``policy.init(seed)``. ``random``: N(0, scale^2) entries from
    ``seed`` (its own stream, not the policy's init). ``path``: ``steps`` steps of
    gradient ascent theta <- theta + lr * g from ``policy.init(seed)``, g from
    ``estimate(estimator, ..., episodes, **params)`` (or the exact gradient when
    ``estimator: exact``). Computed by :func:`pgbench.experiments.gradient_quality.theta_point`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["init", "random", "path"] = Field(default="init", description="how theta is made")
    seed: NonNegInt = Field(default=0, description="seed of the point (init, random, path start)")
    label: Name | None = Field(default=None, description="display name; default kind(keys)")
    scale: PosFloat = Field(default=1.0, description="random: standard deviation of the entries")
    steps: NonNegInt | None = Field(default=None, description="path: gradient-ascent steps")
    lr: PosFloat | None = Field(default=None, description="path: step size")
    estimator: Name = Field(default="reward-to-go", description="path: estimator name or 'exact'")
    params: Params = Field(default_factory=dict, description="path: estimator params")
    episodes: PosInt | None = Field(default=None, description="path: episodes per step")

    def definition(self) -> dict:
        """The keys that determine the point (defaults filled in, label excluded)."""
        keys = [k for k in THETA_KEYS[self.kind] if getattr(self, k) is not None]
        if self.kind == "path" and self.estimator == EXACT:
            keys = [k for k in keys if k not in ("params", "episodes")]
        if self.kind == "path" and not self.params:
            keys = [k for k in keys if k != "params"]
        return {"kind": self.kind, **{k: getattr(self, k) for k in keys}}

    @property
    def display(self) -> str:
        """The label used in tables and plots, e.g. ``init(seed=0)``."""
        if self.label is not None:
            return self.label
        d = self.definition()
        return default_label(d.pop("kind"), d)

    def canonical(self) -> dict:
        """What determines results: the definition and the label (JSON types only)."""
        return {**self.definition(), "label": self.display}


class GradientQualitySuite(Suite):
    """Bias, variance, MSE and cosine of gradient estimators against batch size."""

    kind: ClassVar[str] = "gradient-quality"
    method_key: ClassVar[str] = "estimators"

    experiment: Literal["gradient-quality"] = "gradient-quality"
    repeats: Annotated[int, Strict(), Field(ge=2)] = Field(
        description="R independent estimates per (cell, batch size)"
    )
    envs: tuple[BudgetedEnvSpec, ...] = Field(min_length=1)
    batch_sizes: tuple[PosInt, ...] = Field(min_length=1, description="episodes per estimate")
    theta: ThetaSpec | None = Field(default=None, description="one evaluation point")
    thetas: Annotated[tuple[ThetaSpec, ...], Field(min_length=1)] | None = Field(
        default=None, description="evaluation points (a grid axis)"
    )
    reference_episodes: PosInt = Field(
        default=20000, description="episodes of the Monte Carlo reference gradient"
    )
    estimators: tuple[EstimatorSpec, ...] = Field(min_length=1)

    @property
    def points(self) -> tuple[ThetaSpec, ...]:
        """``thetas``, or ``(theta,)``, or the default ``init`` point with seed 0."""
        if self.thetas is not None:
            return self.thetas
        return (self.theta if self.theta is not None else ThetaSpec(),)

    def runs(self, env, method, policy=None, seed=None) -> bool:
        """False where the estimator lists ``envs`` and ``env``'s label is not among them."""
        only = getattr(method, "envs", None)
        return only is None or env.display in only

    def sizes_for(self, env: BudgetedEnvSpec, estimator: EstimatorSpec) -> tuple[int, ...]:
        """The batch sizes run for (env, estimator): those within [min_batch, max_batch]."""
        return budget_sizes(self.batch_sizes, estimator.min_batch, env.max_batch)

    @field_validator("batch_sizes")
    @classmethod
    def _distinct_sizes(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        i = first_repeat(value)
        if i is not None:
            fail(("batch_sizes", i), f"batch size {value[i]} is listed twice")
        return value

    @model_validator(mode="after")
    def _check_estimators(self) -> GradientQualitySuite:
        check_components("estimators", ESTIMATORS, self.estimators)
        self._check_thetas()
        self._check_env_lists()
        self._check_budgets()
        self._check_memory()
        return self

    def _check_thetas(self) -> None:
        if self.theta is not None and self.thetas is not None:
            fail(("thetas",), "give either theta (one point) or thetas (a list), not both", True)
        if self.thetas is not None:
            located = [(("thetas", i), t) for i, t in enumerate(self.thetas)]
        else:
            located = [(("theta",), self.theta)] if self.theta is not None else []
        for where, spec in located:
            check_theta(where, spec)
        if self.thetas is not None:
            check_labels("thetas", "theta", self.thetas)

    def _check_env_lists(self) -> None:
        labels = [e.display for e in self.envs]
        for k, est in enumerate(self.estimators):
            for j, label in enumerate(est.envs or ()):
                if label not in labels:
                    fail(
                        ("estimators", k, "envs", j),
                        f"estimator {est.display!r} lists env {label!r}, which is not an env "
                        "label of this suite" + suggest(label, labels),
                    )
                if label in est.envs[:j]:
                    fail(("estimators", k, "envs", j), f"env {label!r} is listed twice")
        for i, env in enumerate(self.envs):
            if not any(self.runs(env, est) for est in self.estimators):
                fail(("envs", i), f"no estimator runs on env {env.display!r} (see their envs)")

    def _check_budgets(self) -> None:
        for i, env in enumerate(self.envs):
            for k, est in enumerate(self.estimators):
                if self.runs(env, est) and not self.sizes_for(env, est):
                    where = ("estimators", k, "min_batch") if est.min_batch else ("envs", i)
                    fail(
                        where,
                        f"estimator {est.display!r} (min_batch {est.min_batch}) has no batch "
                        f"size to run on env {env.display!r} (max_batch {env.max_batch}); "
                        "lower min_batch or raise max_batch",
                    )

    def _check_memory(self) -> None:
        """The stored episodes of one estimate (the largest batch size run on an env, and
        a path point's ``episodes``) fit in :data:`pgbench.sampling.MAX_ROLLOUT_BYTES`.
        Checked for every estimator, also those that only stream per-episode sums."""
        paths = [
            (("thetas", t) if self.thetas is not None else ("theta",), p.episodes)
            for t, p in enumerate(self.points)
            if p.kind == "path" and p.episodes is not None
        ]
        for i, env, j, policy in self.built_pairs():
            spec = self.envs[i]
            sizes = [
                n for e in self.estimators if self.runs(spec, e) for n in self.sizes_for(spec, e)
            ]
            largest = max(sizes)
            budgets = [(("batch_sizes", self.batch_sizes.index(largest)), largest), *paths]
            for where, episodes in budgets:
                what = f"a batch of {episodes:,} episodes"
                msg = rollout_problem(what, episodes * env.horizon, env, policy)
                if msg:
                    size = where[0] == "batch_sizes"
                    fail(
                        where if size else (*where, "episodes"),
                        f"on env {spec.display!r} with policy {self.policies[j].display!r}, "
                        f"{msg}; lower it" + (" (or give the env a max_batch)" if size else ""),
                    )


def check_theta(where: Loc, spec: ThetaSpec) -> None:
    """Keys that do not belong to the point's kind, missing keys, and the path estimator."""
    allowed = THETA_KEYS[spec.kind]
    for key in ThetaSpec.model_fields:  # in declaration order: a deterministic first error
        if key in spec.model_fields_set and key not in (*allowed, "kind", "label"):
            fail(
                (*where, key),
                f"theta kind {spec.kind!r} takes no key {key!r} (its keys: "
                + ", ".join((*allowed, "label"))
                + ")",
                at_key=True,
            )
    if spec.kind != "path":
        return
    for key in ("steps", "lr"):
        if getattr(spec, key) is None:
            fail(where, f"theta kind 'path' needs key {key!r}")
    if spec.estimator == EXACT:
        for key in ("episodes", "params"):
            if key in spec.model_fields_set:
                fail((*where, key), f"a path along the exact gradient takes no {key!r}", True)
        return
    if spec.episodes is None:
        fail(where, f"theta kind 'path' with estimator {spec.estimator!r} needs key 'episodes'")
    try:
        est = ESTIMATORS.get(spec.estimator)
    except PgbenchError as exc:
        fail((*where, "estimator"), f"{exc} (or {EXACT!r})")
    try:
        ESTIMATORS.params(spec.estimator, **spec.params)
    except PgbenchError as exc:
        fail_params((*where, "params"), est.params, spec.params, exc)
