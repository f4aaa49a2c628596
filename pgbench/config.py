"""Suites: what to run, as frozen pydantic models, loaded from YAML with file:line:col errors.

A suite is one YAML mapping. Every experiment kind shares the *common* keys and
adds its own; :data:`SUITE_KINDS` maps ``experiment`` to the model:

* ``gradient-quality`` (:class:`GradientQualitySuite`) and ``learning-curve``
  (:class:`LearningCurveSuite`): their keys below;
* ``two-agent`` and ``game-estimators`` (learners playing iterated games, and game
  derivative estimators): keys in the docstring of :mod:`pgbench.games.suite`.

::

    # common keys
    name: quickstart              # run directory name: results/<name>/ (letters, digits,
                                  # . _ -; at most 100 characters)
    experiment: gradient-quality  # experiment kind, picks the model below
    description: ...              # optional free text
    seeds: [0, 1, 2]              # explicit non-negative seeds, or an int n meaning 0 .. n-1
    backend: cpu                  # kernel backend: cpu (= parallel) | serial | parallel | cuda
    envs:                         # each: a name, or {name, params: {...}, label: ...}
      - {name: garnet, params: {n_states: 6, n_actions: 3}}
      - {name: cartpole-v1, max_batch: 1024}   # gradient-quality only: see below
    policies:                     # each: a name, or {name, params, label}; a policy is used
      - {name: tabular-softmax, params: {init_scale: 1.0}}   # with every env that accepts it
      - {name: linear-softmax, params: {init_scale: 0.1}}    # (tabular-softmax <-> discrete
                                                             # states, linear-softmax <-> vectors)
    compare: {threshold: 1.25, alpha: 0.05, metrics: [mse, cosine]}  # optional settings of
                                  # pgbench compare (pgbench.compare); not part of the cells;
                                  # also strict: true (fail underpowered rows) and
                                  # pair_by: label (pair rows by labels, not params)
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

A ``learning-curve`` suite lists ``algorithms`` instead of ``estimators``::

    # learning-curve keys
    env_steps: 300000             # env-step budget of each run
    log_every: 15000              # env steps between curve points (default: budget / 20)
    eval_episodes: 10             # greedy episodes per curve point
    envs:                         # each may add env_steps, log_every and target (the
      - {name: cartpole-v1, log_every: 10000, target: 475}   # return that counts as
      - {name: pendulum-v1, env_steps: 1000000}              # solved: a report setting)
    algorithms:                   # each: a name, or {name, params, label, envs, policies,
      - ppo-clip                  #   env_steps, seeds}
      - {name: reinforce, params: {episodes: 16}, envs: [cartpole-v1], env_steps: 500000}
      - {name: npg, seeds: 3}     # only the suite's first 3 seeds

Budgets (learning-curve): a run's budget is its algorithm's ``env_steps``, else its
env's, else the suite's. A budget below the env steps of one update
(:func:`pgbench.algorithms.budget.steps_per_update`) is an error at the key that set
it; one that buys fewer than a handful of updates is a warning
(:meth:`Suite.warnings`, printed by ``pgbench run`` with its position).

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

Labels name a spec in tables and plots; they default to the name, followed by
the params when there are any (``reinforce(baseline=optimal)``), and must be
unique within envs, policies, thetas and estimators. Every name is checked
against its registry (with a close-match suggestion), every env is constructed,
every policy is constructed for every env (a policy an env rejects is skipped
for that env; a policy no env accepts, or an env no policy accepts, is an
error), and estimator params (also those of a path) are validated with
:func:`pgbench.estimator_params`.

Parameters are strictly typed: estimator, algorithm and learner hyperparameters (nested
ones too) are :class:`pgbench.params.HyperParams` (no strings or booleans for numbers,
no numbers for booleans, finite floats, ints where floats are expected); env and policy
params must fit their factory's int / float / bool / str annotations the same way.

Bounds, each checked before anything large is built, with the size in the message:

* YAML: at most :data:`MAX_NODES` (100,000) values with every alias expanded, lists and
  mappings nested at most :data:`MAX_DEPTH` (100) deep, no alias inside the node it names;
* at most :data:`MAX_CELLS` (1,000,000) cells (envs x policies x methods x points x seeds);
* a named tabular MDP's P (S, A, S) float64 within 2 GiB
  (:data:`pgbench.envs.checks.MAX_TABLE_BYTES`);
* the stored episodes of one estimate (batch size x horizon x (obs + P + 3) float64) or
  of one learning-curve update within :data:`pgbench.sampling.MAX_ROLLOUT_BYTES` (32 GiB).

Errors: :func:`load_suite` raises :class:`SuiteError` whose message is ONE line,
``path/to/suite.yaml:LINE:COL: message`` (1-based, at the offending YAML node),
for YAML syntax errors, bytes that are not UTF-8, duplicate keys (at the second one),
keys YAML does not read as strings (``on:``, ``1:``), unknown keys, wrong types, unknown
names and invalid params alike. Only the first error is reported. A file that cannot be
read at all has no position: ``path/to/suite.yaml: cannot read suite: reason``
(:func:`read_suite`).
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from pgbench.errors import PgbenchError
from pgbench.registry import ENVS, ESTIMATORS, POLICIES, suggest
from pgbench.sampling import rollout_problem
from pgbench.suite.compare_block import CompareSpec
from pgbench.suite.errors import Loc, SuiteError
from pgbench.suite.errors import fail as _fail
from pgbench.suite.types import (
    MAX_CELLS,
    MAX_NAME,
    FiniteFloat,
    Name,
    NonNegInt,
    Params,
    PosFloat,
    PosInt,
)

# ---------------------------------------------------------------- helpers


def _short(value: Any) -> str:
    """A compact, unambiguous rendering of a param value for labels."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return str(value)
    text = repr(value)
    return text if len(text) <= 24 else text[:21] + "..."


