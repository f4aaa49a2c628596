"""Suite models of the two-agent experiment kinds (validated like every suite: file:line:col).

``two-agent``: learners playing each other (reward against iteration, final policies, %TFT)::

    name: lola_ipd
    experiment: two-agent
    seeds: 20                     # runs; run r starts from the logits of seed r
    envs:                         # games: ipd | matching-pennies, params gamma, horizon
      - {name: ipd, params: {horizon: 150}}
    iterations: 200               # simultaneous updates per run
    episodes: 4000                # episodes both agents play per iteration (sampling learners)
    init_scale: 1.0               # std of the initial logits
    pairings:                     # each: learners [first, second] (name or {name, params}), label
      - {learners: [lola-exact, nl-exact], label: LOLA-NL}

``game-estimators``: sampled first- and second-order derivatives against the exact ones::

    name: game_estimators
    experiment: game-estimators
    seeds: 3
    envs: [{name: ipd, params: {horizon: 150}}]
    thetas: [{seed: 0, scale: 1.0}]   # x = N(0, scale^2) logits of both agents from seed
    batch_sizes: [16, 64, 256, 1024, 4096]
    repeats: 10
    estimators: [pg-gradient, lola-pg-cross-term, {name: dice-hessian, params: {baseline: time}}]

``policies`` may be left out (the only policy is ``memory-1``, 5 sigmoid logits per agent).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from pgbench.errors import PgbenchError
from pgbench.experiments.two_agent.run import game_of
from pgbench.registry import GAME_ESTIMATORS, LEARNERS, suggest
from pgbench.suite.base import Suite, first_repeat
from pgbench.suite.errors import fail
from pgbench.suite.specs import EnvSpec, PolicySpec, Spec, check_labels, default_label
from pgbench.suite.translate import fail_params
from pgbench.suite.types import Name, NonNegInt, PosFloat, PosInt

POLICY = "memory-1"
GAME_PARAMS = ("gamma", "horizon")


class PairingSpec(BaseModel):
    """Two learners, the first agent's and the second's, e.g. ``[lola-exact, nl-exact]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learners: tuple[Spec, Spec] = Field(description="the first and the second agent's learner")
    label: Name | None = Field(default=None, description="display name; default 'A vs B'")
    iterations: PosInt | None = Field(default=None, description="updates (overrides the suite's)")
    envs: Annotated[tuple[Name, ...], Field(min_length=1)] | None = Field(
        default=None, description="labels of the only games this pairing plays"
    )

    @property
    def name(self) -> str:
        return f"{self.learners[0].name}+{self.learners[1].name}"

    @property
    def params(self) -> dict:
        return {
            f"learner{k + 1}": {"name": s.name, "params": s.params}
            for k, s in enumerate(self.learners)
        }

    @property
    def display(self) -> str:
        if self.label is not None:
            return self.label
        return " vs ".join(s.display for s in self.learners)

    def canonical(self) -> dict:
        out = {"name": self.name, "params": self.params, "label": self.display}
        if self.iterations is not None:
            out["iterations"] = self.iterations
        return out


