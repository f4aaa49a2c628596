"""``pgbench list NAME``: one registered component whole (kind, summary, citation, every
parameter with type, default and description); a name two kinds share prints both; an
unknown name is one line, exit 2, naming the close matches."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from pgbench.cli import main
from pgbench.console import parameter_rows, type_text, value_text
from pgbench.registry import ALGORITHMS, ENVS, ESTIMATORS, GAME_ESTIMATORS, LEARNERS, POLICIES

REGISTRIES = (ENVS, POLICIES, ESTIMATORS, ALGORITHMS, LEARNERS, GAME_ESTIMATORS)


def _lines(text: str) -> list[str]:
    """Lines without the table's padding, blanks collapsed: ``"a   b"`` -> ``"a b"``."""
    return [" ".join(line.split()) for line in text.splitlines()]


def test_a_name_in_two_registries_prints_both(capsys):
    assert main(["list", "reinforce"]) == 0
    out = capsys.readouterr().out
    lines = _lines(out)
    assert lines.index("estimator reinforce") < lines.index("algorithm reinforce")
    estimator = lines[: lines.index("algorithm reinforce")]
    assert "unbiased yes" in estimator
    assert "estimand gradient" in estimator
    assert "function pgbench.estimators.likelihood_ratio.reinforce" in estimator
    assert any(
        line.startswith("citation Williams (1992), Machine Learning 8") for line in estimator
    )
    assert "parameters (BaselineParams)" in estimator
    assert any(
        line.startswith("baseline none | constant | time | optimal | value none none | constant")
        for line in estimator
    )
    algorithm = lines[lines.index("algorithm reinforce") :]
    assert "deterministic yes" in algorithm
    for row in (
        "episodes int, >= 1 16 episodes per update",
        "reward_to_go bool true reward-to-go form instead of whole returns",
        "optimizer OptimizerParams ascent step",  # a nested model: its fields follow
        "optimizer.kind sgd | adam | rmsprop adam update rule",
        "optimizer.lr float, > 0 0.01 learning rate (step size)",
        "optimizer.max_grad_norm float | null, > 0 null clip the gradient to this global L2 "
        "norm (None: no clip)",
    ):
        assert row in algorithm, row


def test_an_environment_with_its_citation_and_parameters(capsys):
    assert main(["list", "cartpole-v1"]) == 0
    lines = _lines(capsys.readouterr().out)
    assert lines[0] == "environment cartpole-v1"
    assert "summary balance a pole on a cart: 2 actions, reward 1 per step until it falls" in lines
    assert any(line.startswith("citation Barto, Sutton & Anderson (1983)") for line in lines)
    assert any(
        line.startswith("score range 22.35 to 500 (eval_return): low: uniform random actions")
        for line in lines
    )
    assert any(line.startswith("gamma float 0.99 ") for line in lines)
    assert any(line.startswith("horizon int 500 ") for line in lines)
    assert not any(line.startswith("algorithm") for line in lines)


def test_the_defaults_of_a_nested_model_are_the_parents(capsys):
    """a2c's optimizer defaults to RMSprop with lr 7e-4, not OptimizerParams' own defaults."""
    assert main(["list", "a2c"]) == 0
    lines = _lines(capsys.readouterr().out)
    assert any(line.startswith("optimizer.kind sgd | adam | rmsprop rmsprop ") for line in lines)
    assert any(line.startswith("optimizer.lr float, > 0 0.0007 ") for line in lines)
    assert any(line.startswith("critic.hidden [int, ...] [64, 64] ") for line in lines)
    assert any(line.startswith("gamma float | null, > 0, <= 1 null ") for line in lines)


def test_every_registered_component_prints_every_parameter(capsys):
    for registry in REGISTRIES:
        for name in registry.names():
            assert main(["list", name]) == 0
            lines = _lines(capsys.readouterr().out)
            component = registry.get(name)
            assert f"{registry.kind} {name}" in lines
            for row in parameter_rows(component.params):
                assert any(line.startswith(row[0] + " ") or line == row[0] for line in lines), (
                    name,
                    row[0],
                )


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("reinforc", "; did you mean 'reinforce'?"),
        ("fd-centrl", "; did you mean 'fd-central' or 'fd-ascent'"),
        ("zzzzqq", "; `pgbench list` names every registered one"),
    ],
)
def test_an_unknown_name_is_one_line_exit_2(capsys, name, hint):
    assert main(["list", name]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"pgbench: error: unknown component {name!r}{hint}")


def test_the_help_names_the_argument(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["list", "--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "NAME" in out and "every parameter" in out


def test_types_and_values_in_a_suites_words():
    from typing import Annotated, Literal

    from annotated_types import Gt

    assert type_text(Literal["none", "time"]) == "none | time"
    assert type_text(int | None) == "int | null"
    assert type_text(Annotated[int, Gt(0)] | None) == "int > 0 | null"
    assert type_text(tuple[int, ...]) == "[int, ...]"
    assert type_text(dict[str, float]) == "{str: float}"
    assert value_text(None) == "null"
    assert value_text(True) == "true"
    assert value_text((64, 64)) == "[64, 64]"
    assert value_text({"kind": "adam", "lr": 0.01}) == "{kind: adam, lr: 0.01}"
    assert value_text("") == '""'


PLUGIN = textwrap.dedent(
    '''
    """A user's component with a required parameter and markup-like text (test fixture)."""
    from pydantic import Field

    from pgbench.estimators.base import Estimator
    from pgbench.params import HyperParams
    from pgbench.registry import ESTIMATORS


    class Params(HyperParams):
        scale: float = Field(gt=0, description="[bold]not markup[/bold] factor")
        mode: str = Field("plain", description="how")


    def scaled(sampler, theta, episodes, seed, params):
        """Scaled REINFORCE [x]: the user's own."""
        sums = sampler.episode_sums(theta, episodes, seed)
        return params.scale * (sums.returns @ sums.score_sums) / episodes


    ESTIMATORS.add(
        Estimator(name="user-scaled", fn=scaled, params=Params,
                  unbiased=lambda p: p.scale == 1.0, citation="the user (2025)")
    )
    '''
)


def test_a_plugin_component_as_a_user_sees_it(tmp_path):
    (tmp_path / "user_components.py").write_text(PLUGIN)
    env = {**os.environ, "PGBENCH_PLUGINS": "user_components"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run(
        [sys.executable, "-m", "pgbench.cli", "list", "user-scaled"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = _lines(proc.stdout)
    assert lines[0] == "estimator user-scaled"
    assert "summary Scaled REINFORCE [x]: the user's own." in lines
    assert "citation the user (2025)" in lines
    assert "unbiased depends on the parameters" in lines
    assert "function user_components.scaled" in lines
    assert "scale float, > 0 (required) [bold]not markup[/bold] factor" in lines
    assert "mode str plain how" in lines