def default_label(name: str, params: dict) -> str:
    """``name`` or ``name(k=v,...)``, e.g. ``garnet(n_states=6,n_actions=3)``."""
    if not params:
        return name
    return name + "(" + ",".join(f"{k}={_short(v)}" for k, v in params.items()) + ")"


_STRICT = {
    tp: TypeAdapter(tp, config=ConfigDict(strict=True, allow_inf_nan=False))
    for tp in (int, float, bool, str)
}


def _check_factory_params(
    factory, params: dict, kind: str, name: str, where: Loc, skip: tuple[str, ...] = ()
) -> None:
    """Reject keys ``factory`` does not take and values that do not fit its int/float/bool/str
    annotations (strict: no strings for numbers, no booleans for numbers; finite floats),
    each at its own key."""
    try:
        sig = inspect.signature(factory, eval_str=True)
    except (NameError, TypeError, ValueError):
        sig = inspect.signature(factory)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    known = {k: p for k, p in sig.parameters.items() if k not in skip}
    for key, value in params.items():
        if key not in known:
            hint = suggest(key, list(known)) if known else "; it takes no parameters"
            _fail((*where, key), f"{kind} {name!r} has no parameter {key!r}{hint}", at_key=True)
        annotation = known[key].annotation
        if annotation in (int, float, bool, str):
            try:
                _STRICT[annotation].validate_python(value)
            except ValidationError as exc:
                _fail(
                    (*where, key),
                    f"{kind} {name!r} parameter {key!r}: {exc.errors()[0]['msg']}, got {value!r}",
                )


def first_repeat(values: typing.Sequence) -> int | None:
    """Index of the first entry equal to an earlier one, or None (linear time)."""
    seen: set = set()
    for i, v in enumerate(values):
        if v in seen:
            return i
        seen.add(v)
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# ---------------------------------------------------------------- specs


