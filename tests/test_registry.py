"""The component model: registries of Components, one-line parameter errors, a user's own
env, estimator and algorithm run through make_env / estimate / train / a suite, and every
built-in factory's keyword signature agreeing with its Params model."""

from __future__ import annotations

import inspect
import re
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
from pydantic import Field, ValidationError, model_validator

import pgbench
from pgbench.algorithms.ascent import ReinforceParams, reinforce_ascent
from pgbench.algorithms.base import Algorithm
from pgbench.envs.zoo import make_chain
from pgbench.errors import InvalidSpecError, UnknownNameError
from pgbench.estimators.base import Estimator
from pgbench.estimators.likelihood_ratio import BaselineParams, reward_to_go
from pgbench.experiments import parse_suite
from pgbench.experiments.gradient_quality.run import run_cell
from pgbench.params import HyperParams, NoParams
from pgbench.policies.base import greedy
from pgbench.registry import (
    ALGORITHMS,
    ENVS,
    ESTIMATORS,
    GAME_ESTIMATORS,
    LEARNERS,
    POLICIES,
    Component,
    Registry,
)
from pgbench.run.sweep import expand
from pgbench.suite.errors import SuiteError


class Inner(HyperParams):
    x: int = Field(1, ge=0)


class WidgetParams(HyperParams):
    size: float = 1.0
    inner: Inner = Inner()

    @model_validator(mode="after")
    def _not_huge(self) -> WidgetParams:
        if self.size > 100:
            raise InvalidSpecError(f"a widget of size {self.size} does not fit")
        return self


def widget(size: float = 1.0, inner=None):
    """Make a widget.

    More text."""
    return size


def test_a_component_is_frozen_and_summarised_by_its_docstring():
    c = Component(name="w", fn=widget, params=WidgetParams)
    assert c.summary == "Make a widget." and c.citation == ""
    assert Component(name="w", fn=widget, params=WidgetParams, summary="mine").summary == "mine"
    with pytest.raises(FrozenInstanceError):
        c.name = "v"


def test_duplicates_unknown_names_and_non_components_are_errors():
    reg: Registry = Registry("widget")
    c = reg.add(Component(name="w", fn=widget, params=WidgetParams))
    assert reg.get("w") is c and "w" in reg and list(reg) == reg.names() == ["w"]
    with pytest.raises(ValueError, match="widget 'w' is registered twice"):
        reg.add(Component(name="w", fn=widget, params=NoParams))
    with pytest.raises(ValueError, match="registered twice"):
        ESTIMATORS.add(ESTIMATORS.get("reinforce"))
    with pytest.raises(UnknownNameError, match="unknown widget 'v'; known: w"):
        reg.get("v")
    with pytest.raises(TypeError, match="holds Components"):
        reg.add(widget)
    # the decorator form needs the component's own name
    reg.register("u")(Component(name="u", fn=widget, params=NoParams))
    with pytest.raises(ValueError, match="registered as 't' is named 's'"):
        reg.register("t")(Component(name="s", fn=widget, params=NoParams))


def test_params_are_validated_with_one_line_errors():
    reg: Registry = Registry("widget")
    reg.add(Component(name="w", fn=widget, params=WidgetParams))
    hp = reg.params("w", size=2)
    assert isinstance(hp, WidgetParams) and hp.size == 2.0 and hp.inner.x == 1
    cases = [
        ({"sise": 1.0}, "widget 'w': sise: Extra inputs are not permitted"),
        ({"size": "big"}, "widget 'w': size: Input should be a valid number"),
        ({"inner": {"x": -1}}, "widget 'w': inner.x: Input should be greater than or equal to 0"),
        ({"size": 101}, "a widget of size 101.0 does not fit"),  # the model's own message
    ]
    for values, message in cases:
        with pytest.raises(InvalidSpecError) as info:
            reg.params("w", **values)
        assert str(info.value) == message
    # the component's own kind word without a registry; pydantic's error for the suite
    with pytest.raises(InvalidSpecError, match="^component 'w': sise"):
        reg.get("w").parse({"sise": 1})
    with pytest.raises(ValidationError):
        reg.get("w").validate({"sise": 1})
    assert pgbench.estimator_params("reinforce") == ESTIMATORS.params("reinforce")


def test_every_kind_has_its_registry_and_its_kind_word():
    for registry, kind in [
        (ENVS, "environment"),
        (POLICIES, "policy"),
        (ESTIMATORS, "estimator"),
        (ALGORITHMS, "algorithm"),
        (LEARNERS, "learner"),
        (GAME_ESTIMATORS, "game estimator"),
    ]:
        assert registry.kind == kind and registry.names()
        for name in registry.names():
            c = registry.get(name)
            assert isinstance(c, Component) and c.name == name
            assert issubclass(c.params, HyperParams)
            assert c.summary or not c.fn.__module__.startswith("pgbench.")


def test_game_estimator_params():
    assert GAME_ESTIMATORS.params("dice-hessian", baseline="value").baseline == "value"
    for name, values, message in [
        ("pg-gradient", {"baselin": "time"}, "game estimators take only 'baseline', got 'baselin'"),
        ("pg-gradient", {"baseline": 1}, "baseline must be one of ('none', 'time', 'value')"),
        ("lola-pg-cross-term", {"baseline": "value"}, "lola-pg-cross-term takes baseline 'none'"),
    ]:
        with pytest.raises(InvalidSpecError, match=re.escape(message)):
            GAME_ESTIMATORS.params(name, **values)