class PointSpec(BaseModel):
    """Both agents' logits x (10,) = N(0, scale^2) from ``seed`` (its own stream)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: NonNegInt = Field(default=0, description="seed of the point")
    scale: PosFloat = Field(default=1.0, description="standard deviation of the logits")
    label: Name | None = Field(default=None, description="display name")

    def definition(self) -> dict:
        return {"kind": "random", "seed": self.seed, "scale": self.scale}

    @property
    def display(self) -> str:
        if self.label is not None:
            return self.label
        return default_label("point", {"seed": self.seed, "scale": self.scale})

    def canonical(self) -> dict:
        return {**self.definition(), "label": self.display}


class _GameSuite(Suite):
    """Shared: envs are games, the policy is ``memory-1``."""

    policies: tuple[PolicySpec, ...] = Field(
        default=(PolicySpec(name=POLICY),), min_length=1, description="memory-1 only"
    )

    def pairs(self) -> list[tuple[int, int]]:
        """Every game with the memory-1 policy; checks game names and params."""
        for i, spec in enumerate(self.envs):
            for key in spec.params:
                if key not in GAME_PARAMS:
                    fail(
                        ("envs", i, "params", key),
                        f"game {spec.name!r} has no parameter {key!r}; parameters: "
                        + ", ".join(GAME_PARAMS),
                        at_key=True,
                    )
            try:
                game_of(spec)
            except PgbenchError as exc:
                where = ("envs", i, "params") if spec.params else ("envs", i, "name")
                fail(where, str(exc))
        check_labels("envs", "game", self.envs)
        for j, pol in enumerate(self.policies):
            if pol.name != POLICY or pol.params:
                fail(("policies", j), f"two-agent games use policy {POLICY!r} (no params)")
        if len(self.policies) != 1:
            fail(("policies",), f"give one policy, {POLICY!r}")
        return [(i, 0) for i in range(len(self.envs))]


class TwoAgentSuite(_GameSuite):
    """Learners playing iterated games: reward against iteration, final policies, %TFT."""

    kind: ClassVar[str] = "two-agent"
    method_key: ClassVar[str] = "pairings"

    experiment: Literal["two-agent"] = "two-agent"
    iterations: PosInt = Field(description="simultaneous updates per run")
    episodes: Annotated[int, Strict(), Field(ge=2)] = Field(
        default=4000, description="episodes both agents play per iteration (sampling learners)"
    )
    init_scale: Annotated[float, Strict(), Field(ge=0, allow_inf_nan=False)] = Field(
        default=1.0, description="standard deviation of the initial logits"
    )
    pairings: tuple[PairingSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_pairings(self) -> TwoAgentSuite:
        games = [game_of(e) for e in self.envs]
        for k, pairing in enumerate(self.pairings):
            for a, spec in enumerate(pairing.learners):
                where = ("pairings", k, "learners", a)
                try:
                    learner = LEARNERS.get(spec.name)
                except PgbenchError as exc:
                    fail((*where, "name") if spec.params or spec.label else where, str(exc))
                try:
                    LEARNERS.params(spec.name, **spec.params)
                except PgbenchError as exc:
                    fail_params((*where, "params"), learner.params, spec.params, exc)
                if learner.sampled:
                    for i, g in enumerate(games):
                        if g.horizon is None and self.runs(self.envs[i], pairing):
                            fail(
                                ("envs", i),
                                f"learner {spec.name!r} samples episodes: give game "
                                f"{self.envs[i].display!r} a horizon (params: {{horizon: 150}})",
                            )
        check_labels("pairings", "pairing", self.pairings)
        labels = [e.display for e in self.envs]
        for k, pairing in enumerate(self.pairings):
            for j, label in enumerate(pairing.envs or ()):
                if label not in labels:
                    fail(
                        ("pairings", k, "envs", j),
                        f"pairing {pairing.display!r} lists game {label!r}, which is not a game "
                        "label of this suite" + suggest(label, labels),
                    )
        return self

    def runs(self, env: EnvSpec, method, policy: PolicySpec | None = None, seed=None) -> bool:
        """False where the pairing lists ``envs`` and ``env``'s label is not among them."""
        only = getattr(method, "envs", None)
        return only is None or env.display in only


class GameEstimatorSuite(_GameSuite):
    """Sampled gradients, LOLA-PG cross terms and DiCE Hessians against exact ones."""

    kind: ClassVar[str] = "game-estimators"
    method_key: ClassVar[str] = "estimators"

    experiment: Literal["game-estimators"] = "game-estimators"
    thetas: tuple[PointSpec, ...] = Field(
        default=(PointSpec(),), min_length=1, description="evaluation points x"
    )
    batch_sizes: tuple[PosInt, ...] = Field(min_length=1, description="episodes per estimate")
    repeats: Annotated[int, Strict(), Field(ge=2)] = Field(description="estimates per batch size")
    estimators: tuple[Spec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_estimators(self) -> GameEstimatorSuite:
        for i, e in enumerate(self.envs):
            if game_of(e).horizon is None:
                fail(("envs", i), f"game {e.display!r} needs a horizon (rounds per episode)")
        for k, spec in enumerate(self.estimators):
            try:
                estimator = GAME_ESTIMATORS.get(spec.name)
            except PgbenchError as exc:
                where = (
                    ("estimators", k, "name") if spec.params or spec.label else ("estimators", k)
                )
                fail(where, str(exc))
            try:
                GAME_ESTIMATORS.params(spec.name, **spec.params)
            except PgbenchError as exc:
                where = ("estimators", k, "params")
                fields = list(estimator.params.model_fields)
                unknown = sorted(key for key in spec.params if key not in fields)
                if unknown:  # the unknown key the message names, at the key
                    hint = suggest(unknown[0], fields)
                    hint = hint if hint.startswith("; did you mean") else ""
                    fail((*where, unknown[0]), f"{exc}{hint}", at_key=True)
                given = [key for key in spec.params if key in fields]  # the value at fault
                fail((*where, *given[:1]), str(exc))
        repeat = first_repeat(self.batch_sizes)
        for i, n in enumerate(self.batch_sizes):
            if i == repeat:
                fail(("batch_sizes", i), f"batch size {n} is listed twice")
            if n < 2:
                fail(("batch_sizes", i), "batch sizes must be at least 2")
        check_labels("estimators", "estimator", self.estimators)
        check_labels("thetas", "point", self.thetas)
        return self

    @property
    def points(self) -> tuple[PointSpec, ...]:
        """The evaluation points (a grid axis)."""
        return self.thetas


