"""The two-agent kinds on iterated games (:mod:`.suite`: their keys; :mod:`.run`: one cell):
``two-agent`` (learners playing each other; figures and table in :mod:`.outputs`) and
``game-estimators`` (sampled derivatives of the game's value against the exact ones;
figure and table in :mod:`.estimator_outputs`)."""

from pgbench.experiments.kind import Kind
from pgbench.experiments.two_agent import estimator_outputs, outputs
from pgbench.experiments.two_agent.run import run_cell, run_estimator_cell
from pgbench.experiments.two_agent.suite import GameEstimatorSuite, TwoAgentSuite

KINDS = (
    Kind(
        name="two-agent",
        suite=TwoAgentSuite,
        run_cell=run_cell,
        summary="learners playing an iterated game: reward against iteration, final policies",
        title="Two-agent learning",
        figures=(outputs.REWARDS_PNG, outputs.POLICIES_PNG),
        tables=(outputs.TWO_AGENT_MD,),
        write_outputs=outputs.write_outputs,
    ),
    Kind(
        name="game-estimators",
        suite=GameEstimatorSuite,
        run_cell=run_estimator_cell,
        summary="sampled first- and second-order game derivatives against the exact ones",
        title="Game estimators",
        figures=(estimator_outputs.ESTIMATORS_PNG,),
        tables=(estimator_outputs.ESTIMATORS_MD,),
        write_outputs=estimator_outputs.write_outputs,
    ),
)