@pytest.mark.parametrize("registry", [ENVS, POLICIES], ids=["envs", "policies"])
def test_factory_keywords_and_defaults_agree_with_their_params_model(registry):
    for name in registry.names():
        component = registry.get(name)
        if not component.fn.__module__.startswith("pgbench."):
            continue  # a test's own component
        signature = inspect.signature(component.fn).parameters
        keywords = {k: p.default for k, p in signature.items() if k != "env"}
        fields = component.params.model_fields
        assert list(keywords) == list(fields), name
        for key, field in fields.items():
            assert keywords[key] == field.default, (name, key)


def test_exact_forms_and_restricted_steps_are_declared_not_read_by_name():
    chain = pgbench.make_env("chain", n=3)
    tabular = pgbench.make_policy("tabular-softmax", chain)
    assert tabular.exact_form and not greedy(tabular).exact_form
    cartpole = pgbench.make_env("cartpole-v1")
    assert not pgbench.make_policy("linear-softmax", cartpole).exact_form
    restricted = ESTIMATORS.get("restricted")
    g = np.array([3.0, 4.0])
    step = restricted.from_gradient(g, ESTIMATORS.params("restricted", epsilon=0.5))
    np.testing.assert_allclose(step, g / 5.0)  # sqrt(2 * 0.5 / 25) g
    assert ESTIMATORS.get("reinforce").from_gradient is None


# ---------------------------------------------------------------- a user's own components


class ScaledParams(BaselineParams):
    scale: float = Field(1.0, gt=0, description="factor on the reward-to-go estimate")


def scaled_reward_to_go(sampler, theta, episodes, seed, params: ScaledParams):
    """Reward-to-go, scaled."""
    base = BaselineParams(baseline=params.baseline)
    return params.scale * reward_to_go(sampler, theta, episodes, seed, base)


class ShortChainParams(HyperParams):
    n: int = Field(3, ge=2, le=6)
    horizon: int = Field(5, ge=1)


def short_chain(n: int = 3, horizon: int = 5):
    """A short chain."""
    return make_chain(n=n, horizon=horizon)


USER_ESTIMATOR, USER_ALGORITHM, USER_ENV = "user-scaled-rtg", "user-reinforce", "user-chain"


@pytest.fixture
def user_components(monkeypatch):
    """A user's env, estimator and algorithm, registered with ``Registry.add`` for one test
    (other tests list the registries: the entries are taken out again afterwards)."""
    for registry in (ENVS, ESTIMATORS, ALGORITHMS):
        monkeypatch.setattr(registry, "_items", dict(registry._items))
    ENVS.add(Component(name=USER_ENV, fn=short_chain, params=ShortChainParams))
    ESTIMATORS.add(
        Estimator(name=USER_ESTIMATOR, fn=scaled_reward_to_go, params=ScaledParams, unbiased=True)
    )
    ALGORITHMS.add(Algorithm(name=USER_ALGORITHM, fn=reinforce_ascent, params=ReinforceParams))


@pytest.mark.usefixtures("user_components")
def test_a_users_env_and_estimator_run_through_the_api():
    env = pgbench.make_env(USER_ENV, n=4)
    assert env.n_states == 4 and env.horizon == 5
    with pytest.raises(InvalidSpecError, match="environment 'user-chain': n: Input should be"):
        pgbench.make_env(USER_ENV, n=9)
    with pytest.raises(InvalidSpecError, match="has no parameter 'm'; parameters: n, horizon"):
        pgbench.make_env(USER_ENV, m=4)
    policy = pgbench.make_policy("tabular-softmax", env)
    theta = policy.init(1)
    mine = pgbench.estimate(USER_ESTIMATOR, env, policy, theta, 8, seed=3, scale=2.0)
    theirs = pgbench.estimate("reward-to-go", env, policy, theta, 8, seed=3)
    np.testing.assert_array_equal(mine, 2.0 * theirs)
    with pytest.raises(InvalidSpecError, match="estimator 'user-scaled-rtg': scale: Input"):
        pgbench.estimate(USER_ESTIMATOR, env, policy, theta, 8, seed=3, scale=0)


@pytest.mark.usefixtures("user_components")
def test_a_users_algorithm_trains_like_the_builtin_it_wraps():
    env = pgbench.make_env(USER_ENV)
    policy = pgbench.make_policy("tabular-softmax", env)
    mine, _ = pgbench.train(USER_ALGORITHM, env, policy, env_steps=200, seed=0, episodes=4)
    theirs, _ = pgbench.train("reinforce", env, policy, env_steps=200, seed=0, episodes=4)
    np.testing.assert_array_equal(mine, theirs)


SUITE = """\
name: mine
experiment: gradient-quality
seeds: 1
repeats: 2
batch_sizes: [4]
envs:
  - {name: user-chain, params: {n: 3}}
policies: [tabular-softmax]
estimators:
  - {name: user-scaled-rtg, params: {scale: 2.0}}
"""


@pytest.mark.usefixtures("user_components")
def test_a_users_components_run_in_a_suite():
    suite = parse_suite(SUITE)
    (cell,) = expand(suite)
    out = run_cell(cell)
    assert out.columns["reference"] == "exact" and out.columns["unbiased"] is True
    assert {"mse", "bias_norm"} <= {r.metric for r in out.rows}
    for old, new, message in [
        ("{n: 3}", "{m: 3}", "7:33: environment 'user-chain' has no parameter 'm'; known: "),
        ("{n: 3}", "{n: three}", "parameter 'n': Input should be a valid integer, got 'three'"),
        ("{scale: 2.0}", "{scael: 2.0}", "scael: Extra inputs are not permitted; did you mean"),
    ]:
        with pytest.raises(SuiteError, match=re.escape(message)):
            parse_suite(SUITE.replace(old, new))
