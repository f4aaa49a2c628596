"""Suites: what to run, read from YAML into frozen pydantic models with file:line:col errors.

:mod:`pgbench.suite.errors` (the one-line error and how a validator points at a key),
:mod:`pgbench.suite.types` (the strict field types and bounds every kind shares),
:mod:`pgbench.suite.compare_block` (the ``compare:`` settings of a suite).
"""
