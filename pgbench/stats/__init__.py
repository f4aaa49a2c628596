"""Statistics: pure functions of arrays, each random draw from an explicit
:class:`numpy.random.Generator`. A leaf: it imports numpy, scipy, the standard library and
:mod:`pgbench.errors` only.

* :mod:`pgbench.stats.replicates`: one cell's replicate seeds: bootstrap intervals, rank
  and t-tests, power (every name that ``pgbench.stats`` held before it became a package);
* across tasks, as rliable (Agarwal et al. 2021, "Deep RL at the edge of the statistical
  precipice", NeurIPS), on (runs, tasks) score matrices: :mod:`~pgbench.stats.scores`
  (:func:`normalized_scores`, the checks), :mod:`~pgbench.stats.task_metrics` (mean,
  median, IQM, optimality gap), :mod:`~pgbench.stats.stratified` (the stratified
  bootstrap: runs resampled within each task), :mod:`~pgbench.stats.aggregation`
  (:func:`aggregate`; :func:`aggregate_difference`, base and new runs on the same
  tasks), :mod:`~pgbench.stats.profiles` (:func:`performance_profile`),
  :mod:`~pgbench.stats.improvement` (:func:`probability_of_improvement`,
  :func:`improvement_matrix`).
"""

from pgbench.stats.aggregation import (
    Estimate,
    aggregate,
    aggregate_difference,
    interval_estimates,
)
from pgbench.stats.improvement import (
    Improvement,
    improvement_matrix,
    probability_of_improvement,
)
from pgbench.stats.profiles import (
    Profile,
    fraction_of_runs_above,
    fraction_of_tasks_above,
    performance_profile,
)
from pgbench.stats.replicates import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_LEVEL,
    MAX_SEEDS,
    POWER,
    bootstrap_ci,
    group_rng,
    iqm,
    mannwhitney_p,
    min_detectable_change,
    min_detectable_change_paired,
    min_mannwhitney_p,
    min_wilcoxon_p,
    pairs_needed,
    relative_change,
    relative_change_ci,
    seeds_needed,
    suggest_seeds,
    welch_p,
    wilcoxon_p,
)
from pgbench.stats.scores import ScoresError, normalized_scores
from pgbench.stats.task_metrics import (
    aggregate_iqm,
    aggregate_mean,
    aggregate_median,
    aggregate_optimality_gap,
)

__all__ = [
    "Estimate",
    "Improvement",
    "Profile",
    "ScoresError",
    "aggregate",
    "aggregate_difference",
    "aggregate_iqm",
    "aggregate_mean",
    "aggregate_median",
    "aggregate_optimality_gap",
    "fraction_of_runs_above",
    "fraction_of_tasks_above",
    "improvement_matrix",
    "interval_estimates",
    "normalized_scores",
    "performance_profile",
    "probability_of_improvement",
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_LEVEL",
    "MAX_SEEDS",
    "POWER",
    "bootstrap_ci",
    "group_rng",
    "iqm",
    "mannwhitney_p",
    "min_detectable_change",
    "min_detectable_change_paired",
    "min_mannwhitney_p",
    "min_wilcoxon_p",
    "pairs_needed",
    "relative_change",
    "relative_change_ci",
    "seeds_needed",
    "suggest_seeds",
    "welch_p",
    "wilcoxon_p",
]
