"""``pgbench compare BASE NEW``: the regression check of a run against a baseline run.

Pairing. By default (``--pair-by config``) rows are paired by *configuration*,
never by cell hash (the hash names the pgbench version): the key is (experiment,
env, env_params, policy, policy_params, theta_params, method, method_params,
x_name, x, metric), and the seeds are the replicates. Where one configuration
appears under several labels in a run (e.g. the same estimator listed twice with
different ``min_batch``), the labels (env, policy, theta, method) join the key
for that configuration. ``--pair-by label`` keys rows by their labels instead:
(experiment, env_label, policy_label, theta, method_label, x_name, x, metric),
so a method whose hyperparameters changed under the same label ("ppo" with lr
1e-4 in BASE, 1e-3 in NEW) is compared rather than reported missing and new;
each row names the parameter columns that differ (``params_changed``, NEW's
parameters shown). Labels are unique per suite axis, so they identify a row.

What is compared, per (key, x, metric):

* ``x_name`` batch_size (gradient-quality, game-estimators): every batch size;
* ``x_name`` env_steps (learning-curve) or iteration (two-agent): the last point
  of each seed (its largest x), reported as x = ``final``.

Statistics over seeds (NaN and infinite values left out; n counts the rest):
means m_b (BASE) and m_n (NEW); the relative change c = (m_n - m_b) / |m_b|
with a (1 - alpha) percentile bootstrap interval (2000 resamples, one explicit
Generator). Two designs:

* independent (default): the seeds of the two sides are independent samples;
  the bootstrap resamples each side on its own; the tests are Welch's t-test
  and the Mann-Whitney U test, two-sided (scipy.stats).
* paired (``--paired``), for two runs made side by side on one machine (e.g. the
  ``seconds`` of base and new code run alternately seed by seed): the values of
  one key are paired by seed; seeds present on one side only, and pairs with a
  non-finite value, are left out and counted in a warning; n (both n_base and
  n_new) is the number of pairs, the bootstrap resamples pairs, and the one test
  is the Wilcoxon signed-rank test (Wilcoxon 1945; scipy.stats.wilcoxon,
  two-sided) of the differences d = new - base. Zero differences are dropped
  (Wilcoxon's own treatment, ``zero_method="wilcox"``: a seed whose value did not
  move is evidence of neither direction); if every difference is 0, p = 1.

Power (Colas, Sigaud and Oudeyer 2018, "How many random seeds? Statistical
power analysis in deep reinforcement learning experiments", arXiv:1806.08295).
The minimum detectable change (MDC) of a row is the smallest |m_n - m_b| the
t-test would detect at two-sided alpha with power 0.8, from the observed spread:

* independent: (t[1 - alpha/2, v] + t[0.8, v]) * sqrt(s_b^2 / n_b + s_n^2 / n_n),
  s the seeds' standard deviations, v the Welch-Satterthwaite degrees of freedom;
* paired: (t[1 - alpha/2, n - 1] + t[0.8, n - 1]) * s_d / sqrt(n), s_d the
  standard deviation of the n differences;

reported as ``mdc`` = MDC / |m_b|, in the units of ``change`` (shown as +-12%).
It is the t-test's, a guide that is optimistic for the exact rank tests with few
seeds: in a simulation with normal noise (20000 draws), a true change of one MDC
was caught by Welch and Mann-Whitney together 61% of the time with 4 seeds per
side, 67% with 5, 74% with 10 and 76% with 20 (Welch alone 75% to 80%); by the
signed-rank test 62% of the time with 6 pairs, 77% with 10 or 30.

A row with values on both sides is *underpowered* iff it could not detect a
change of the threshold size: mdc > T - 1 (T below), or a side has fewer than 2
values (no spread, no MDC), or the rank test cannot reach alpha with these n:
Mann-Whitney's smallest p is 2 / C(n_b + n_n, n_b) (2 vs 2 seeds 0.33, 3 vs 3
0.1, 4 vs 4 0.029), the signed-rank test's 2 / 2^n for n pairs (5 pairs 0.0625,
6 pairs 0.031); a paired row also is where it got worse by more than T - 1 and
its non-zero differences are too few for the test to reach alpha. A paired row
with no common seed is ``no-data`` and underpowered. For an underpowered row,
``seeds_suggested`` is the smallest n per side (pairs, when paired) whose MDC
with the observed spreads is at most (T - 1) * |m_b| and with which the rank test
can reach alpha; null where no n would do (a base mean of 0, or T = 1, with
spread). With the independent design a row that is worse by more than T - 1
with Welch's p >= alpha is always underpowered (its MDC exceeds the change).

Verdict. Each metric has a direction (:data:`pgbench.metrics.DIRECTIONS`); s = +1 where lower
is better, -1 where higher is better, and w = s * c is how much worse NEW is, as
a fraction of |m_b| (for returns, which may be negative, "25% worse" is a drop
of a quarter of the baseline's magnitude). A comparison is a

* ``regression`` (fails) iff w > T - 1 and the design's test is significant:
  independent, p_welch < alpha AND p_mw < alpha; paired, p_wilcoxon < alpha.
  T is the metric's threshold factor (1.25: 25% worse). Independent: both tests
  must agree, so a change carried by one or a few seeds (Welch alone) or a
  shift of ranks the means hardly show (Mann-Whitney alone) is not failed;
* ``underpowered`` (warns) iff w > T - 1, not significant, and the row is
  underpowered;
* ``worse`` iff w > T - 1, not significant, and the row could have detected it
  (passes; with the independent design: Welch fires, Mann-Whitney does not);
* ``improved`` / ``changed`` iff significant with w < 0 / within the threshold;
* ``ok`` otherwise;
* ``missing`` (fails) iff BASE has values and NEW has none (a method, batch
  size or metric that disappeared, or became NaN everywhere): in CI a missing
  method is a regression. ``--allow-missing`` turns these into warnings;
* ``new`` (NEW only) and ``no-data`` (no finite value on either side) pass.

A base mean of exactly 0 makes any worsening infinite: there significance decides.

``--strict`` fails every underpowered row as well, whatever its status (a check
that could not have seen a regression of the threshold size does not pass);
without it they are warnings. Missing rows fail in both modes.

Aggregate verdict (``--aggregate``, or ``aggregate:`` in the ``compare:`` block; off by
default), beside the per-row checks, for learning-curve rows only. Scores are normalized
per task, (final score - low) / (high - low), with BASE's reference ranges (the
``score_ranges`` of BASE's recorded settings, completed from its stored suite text for
runs that predate them: :func:`pgbench.experiments.recorded.recorded_settings`); where NEW
records other ranges for a task, a warning says so and BASE's are used. The tasks are
those :func:`pgbench.experiments.across_tasks.final_scores` chooses in BASE (two or more
envs with a range that the most algorithms share); an *algorithm* is a registry name
across those tasks (``reinforce`` of ``reinforce-linear`` on CartPole and
``reinforce-tabular`` on a garnet), or what each side's suite names in ``aggregate_as``
(as its recorded settings say). An algorithm of BASE is compared where NEW has it on
every one of BASE's tasks (NEW's rows of it scored with BASE's ranges, on BASE's tasks
only); one on a single side, or on too few tasks, is listed, not compared (the per-row
check reports a method NEW lost as missing). Per algorithm, with M the metric (default
the IQM of the runs x tasks scores pooled; also mean, median, optimality_gap), the
difference d = M(NEW) - M(BASE) with a (1 - alpha) percentile interval [lo, hi] from the
stratified bootstrap (each side's runs resampled within each task, each side on its own,
2000 replicates: :func:`pgbench.stats.aggregate_difference`). w = -d (w = d for the
optimality gap, where lower is better) is how much worse NEW is, in normalized-score
units, and [w_lo, w_hi] its interval. The status is

* ``regression`` (fails, exit 1) iff w > A and w_lo > 0 (the interval of d excludes 0
  on the worse side: hi < 0 where higher is better), A the aggregate threshold
  (``--aggregate-threshold``, default 0.05: 5 % of the reference ranges);
* ``worse`` (passes) iff w > A and the interval includes 0;
* ``changed`` iff w_lo > 0 and w <= A; ``improved`` iff w_hi < 0; ``ok`` otherwise;
* ``underpowered`` (warns; fails with ``--strict``) where a side has one run per task
  (no interval).

Where no aggregate can be formed (BASE has no learning-curve rows, records no score
ranges, or fewer than 2 tasks with a range share an algorithm), a warning line says why
and the per-row verdict stands alone, also when ``--aggregate`` was given: the aggregate
is a check beside the rows, and its absence is not bad input. ``--paired`` does not
apply to it (the runs of the two sides are resampled independently).

Settings: the threshold factor, per-metric factors, alpha, the metrics, ``strict``,
``pair_by`` and ``aggregate`` (``{threshold, metric}``, or ``true``) come from the
``compare:`` block of NEW's suite
(:class:`pgbench.suite.compare_block.CompareSpec`), which the runner validates and
records in NEW's ``metadata.json`` as ``settings.compare`` (null: the suite has none;
the YAML is not read again), overridden by ``--threshold``, ``--alpha``, ``--metrics``
and ``--pair-by`` (``--strict`` turns strict on; ``--aggregate`` / ``--no-aggregate``
turn the aggregate on or off, ``--aggregate-threshold`` and ``--aggregate-metric`` set it
and turn it on). A run directory whose metadata
predates recorded settings (no ``settings`` key) is compared with the defaults, and a
warning says so (re-run its suite to record them); a Parquet file as NEW has no
settings. The default metrics
(:data:`pgbench.metrics.DEFAULT_COMPARED`) leave out ``seconds`` (machine dependent)
and the sampled two-agent rewards (one batch).

Output: a table on stdout (rows with status ok are hidden when there are many;
``--all`` shows them), then, with the aggregate, its section (one row per algorithm:
tasks, runs per task of BASE / NEW, base and new M, the difference and its interval,
the status; the algorithms left out), warnings on stderr, and a JSON verdict (default
``NEW/compare.json``), written before anything is printed; with the aggregate it holds
an ``aggregate`` object (:meth:`AggregateCheck.as_json`: settings, tasks, ranges, rows,
left out, its own pass / fail), without it the verdict is as before. Exit code 0 pass,
1 regression (a row's or the aggregate's), missing or (``--strict``) underpowered, 2 bad
input, including a verdict file that cannot be written.

Modules: :mod:`~pgbench.compare.pairing` (key columns, replicates, pairs of seeds),
:mod:`~pgbench.compare.settings` (:class:`Settings` from the recorded block and the
flags), :mod:`~pgbench.compare.rows` (the statistics and status of one row, from
:mod:`pgbench.stats`), :mod:`~pgbench.compare.verdict` (:func:`compare`,
:class:`Comparison`, the JSON verdict and the warnings), :mod:`~pgbench.compare.render`
(the table and summary; :mod:`~pgbench.compare.text` how values read),
:mod:`~pgbench.compare.aggregate` (the aggregate verdict: :func:`aggregate_check`),
:mod:`~pgbench.compare.cli` (the subcommand); :class:`CompareError` in
:mod:`~pgbench.compare.errors`.
"""

