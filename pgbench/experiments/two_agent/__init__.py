"""The two-agent kinds on iterated games (:mod:`.suite`: their keys; :mod:`.run`: one cell):
``two-agent`` (learners playing each other) and ``game-estimators`` (sampled derivatives
of the game's value against the exact ones)."""

from pgbench.experiments.kind import Kind
from pgbench.experiments.two_agent.run import run_cell, run_estimator_cell
from pgbench.experiments.two_agent.suite import GameEstimatorSuite, TwoAgentSuite

KINDS = (
    Kind(
        name="two-agent",
        suite=TwoAgentSuite,
        run_cell=run_cell,
        summary="learners playing an iterated game: reward against iteration, final policies",
    ),
    Kind(
        name="game-estimators",
        suite=GameEstimatorSuite,
        run_cell=run_estimator_cell,
        summary="sampled first- and second-order game derivatives against the exact ones",
    ),
)
