"""The keys every experiment kind shares (:class:`Suite`), and the grid checks they need."""

from __future__ import annotations

import math
import typing
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    Strict,
    field_validator,
    model_validator,
)

from pgbench.errors import PgbenchError
from pgbench.registry import POLICIES
from pgbench.sampling import check_backend
from pgbench.suite.compare_block import CompareSpec
from pgbench.suite.errors import Loc, fail, one_line
from pgbench.suite.specs import (
    EnvSpec,
    PolicySpec,
    Spec,
    build_env,
    check_factory_params,
    check_labels,
)
from pgbench.suite.types import MAX_CELLS, MAX_NAME, Name, NonNegInt


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


class Suite(BaseModel):
    """Keys shared by every experiment kind (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ClassVar[str] = ""
    method_key: ClassVar[str] = ""  # the key listing the compared methods (a grid axis)
    _built: list | None = PrivateAttr(default=None)  # see built_pairs

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
            fail(("seeds", i), f"seed {value[i]} is listed twice")
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
            fail(
                (key,) if key in self.model_fields_set else (),
                "the grid has "
                + " x ".join(f"{n:,} {k}" for k, n in axes)
                + f" = {cells:,} cells (bound: {MAX_CELLS:,})",
            )
        return self

    @model_validator(mode="after")
    def _check_common(self) -> Suite:
        try:
            check_backend(self.backend)
        except PgbenchError as exc:
            fail(("backend",), str(exc))
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
    def points(self) -> tuple[Any, ...]:
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
        the policy, in (env, policy) order. Raises the first problem as a validation error.

        Built once per suite (validation, budget warnings and the sweep all ask for them);
        the list is kept out of pickles and copies of the suite."""
        if self._built is None:
            self._built = self._build_pairs()
        return self._built

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        private = dict(state.get("__pydantic_private__") or {})
        private["_built"] = None
        return {**state, "__pydantic_private__": private}

    def __eq__(self, other: object) -> bool:  # by content, whether or not pairs are built
        if not isinstance(other, Suite):
            return NotImplemented
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def _build_pairs(self) -> list[tuple[int, Any, int, Any]]:
        check_labels("envs", "environment", self.envs)
        check_labels("policies", "policy", self.policies)
        envs = [build_env(i, spec) for i, spec in enumerate(self.envs)]
        built: list[tuple[int, Any, int, Any]] = []
        for j, spec in enumerate(self.policies):
            try:
                component = POLICIES.get(spec.name)
            except PgbenchError as exc:
                fail(("policies", j, "name"), str(exc))
            check_factory_params(component, spec.params, "policy", ("policies", j, "params"))
            first_error, before = None, len(built)
            for i, env in enumerate(envs):
                try:
                    built.append((i, env, j, spec.build(env)))
                except (PgbenchError, ValueError, TypeError) as exc:
                    first_error = first_error or one_line(exc)
            if len(built) == before:
                where = ("policies", j, "params") if spec.params else ("policies", j)
                fail(where, f"policy {spec.display!r} fits none of the envs: {first_error}")
        accepted = {i for i, _, _, _ in built}
        for i, spec in enumerate(self.envs):
            if i not in accepted:
                fail(("envs", i), f"no policy in the suite accepts environment {spec.display!r}")
        return sorted(built, key=lambda pair: (pair[0], pair[2]))