from __future__ import annotations

from pgbench.compare.aggregate import (
    AGGREGATE_RULE,
    AggregateCheck,
    AggregateRow,
    aggregate_check,
    aggregate_status,
    run_settings,
)
from pgbench.compare.cli import (
    JSON_NAME,
    add_parser,
    default_json_path,
    load_side,
    run,
    write_verdict,
)
from pgbench.compare.errors import CompareError
from pgbench.compare.pairing import (
    CONFIG,
    FINAL,
    FINAL_X,
    KEY,
    LABEL_KEY,
    LABELS,
    PAIR_BY,
    PARAMS,
    key_columns,
    replicates,
)
from pgbench.compare.render import (
    SHOW_ALL_UP_TO,
    aggregate_lines,
    aggregate_table,
    failure_lines,
    report,
    summary_line,
    table,
)
from pgbench.compare.rows import compare_pairs, compare_samples
from pgbench.compare.settings import (
    DEFAULT_METRICS,
    PAIRED_RULE,
    RULE,
    STRICT_RULE,
    Settings,
    recorded_spec,
    resolve_aggregate,
    resolve_settings,
)
from pgbench.compare.verdict import FAILING, STATUS_ORDER, Comparison, compare

__all__ = [
    "AGGREGATE_RULE",
    "CONFIG",
    "DEFAULT_METRICS",
    "FAILING",
    "FINAL",
    "FINAL_X",
    "JSON_NAME",
    "KEY",
    "LABELS",
    "LABEL_KEY",
    "PAIRED_RULE",
    "PAIR_BY",
    "PARAMS",
    "RULE",
    "SHOW_ALL_UP_TO",
    "STATUS_ORDER",
    "STRICT_RULE",
    "AggregateCheck",
    "AggregateRow",
    "CompareError",
    "Comparison",
    "Settings",
    "add_parser",
    "aggregate_check",
    "aggregate_lines",
    "aggregate_status",
    "aggregate_table",
    "compare",
    "compare_pairs",
    "compare_samples",
    "default_json_path",
    "failure_lines",
    "key_columns",
    "load_side",
    "recorded_spec",
    "replicates",
    "report",
    "resolve_aggregate",
    "resolve_settings",
    "run",
    "run_settings",
    "summary_line",
    "table",
    "write_verdict",
]
