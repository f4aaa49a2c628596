"""Gymnasium environments as they are: ``make_env("gymnasium", id=...)`` and
:func:`from_gymnasium` for a user's own ``gymnasium.Env``.

A Gymnasium env is stepped from Python (:mod:`.external`): L copies in a
Gymnasium vector env with its autoreset disabled
(``gymnasium.vector.AutoresetMode.DISABLED``), so that pgbench resets each copy
itself, episode ``e`` with the seed keyed by (call seed, e)
(:mod:`pgbench.kernels.keyed`): the same suite gives the same table with any
number of lanes, executor or thread count. ``vectorization``: ``sync``
(:class:`gymnasium.vector.SyncVectorEnv`, the default) or ``async``
(:class:`gymnasium.vector.AsyncVectorEnv`, one process per copy, for slow
envs). An env's own vector entry point (``gymnasium.make_vec(...,
"vector_entry_point")``) is not used: those autoreset on the next step from one
shared generator, so an episode's start would depend on the lane it ran in.

Spaces: observations ``Box`` (any shape, flattened to float64) or ``Discrete``
(the state index, for tabular policies); actions ``Discrete`` (int64) or
``Box`` of any shape (flattened to K float64 components). Box actions are
clipped to the space's bounds before ``step`` (as Stable-Baselines3 and
CleanRL's ``ClipAction`` do for Gaussian policies); the sampled, unclipped
action is what the policy's score and the tables see. Discrete actions are
never changed. ``terminated`` and ``truncated`` stay distinct (a truncated
step bootstraps in the actor-critic family; a terminal one does not).
``gamma`` is not part of a Gymnasium env: it is the suite's (0.99 by default).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from pgbench.envs.base import Env
from pgbench.envs.checks import Gamma, at_least
from pgbench.envs.external import DEFAULT_MAX_LANES, external_env
from pgbench.errors import InvalidSpecError, PgbenchError
from pgbench.params import HyperParams
from pgbench.registry import ENVS, Component

VECTORIZATIONS = ("sync", "async")


def _gymnasium():
    try:
        import gymnasium  # a core dependency; imported here to keep `import pgbench` fast
    except ImportError as exc:  # pragma: no cover - installed with pgbench
        raise PgbenchError(f"gymnasium is not installed ({exc}); pip install gymnasium") from None
    return gymnasium


def _describe_space(space) -> str:
    return f"{type(space).__name__}{getattr(space, 'shape', '')}"


def _check_spaces(env, what: str):
    """(obs_dim, n_states, n_actions, action_dim, low, high) of a probe env, or a one-line
    error naming the space pgbench cannot handle."""
    gym = _gymnasium()
    Box, Discrete = gym.spaces.Box, gym.spaces.Discrete
    obs_space = getattr(env, "observation_space", None)
    act_space = getattr(env, "action_space", None)
    if obs_space is None or act_space is None:
        raise InvalidSpecError(
            f"{what} has no observation_space / action_space: not a gymnasium.Env"
        )
    if isinstance(obs_space, Box):
        obs_dim, n_states = int(np.prod(obs_space.shape, dtype=np.int64)), None
    elif isinstance(obs_space, Discrete):
        obs_dim, n_states = 1, int(obs_space.n)
        if int(obs_space.start) != 0:
            raise InvalidSpecError(f"{what}: a Discrete observation space must start at 0")
    else:
        raise InvalidSpecError(
            f"{what}: observation space {_describe_space(obs_space)} is not supported "
            "(Box or Discrete)"
        )
    if isinstance(act_space, Discrete):
        if int(act_space.start) != 0:
            raise InvalidSpecError(f"{what}: a Discrete action space must start at 0")
        return obs_dim, n_states, int(act_space.n), 0, -np.inf, np.inf
    if isinstance(act_space, Box):
        K = int(np.prod(act_space.shape, dtype=np.int64))
        low = np.asarray(act_space.low, dtype=np.float64).reshape(-1)
        high = np.asarray(act_space.high, dtype=np.float64).reshape(-1)
        return obs_dim, n_states, 0, K, low, high
    raise InvalidSpecError(
        f"{what}: action space {_describe_space(act_space)} is not supported (Box or Discrete)"
    )


class GymnasiumLanes:
    """L copies of one Gymnasium env in a vector env with autoreset disabled
    (:class:`~pgbench.envs.external.VectorLanes`)."""

    def __init__(self, factory: Callable[[], Any], n_lanes: int, vectorization: str):
        gym = _gymnasium()
        disabled = gym.vector.AutoresetMode.DISABLED
        fns = [factory] * n_lanes
        if vectorization == "async":
            self.vec = gym.vector.AsyncVectorEnv(fns, autoreset_mode=disabled)
        else:
            self.vec = gym.vector.SyncVectorEnv(fns, autoreset_mode=disabled)
        self.n_lanes = n_lanes
        space = self.vec.single_action_space
        self._act_shape = (n_lanes, *space.shape)
        self._act_dtype = space.dtype

    def reset(self, lanes: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        L = self.n_lanes
        seed_list: list = [None] * L
        for j, s in zip(lanes.tolist(), seeds.tolist(), strict=True):
            seed_list[j] = int(s)
        if len(lanes) == L:
            obs, _ = self.vec.reset(seed=seed_list)
        else:
            mask = np.zeros(L, dtype=bool)
            mask[lanes] = True
            obs, _ = self.vec.reset(seed=seed_list, options={"reset_mask": mask})
        return np.asarray(obs, dtype=np.float64).reshape(L, -1)[lanes]

    def step(self, actions: np.ndarray):
        a = np.asarray(actions).reshape(self._act_shape).astype(self._act_dtype, copy=False)
        obs, rewards, terminated, truncated, _ = self.vec.step(a)
        return obs, rewards, terminated, truncated

    def close(self) -> None:
        self.vec.close()


def from_gymnasium(
    factory: Callable[[], Any],
    *,
    name: str | None = None,
    gamma: float = 0.99,
    horizon: int | None = None,
    vectorization: str = "sync",
    max_lanes: int = DEFAULT_MAX_LANES,
    spec: dict | None = None,
) -> Env:
    """A pgbench :class:`Env` of a user's ``gymnasium.Env``.

    Args:
        factory: a callable returning a fresh ``gymnasium.Env`` (called once to read the
            spaces, then once per copy).
        name: the env's name in tables (default: the env's spec id or class name).
        gamma: discount of the objective.
        horizon: most actions per episode (default: the env's ``spec.max_episode_steps``;
            required where it has none).
        vectorization: ``sync`` or ``async`` (module docstring).
        max_lanes: most copies stepped together by one batch of episodes.
        spec: the user-facing parameters, for tables.
    """
    if not callable(factory):
        raise InvalidSpecError(
            f"from_gymnasium needs a callable returning a gymnasium.Env, got "
            f"{type(factory).__name__}"
        )
    if vectorization not in VECTORIZATIONS:
        raise InvalidSpecError(
            f"vectorization must be one of {VECTORIZATIONS}, got {vectorization!r}"
        )
    try:
        probe = factory()
    except PgbenchError:
        raise
    except Exception as exc:
        raise InvalidSpecError(
            f"the environment factory raised {type(exc).__name__}: {exc}".splitlines()[0]
        ) from None
    gym = _gymnasium()
    if not isinstance(probe, gym.Env):
        raise InvalidSpecError(
            f"the environment factory returned {type(probe).__name__}, not a gymnasium.Env"
        )
    try:
        label = name or _default_name(probe)
        obs_dim, n_states, n_actions, K, low, high = _check_spaces(probe, label)
        if horizon is None:
            horizon = getattr(getattr(probe, "spec", None), "max_episode_steps", None)
            if horizon is None:
                raise InvalidSpecError(
                    f"{label} has no max_episode_steps: give a horizon (most actions per episode)"
                )
    finally:
        probe.close()

    def make_lanes(n_lanes: int) -> GymnasiumLanes:
        return GymnasiumLanes(factory, n_lanes, vectorization)

    return external_env(
        label,
        make_lanes,
        obs_dim=obs_dim,
        n_actions=n_actions,
        action_dim=K,
        action_low=low,
        action_high=high,
        horizon=int(horizon),
        gamma=gamma,
        spec={"gamma": float(gamma), "horizon": int(horizon), **(spec or {})},
        n_states=n_states,
        clip_actions=K > 0,
        max_lanes=max_lanes,
    )


def _default_name(env) -> str:
    env_spec = getattr(env, "spec", None)
    if env_spec is not None and getattr(env_spec, "id", None):
        return str(env_spec.id)
    return type(getattr(env, "unwrapped", env)).__name__


# --------------------------------------------------------------------------- the registry entry


def _load_entry_point(entry_point: str):
    module, _, attr = entry_point.partition(":")
    if not module or not attr:
        raise InvalidSpecError(
            f"entry_point must look like 'package.module:Class', got {entry_point!r}"
        )
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise InvalidSpecError(f"cannot load entry_point {entry_point!r}: {exc}") from None
    return obj


class GymnasiumParams(HyperParams):
    """Parameters of ``gymnasium`` (see :func:`make_gymnasium`)."""

    id: str | None = Field(None, description="a registered Gymnasium id, e.g. Acrobot-v1")
    entry_point: str | None = Field(
        None, description="'package.module:Class' of a gymnasium.Env (instead of id)"
    )
    kwargs: dict[str, Any] | None = Field(
        None, description="keyword arguments of gymnasium.make or the class"
    )
    gamma: Gamma = Field(0.99, description="discount in (0, 1] (not part of a Gymnasium env)")
    horizon: Annotated[int, at_least("gymnasium horizon", 1)] | None = Field(
        None, description="most actions per episode (default: the id's max_episode_steps)"
    )
    vectorization: Literal["sync", "async"] = Field(
        "sync", description="SyncVectorEnv, or AsyncVectorEnv (a process per copy)"
    )
    max_lanes: Annotated[int, at_least("gymnasium max_lanes", 1)] = Field(
        DEFAULT_MAX_LANES, description="most copies stepped together by a batch of episodes"
    )

    @model_validator(mode="after")
    def _one_source(self) -> GymnasiumParams:
        if (self.id is None) == (self.entry_point is None):
            raise InvalidSpecError("gymnasium needs exactly one of 'id' and 'entry_point'")
        return self


def make_gymnasium(
    id: str | None = None,
    entry_point: str | None = None,
    kwargs: dict | None = None,
    gamma: float = 0.99,
    horizon: int | None = None,
    vectorization: str = "sync",
    max_lanes: int = DEFAULT_MAX_LANES,
) -> Env:
    """A Gymnasium env by registered ``id`` (``gymnasium.make(id, **kwargs)``) or by the
    ``entry_point`` of a user's ``gymnasium.Env`` class (``Class(**kwargs)``)."""
    kwargs = dict(kwargs or {})
    gym = _gymnasium()
    if id is not None:
        if id not in gym.registry:
            raise InvalidSpecError(f"gymnasium has no environment {id!r}" + _id_hint(id))
        if horizon is not None:
            kwargs.setdefault("max_episode_steps", int(horizon))

        def factory():
            return gym.make(id, **kwargs)

        source = {"id": id}
    else:
        cls = _load_entry_point(entry_point)

        def factory():
            return cls(**kwargs)

        source = {"entry_point": entry_point}
    shown = {k: v for k, v in kwargs.items() if k != "max_episode_steps"}
    return from_gymnasium(
        factory,
        name=id or entry_point.rpartition(":")[2],
        gamma=gamma,
        horizon=horizon,
        vectorization=vectorization,
        max_lanes=max_lanes,
        spec={**source, **({"kwargs": shown} if shown else {})},
    )


def _id_hint(id: str) -> str:
    import difflib

    close = difflib.get_close_matches(id, list(_gymnasium().registry), n=3)
    return f"; did you mean {', '.join(map(repr, close))}?" if close else ""


def gymnasium_spelling(name: str) -> str | None:
    """The error suffix for an env name that is a Gymnasium id (``CartPole-v1``): the
    native core of that env where pgbench has one, and the ``gymnasium`` form."""
    if not isinstance(name, str) or "-v" not in name:
        return None
    try:
        known = name in _gymnasium().registry
    except PgbenchError:
        return None
    if not known:
        return None
    native = name.lower()
    gym_form = f"{{name: gymnasium, params: {{id: {name}}}}}"
    if native in ENVS:
        return f"; pgbench's native core of it is {native!r}, and {gym_form} runs Gymnasium's own"
    return f"; it is a Gymnasium id: use {gym_form}"


ENVS.add_hint(gymnasium_spelling)
ENVS.add(
    Component(
        name="gymnasium",
        fn=make_gymnasium,
        params=GymnasiumParams,
        citation="Towers et al. (2024), Gymnasium, arXiv:2407.17032",
        summary="any Gymnasium env, by id or entry_point, stepped through its vector API",
    )
)