class Spec(BaseModel):
    """A registry name with its parameters and an optional display label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = Field(description="registry name")
    params: Params = Field(default_factory=dict, description="keyword parameters of the factory")
    label: Name | None = Field(default=None, description="display name; default name(params)")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @property
    def display(self) -> str:
        """The label used in tables and plots."""
        return self.label if self.label is not None else default_label(self.name, self.params)

    def canonical(self) -> dict:
        """What determines results: name, params and label (JSON types only)."""
        return {"name": self.name, "params": self.params, "label": self.display}


class EnvSpec(Spec):
    """An environment: ``make_env(name, **params)``."""

    def build(self):
        from pgbench import make_env

        return make_env(self.name, **self.params)


class PolicySpec(Spec):
    """A policy: ``make_policy(name, env, **params)``."""

    def build(self, env):
        from pgbench import make_policy

        return make_policy(self.name, env, **self.params)


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


# ---------------------------------------------------------------- suites


class Suite(BaseModel):
    """Keys shared by every experiment kind (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ClassVar[str] = ""
    method_key: ClassVar[str] = ""  # the key listing the compared methods (a grid axis)

    name: Annotated[
        str, Strict(), Field(max_length=MAX_NAME, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    ] = Field(description="run directory name")
    experiment: str = Field(description="experiment kind")
    description: Annotated[str, Strict()] = ""
    seeds: tuple[NonNegInt, ...] = Field(min_length=1, description="replicate seeds")
    backend: Name = Field(default="cpu", description="kernel backend")
    envs: tuple[EnvSpec, ...] = Field(min_length=1)
    policies: tuple[PolicySpec, ...] = Field(min_length=1)
    compare: CompareSpec | None = Field(default=None, description="pgbench compare settings")

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                raise ValueError("a seed count must be at least 1")
            if value > MAX_CELLS:
                raise ValueError(
                    f"{value:,} seeds would make at least {value:.3g} cells (bound: {MAX_CELLS:,})"
                )
            return list(range(value))
        if not isinstance(value, (list, tuple)):
            hint = ""
            if isinstance(value, str) and _is_number(value):
                hint = " (YAML reads this as text; write the count as digits: 1000, not 1e3)"
            elif isinstance(value, float):
                hint = " (a count must be an integer: 1000, not 1e3 or 1000.0)"
            raise ValueError(
                "seeds must be a list of non-negative integers or a count n (meaning 0 .. n-1)"
                + hint
            )
        return value

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        i = first_repeat(value)
        if i is not None:
            _fail(("seeds", i), f"seed {value[i]} is listed twice")
        return value

    @model_validator(mode="after")
    def _check_grid_size(self) -> Suite:
        """At most :data:`MAX_CELLS` cells, before any env or policy is built."""
        axes = [
            (key, len(getattr(self, key)))
            for key in ("envs", "policies", self.method_key, "seeds")
            if key
        ]
        points = self.points
        if points != (None,):
            axes.insert(-1, ("thetas", len(points)))
        cells = math.prod(n for _, n in axes)
        if cells > MAX_CELLS:
            key = max(axes, key=lambda a: a[1])[0]
            _fail(
                (key,) if key in self.model_fields_set else (),
                "the grid has "
                + " x ".join(f"{n:,} {k}" for k, n in axes)
                + f" = {cells:,} cells (bound: {MAX_CELLS:,})",
            )
        return self

    @model_validator(mode="after")
    def _check_common(self) -> Suite:
        from pgbench.sampling import check_backend

        try:
            check_backend(self.backend)
        except PgbenchError as exc:
            _fail(("backend",), str(exc))
        self.pairs()  # constructs and checks every env and policy
        return self

    def warnings(self) -> list[tuple[Loc, str]]:
        """(location, message) of what is valid but likely a mistake; none by default."""
        return []

    def report_settings(self) -> dict:
        """What ``pgbench compare`` and the report need of the suite, resolved once: the runner
        writes it into ``metadata.json`` (``settings``), so neither reads the YAML again.
        ``compare``: the validated ``compare:`` block, or None."""
        return {
            "description": self.description,
            "compare": None if self.compare is None else self.compare.model_dump(mode="json"),
        }

    @property
    def methods(self) -> tuple[Spec, ...]:
        """The compared methods (estimators, algorithms, ...) of this experiment kind."""
        return getattr(self, self.method_key) if self.method_key else ()

    @property
    def points(self) -> tuple[ThetaSpec | None, ...]:
        """The evaluation points, a grid axis; ``(None,)`` for kinds without one."""
        return (None,)

    def runs(
        self,
        env: EnvSpec,
        method: Spec,
        policy: PolicySpec | None = None,
        seed: int | None = None,
    ) -> bool:
        """Whether ``method`` runs on ``env`` (with ``policy``, for replicate ``seed``); all
        unless a kind restricts."""
        return True

    def pairs(self) -> list[tuple[int, int]]:
        """(env index, policy index) of every pair where the env accepts the policy.

        Raises the first problem as a validation error (see :func:`_fail`).
        """
        return [(i, j) for i, _, j, _ in self.built_pairs()]

    def built_pairs(self) -> list[tuple[int, Any, int, Any]]:
        """(env index, env, policy index, policy), built, of every pair where the env accepts
        the policy, in (env, policy) order. Raises the first problem as a validation error."""
        _check_labels("envs", "environment", self.envs)
        _check_labels("policies", "policy", self.policies)
        envs = [_build_env(i, spec) for i, spec in enumerate(self.envs)]
        built: list[tuple[int, Any, int, Any]] = []
        for j, spec in enumerate(self.policies):
            try:
                factory = POLICIES.get(spec.name)
            except PgbenchError as exc:
                _fail(("policies", j, "name"), str(exc))
            _check_factory_params(
                factory, spec.params, "policy", spec.name, ("policies", j, "params"), skip=("env",)
            )
            first_error, before = None, len(built)
            for i, env in enumerate(envs):
                try:
                    built.append((i, env, j, spec.build(env)))
                except (PgbenchError, ValueError, TypeError) as exc:
                    first_error = first_error or _one_line(exc)
            if len(built) == before:
                where = ("policies", j, "params") if spec.params else ("policies", j)
                _fail(where, f"policy {spec.display!r} fits none of the envs: {first_error}")
        accepted = {i for i, _, _, _ in built}
        for i, spec in enumerate(self.envs):
            if i not in accepted:
                _fail(("envs", i), f"no policy in the suite accepts environment {spec.display!r}")
        return sorted(built, key=lambda pair: (pair[0], pair[2]))


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
            _fail(("batch_sizes", i), f"batch size {value[i]} is listed twice")
        return value

    @model_validator(mode="after")
    def _check_estimators(self) -> GradientQualitySuite:
        from pgbench import estimator_params

        for k, spec in enumerate(self.estimators):
            try:
                est = ESTIMATORS.get(spec.name)
            except PgbenchError as exc:
                _fail(("estimators", k, "name"), str(exc))
            try:
                estimator_params(spec.name, **spec.params)
            except PgbenchError as exc:
                _fail_params(("estimators", k, "params"), est.params, spec.params, exc)
        _check_labels("estimators", "estimator", self.estimators)
        self._check_thetas()
        self._check_env_lists()
        self._check_budgets()
        self._check_memory()
        return self

    def _check_thetas(self) -> None:
        if self.theta is not None and self.thetas is not None:
            _fail(("thetas",), "give either theta (one point) or thetas (a list), not both", True)
        if self.thetas is not None:
            located = [(("thetas", i), t) for i, t in enumerate(self.thetas)]
        else:
            located = [(("theta",), self.theta)] if self.theta is not None else []
        for where, spec in located:
            _check_theta(where, spec)
        if self.thetas is not None:
            _check_labels("thetas", "theta", self.thetas)

    def _check_env_lists(self) -> None:
        labels = [e.display for e in self.envs]
        for k, est in enumerate(self.estimators):
            for j, label in enumerate(est.envs or ()):
                if label not in labels:
                    _fail(
                        ("estimators", k, "envs", j),
                        f"estimator {est.display!r} lists env {label!r}, which is not an env "
                        "label of this suite" + suggest(label, labels),
                    )
                if label in est.envs[:j]:
                    _fail(("estimators", k, "envs", j), f"env {label!r} is listed twice")
        for i, env in enumerate(self.envs):
            if not any(self.runs(env, est) for est in self.estimators):
                _fail(("envs", i), f"no estimator runs on env {env.display!r} (see their envs)")

    def _check_budgets(self) -> None:
        for i, env in enumerate(self.envs):
            for k, est in enumerate(self.estimators):
                if self.runs(env, est) and not self.sizes_for(env, est):
                    where = ("estimators", k, "min_batch") if est.min_batch else ("envs", i)
                    _fail(
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
                    _fail(
                        where if size else (*where, "episodes"),
                        f"on env {spec.display!r} with policy {self.policies[j].display!r}, "
                        f"{msg}; lower it" + (" (or give the env a max_batch)" if size else ""),
                    )


class CurveEnvSpec(EnvSpec):
    """An environment of a learning-curve suite, with its own budget and log interval."""

    env_steps: PosInt | None = Field(default=None, description="budget on this env")
    log_every: PosInt | None = Field(default=None, description="curve interval on this env")
    target: FiniteFloat | None = Field(
        default=None,
        description="evaluation return that counts as solved (a report setting: the final "
        "table counts the seeds reaching it; not part of the cells)",
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
        from pgbench.algorithms.base import algorithm_params
        from pgbench.registry import ALGORITHMS

        for k, spec in enumerate(self.algorithms):
            try:
                algo = ALGORITHMS.get(spec.name)
            except PgbenchError as exc:
                _fail(("algorithms", k, "name"), str(exc))
            try:
                algorithm_params(spec.name, **spec.params)
            except PgbenchError as exc:
                _fail_params(("algorithms", k, "params"), algo.params, spec.params, exc)
        _check_labels("algorithms", "algorithm", self.algorithms)
        env_labels = [e.display for e in self.envs]
        pol_labels = [p.display for p in self.policies]
        for k, algo in enumerate(self.algorithms):
            for field, what, labels in (
                ("envs", "env", env_labels),
                ("policies", "policy", pol_labels),
            ):
                for j, label in enumerate(getattr(algo, field) or ()):
                    if label not in labels:
                        _fail(
                            ("algorithms", k, field, j),
                            f"algorithm {algo.display!r} lists {what} {label!r}, which is not "
                            f"one of the suite's {what} labels" + suggest(label, labels),
                        )
        built = self.built_pairs()
        for k, algo in enumerate(self.algorithms):
            if not any(self.runs(self.envs[i], algo, self.policies[j]) for i, _, j, _ in built):
                _fail(("algorithms", k), f"algorithm {algo.display!r} runs on no env / policy pair")
        self._updates(built)
        return self

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
        from pgbench.algorithms.budget import budget_warning, steps_per_update

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
                    _fail(where_params, f"{where}: {_one_line(exc)}")
                budget, key = self.budget_of(i, k)
                if budget < fewest:
                    _fail(
                        key,
                        f"{where}: a budget of {budget:,} env steps is less than one update "
                        f"({fewest:,} env steps); raise env_steps or make the update smaller",
                    )
                problem = rollout_problem("one update", most, env, policy)
                if problem:
                    _fail(where_params, f"{where}: {problem}")
                warning = budget_warning(where, budget, fewest, most)
                if warning:
                    warnings[(key, warning)] = None
        return list(warnings)

    def warnings(self) -> list[tuple[Loc, str]]:
        """(location, message) of budgets that buy fewer than a handful of updates (see
        :func:`pgbench.algorithms.budget.budget_warning`); the suite is valid."""
        return self._updates(self.built_pairs())

    def report_settings(self) -> dict:
        """The common settings and ``targets``: env label -> the return that counts as solved."""
        targets = {e.display: e.target for e in self.envs if e.target is not None}
        return {**super().report_settings(), "targets": targets}


SUITE_KINDS: dict[str, type[Suite]] = {
    GradientQualitySuite.kind: GradientQualitySuite,
    LearningCurveSuite.kind: LearningCurveSuite,
}


def _check_theta(where: Loc, spec: ThetaSpec) -> None:
    """Keys that do not belong to the point's kind, missing keys, and the path estimator."""
    from pgbench import estimator_params

    allowed = THETA_KEYS[spec.kind]
    for key in ThetaSpec.model_fields:  # in declaration order: a deterministic first error
        if key in spec.model_fields_set and key not in (*allowed, "kind", "label"):
            _fail(
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
            _fail(where, f"theta kind 'path' needs key {key!r}")
    if spec.estimator == EXACT:
        for key in ("episodes", "params"):
            if key in spec.model_fields_set:
                _fail((*where, key), f"a path along the exact gradient takes no {key!r}", True)
        return
    if spec.episodes is None:
        _fail(where, f"theta kind 'path' with estimator {spec.estimator!r} needs key 'episodes'")
    try:
        est = ESTIMATORS.get(spec.estimator)
    except PgbenchError as exc:
        _fail((*where, "estimator"), f"{exc} (or {EXACT!r})")
    try:
        estimator_params(spec.estimator, **spec.params)
    except PgbenchError as exc:
        _fail_params((*where, "params"), est.params, spec.params, exc)


def _build_env(i: int, spec: EnvSpec):
    try:
        factory = ENVS.get(spec.name)
    except PgbenchError as exc:
        _fail(("envs", i, "name"), str(exc))
    _check_factory_params(factory, spec.params, "environment", spec.name, ("envs", i, "params"))
    try:
        return spec.build()
    except (PgbenchError, ValueError, TypeError) as exc:
        param = getattr(exc, "param", None)  # the parameter responsible, if the error names one
        if param in spec.params:
            _fail(("envs", i, "params", param), _one_line(exc))
        _fail(("envs", i, "params") if spec.params else ("envs", i), _one_line(exc))


def _check_labels(field: str, kind: str, specs: tuple[Spec, ...]) -> None:
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        if spec.display in seen:
            where = (field, i, "label") if spec.label is not None else (field, i)
            _fail(
                where,
                f"{kind} label {spec.display!r} is used twice (entries "
                f"{seen[spec.display]} and {i}); give one a distinct label",
            )
        seen[spec.display] = i


def _first_bad_key(model: type[BaseModel], params: dict) -> tuple[Loc, bool]:
    """(path, is it an unknown key) of the first param ``model`` rejects: the path into
    ``params`` (nested mappings and lists) as far as it exists, or ((), False)."""
    try:
        model(**params)
    except ValidationError as exc:
        err = exc.errors()[0]
        path: list[str | int] = []
        node: Any = params
        for part in err["loc"]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                break
            path.append(part)
        unknown = err["type"] == "extra_forbidden" and len(path) == len(err["loc"]) > 0
        return tuple(path), unknown
    return (), False


def _fail_params(
    where: Loc, model: type[BaseModel], params: dict, exc: Exception
) -> typing.NoReturn:
    """Report ``exc`` (invalid ``params`` of ``model``) at the offending param, with a
    close-match suggestion for an unknown key."""
    key, unknown = _first_bad_key(model, params)
    msg = _one_line(exc)
    if unknown:
        known = _fields_at(model, key[:-1])
        if known and not any(name in msg for name in ("did you mean", "; known:")):
            msg += suggest(str(key[-1]), known)
    elif key and "got " not in msg:
        value = _at(params, key)
        if isinstance(value, (str, int, float, bool)) or value is None:
            msg += f", got {_short_repr(value)}"
    _fail((*where, *key), msg, at_key=unknown)


def _at(data: Any, path: Loc) -> Any:
    """``data[path[0]][path[1]]...`` (the path exists)."""
    for part in path:
        data = data[part]
    return data


def _short_repr(value: Any, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# ---------------------------------------------------------------- YAML loading


def load_suite(path: str | Path) -> Suite:
    """The validated suite in the YAML file ``path``; :class:`SuiteError` (one line) if invalid."""
    return parse_suite(read_suite(path), str(path))


def read_suite(path: str | Path) -> str:
    """The text of the suite file ``path``; :class:`SuiteError` (one line) if it cannot be
    read (``path: cannot read suite: reason``) or is not UTF-8 (``path:LINE:COL: ...`` at
    the first byte that is not)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read suite: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        line, col = _line_col(good, len(good))
        raise SuiteError(
            f"{path}:{line}:{col}: suite is not UTF-8 text (byte 0x{data[exc.start]:02x})"
        ) from None


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character ``index`` of ``text``."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def parse_suite(text: str, filename: str = "<suite>") -> Suite:
    """The validated suite in the YAML ``text``; errors name ``filename``."""
    node, data = _compose(text, filename)

    def error(loc: Loc, msg: str, at_key: bool = False) -> SuiteError:
        line, col = _position(node, loc, at_key)
        return SuiteError(f"{filename}:{line}:{col}: {msg}")

    if not isinstance(data, dict):
        raise error((), "a suite must be a YAML mapping of keys (name, experiment, ...)")
    kind = data.get("experiment")
    if kind is None:
        raise error(
            (), "missing required key 'experiment' (one of: " + ", ".join(sorted(SUITE_KINDS)) + ")"
        )
    if not isinstance(kind, str) or kind not in SUITE_KINDS:
        raise error(
            ("experiment",), f"unknown experiment {kind!r}" + suggest(str(kind), list(SUITE_KINDS))
        )
    model = SUITE_KINDS[kind]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # an error about a container whose item failed is a consequence: keep the item's
        locs = [tuple(e["loc"]) for e in errors]
        errors = [
            e
            for e, loc in zip(errors, locs, strict=True)
            if not any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs)
        ] or errors
        described = [_describe(model, e) for e in errors]
        # the first problem in the file; a missing key last (a misspelt one is the cause)
        loc, msg, at_key = min(
            described,
            key=lambda d: (d[1].startswith("missing required key"), _position(node, d[0], d[2])),
        )
        raise error(loc, msg, at_key) from None


def warning_lines(suite: Suite, text: str, filename: str = "<suite>") -> list[str]:
    """``filename:LINE:COL: message`` of each of ``suite.warnings()``; ``text`` is the YAML
    the suite was parsed from."""
    warnings = suite.warnings()
    if not warnings:
        return []
    node, _ = _compose(text, filename)
    lines = []
    for loc, msg in warnings:
        line, col = _position(node, loc, False)
        lines.append(f"{filename}:{line}:{col}: {msg}")
    return lines


def _compose(text: str, filename: str):
    """(root node, Python data) of a one-document YAML text, rejecting duplicate keys and
    what :class:`_SuiteLoader` refuses (deep nesting, alias cycles and bombs)."""
    try:
        loader = _SuiteLoader(text, filename)
        try:
            node = loader.get_single_node()
            if node is not None:
                _reject_duplicate_keys(node, filename)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:  # not expected below MAX_DEPTH; a deep call stack at the caller
        raise SuiteError(f"{filename}:1:1: YAML nesting too deep to read") from None
    except yaml.MarkedYAMLError as exc:
        mark, context = exc.problem_mark or exc.context_mark, exc.context
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        cmark = exc.context_mark
        if context and cmark is not None and (cmark.line + 1, cmark.column + 1) != (line, col):
            context += f" started at {cmark.line + 1}:{cmark.column + 1}"
        what = ": ".join(p for p in (context, exc.problem) if p) or "invalid YAML"
        what = " ".join(what.split())  # one line
        raise SuiteError(f"{filename}:{line}:{col}: YAML syntax error: {what}") from None
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position) if isinstance(exc.position, int) else (1, 1)
        char = exc.character
        code = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        raise SuiteError(
            f"{filename}:{line}:{col}: YAML error: character {code} is not allowed in YAML text"
            " (control characters other than tab and newline)"
        ) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{filename}:1:1: YAML error: {_one_line(exc)}") from None
    if node is None:
        raise SuiteError(f"{filename}:1:1: suite is empty")
    return node, data


MAX_DEPTH = 100  # lists and mappings nested in one another
MAX_NODES = 100_000  # scalars, lists and mappings of the document with every alias expanded


class _SuiteLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing (one line, at the offending node) a document that
    nests lists and mappings deeper than :data:`MAX_DEPTH`, an alias inside the list or
    mapping it names (a cycle), and a document larger than :data:`MAX_NODES` nodes with
    every alias expanded (a "billion laughs").

    Checked while composing, before anything is built: PyYAML's composer recurses per
    level, and what comes after it (duplicate keys, construction, pydantic, hashing)
    walks the expanded tree, which an alias bomb makes astronomically large.
    """

    def __init__(self, text: str, filename: str) -> None:
        super().__init__(text)
        self.filename = filename
        self.depth = 0
        self.expanded = 0  # nodes composed so far, an alias counting its node's size
        self.sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size
        self.open: list[str] = []  # anchors of the lists / mappings being composed

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.open:
                self._fail(event, f"alias *{event.anchor} is inside the node it names (a cycle)")
            node = super().compose_node(parent, index)  # an undefined alias raises here
            self._count(self.sizes.get(id(node), 1), event)
            return node
        if isinstance(event, yaml.CollectionStartEvent) and self.depth >= MAX_DEPTH:
            self._fail(event, f"lists and mappings nested deeper than {MAX_DEPTH} levels")
        before = self.expanded
        self._count(1, event)
        self.depth += 1
        self.open.append(event.anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
            self.open.pop()
        if event.anchor is not None:
            self.sizes[id(node)] = self.expanded - before
        return node

    def _count(self, n: int, event: yaml.Event) -> None:
        self.expanded += n
        if self.expanded > MAX_NODES:
            self._fail(
                event,
                f"the suite has more than {MAX_NODES:,} values with its aliases expanded "
                "(an alias bomb?)",
            )

    def _fail(self, event: yaml.Event, msg: str) -> typing.NoReturn:
        m = event.start_mark
        raise SuiteError(f"{self.filename}:{m.line + 1}:{m.column + 1}: {msg}")


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


def _reject_duplicate_keys(node: yaml.Node, filename: str) -> None:
    """Duplicate keys (at the second one) and keys that YAML does not read as strings
    (``1:``, ``~:``, ``on:``; a suite's keys are all names) are errors."""
    for child in _walk(node):
        if isinstance(child, yaml.MappingNode):
            seen: set = set()
            for key, _ in child.value:
                m = key.start_mark
                where = f"{filename}:{m.line + 1}:{m.column + 1}"
                if isinstance(key, yaml.ScalarNode) and key.tag == _MERGE:
                    continue
                if not isinstance(key, yaml.ScalarNode):
                    raise SuiteError(f"{where}: a key must be a name, not a list or mapping")
                if key.tag != _STR:
                    raise SuiteError(
                        f"{where}: key {key.value!r} is not read as a string by YAML; "
                        f"quote it ('{key.value}') or use a name"
                    )
                if key.value in seen:
                    raise SuiteError(f"{where}: duplicate key {key.value!r}")
                seen.add(key.value)


def _walk(node: yaml.Node) -> Iterator[yaml.Node]:
    """Every node under ``node`` once (an aliased node is one node reached twice)."""
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        yield n
        if isinstance(n, yaml.MappingNode):
            stack.extend(v for pair in n.value for v in pair)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)


def _position(root: yaml.Node, loc: Loc, at_key: bool) -> tuple[int, int]:
    """1-based (line, col) of the deepest node along ``loc`` (the key node if ``at_key``)."""
    node = root
    for i, part in enumerate(loc):
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    nxt = key if (at_key and i == len(loc) - 1) else value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
    return node.start_mark.line + 1, node.start_mark.column + 1


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model found by following ``loc`` from ``model`` (for suggestions)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if inspect.isclass(tp) and issubclass(tp, BaseModel) and isinstance(part, str):
            field = tp.model_fields.get(part)
            tp = field.annotation if field else None
        elif typing.get_origin(tp) in (tuple, list) and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        else:
            return []
    tp = _unwrap(tp)
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    """``X`` of ``Annotated[X, ...]``, ``X | None`` (one level of each)."""
    if typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        tp = args[0]
    if typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _describe(model: type[BaseModel], err: dict) -> tuple[Loc, str, bool]:
    """(location, one-line message, point at the key) of a pydantic error."""
    ctx = err.get("ctx") or {}
    if err["type"] == "pgbench":
        return tuple(ctx["where"]), str(ctx["msg"]), bool(ctx.get("at_key"))
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        known = _fields_at(model, loc[:-1])
        hint = suggest(key, known) if known else ""
        return loc, f"unknown key {key!r} in {_dotted(loc[:-1]) or 'suite'}{hint}", True
    if err["type"] == "missing":
        return loc[:-1], f"missing required key {_dotted(loc)!r}", False
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    value = err.get("input")
    if isinstance(value, (str, int, float, bool)) or value is None:
        msg += f", got {_short_repr(value)}"
    return loc, f"{_dotted(loc)}: {msg}" if loc else msg, False


# the two-agent kinds build on the models above and add themselves to SUITE_KINDS
import pgbench.games.suite  # noqa: E402, F401
