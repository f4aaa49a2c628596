"""Suites: what to run, read from YAML into frozen pydantic models with file:line:col errors.

A suite is one YAML mapping. Every experiment kind shares the *common* keys and
adds its own; each kind (:data:`pgbench.experiments.KINDS`) has its model:

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
                                  # also strict: true (fail underpowered rows),
                                  # pair_by: label (pair rows by labels, not params) and
                                  # aggregate: {threshold: 0.05, metric: iqm} (learning
                                  # curves: a verdict across tasks, normalized scores)

Labels name a spec in tables and plots; they default to the name, followed by
the params when there are any (``reinforce(baseline=optimal)``), and must be
unique within envs, policies, thetas and estimators. Every name is checked
against its registry (with a close-match suggestion), every env is constructed,
every policy is constructed for every env (a policy an env rejects is skipped
for that env; a policy no env accepts, or an env no policy accepts, is an
error), and estimator params (also those of a path) are validated with
:func:`pgbench.estimator_params`.

Parameters are strictly typed: every component's parameters (env, policy, estimator,
algorithm, learner, game estimator; nested ones too) are validated by its Params model, a
:class:`pgbench.params.HyperParams` (no strings or booleans for numbers, no numbers for
booleans, finite floats, ints where floats are expected).

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

Modules: :mod:`~pgbench.suite.yaml_reading` (YAML with positions, size bounds),
:mod:`~pgbench.suite.load` (text -> the model of its kind), :mod:`~pgbench.suite.translate`
(pydantic errors -> one line at a key), :mod:`~pgbench.suite.base` (the common keys),
:mod:`~pgbench.suite.specs` (envs, policies, labels), :mod:`~pgbench.suite.types`,
:mod:`~pgbench.suite.compare_block`, :mod:`~pgbench.suite.errors`. Each kind's own keys
are in ``pgbench/experiments/<kind>/suite.py``.
"""
