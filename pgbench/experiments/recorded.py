"""A finished run's report settings, as ``metadata.json`` recorded them.

The runner writes the suite's resolved report settings (``Suite.report_settings()``)
into ``metadata.json`` as ``settings``; a run written before a setting existed lacks it
(no ``settings`` at all, or no ``score_ranges``). :func:`recorded_settings` fills what is
missing by validating the suite text the run stored again (``suite.text``), and leaves it
missing where that text no longer validates.
"""

from __future__ import annotations

from pgbench.errors import PgbenchError
from pgbench.experiments import parse_suite


def recorded_settings(meta: dict) -> dict:
    """The report settings of the run whose ``metadata.json`` is ``meta``: the recorded
    ones, completed from its stored suite text where keys are missing; {} where there
    are neither."""
    settings = meta.get("settings")
    settings = dict(settings) if isinstance(settings, dict) else {}
    suite = meta.get("suite")
    text = suite.get("text") if isinstance(suite, dict) else None
    if not isinstance(text, str) or _complete(settings, suite):
        return settings
    try:
        resolved = parse_suite(text, str(suite.get("file") or "<recorded suite>"))
        again = resolved.report_settings()
    except (PgbenchError, ValueError, TypeError, ImportError):  # e.g. an optional env's
        return settings
    return {**again, **settings}


def _complete(settings: dict, suite: dict) -> bool:
    """Whether ``settings`` were recorded after the newest setting of their kind existed
    (a learning-curve run's ``score_ranges``); parsing the suite again builds its envs."""
    if "description" not in settings:
        return False
    return suite.get("experiment") != "learning-curve" or "score_ranges" in settings
