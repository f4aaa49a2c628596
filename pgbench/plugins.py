"""Plug-ins: a user's modules that register components (envs, policies, estimators,
algorithms, learners) before a suite is read.

Two ways to name them, both read by every pgbench command and passed on to every
worker process:

* an installed package declares an entry point in the group :data:`ENTRY_POINT_GROUP`,
  in its ``pyproject.toml``::

      [project.entry-points."pgbench.plugins"]
      mypkg = "mypkg.pgbench_components"

  the value is the module to import (importing it registers its components, e.g. with
  ``pgbench.registry.ESTIMATORS.register``); no ``PYTHONPATH`` is needed once the
  package is installed (``pip install -e .`` works);
* ``PGBENCH_PLUGINS=mypkg.estimators,mypkg.envs`` (comma-separated module names) in the
  environment.

A module that cannot be imported is a one-line :class:`~pgbench.errors.PgbenchError`
naming it. A leaf: imports nothing from pgbench but the errors.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping, Sequence
from importlib import metadata

from pgbench.errors import PgbenchError

PLUGINS_ENV = "PGBENCH_PLUGINS"
ENTRY_POINT_GROUP = "pgbench.plugins"


def env_modules(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Module names listed in ``PGBENCH_PLUGINS`` (comma-separated, blanks ignored)."""
    value = (os.environ if environ is None else environ).get(PLUGINS_ENV, "")
    return tuple(m.strip() for m in value.split(",") if m.strip())


def entry_point_modules() -> tuple[str, ...]:
    """The modules named by installed packages' ``pgbench.plugins`` entry points, sorted by
    entry-point name (an ``module:attr`` value names its module)."""
    points = sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)
    return tuple(ep.value.split(":", 1)[0].strip() for ep in points)


def plugin_modules(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Every plug-in module: entry points first, then ``PGBENCH_PLUGINS``, without repeats."""
    return tuple(dict.fromkeys((*entry_point_modules(), *env_modules(environ))))


def one_line(exc: BaseException) -> str:
    """The first line of ``str(exc)``, or the exception's type name where it has no text."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def load_plugins(modules: Sequence[str]) -> None:
    """Import ``modules`` (their import registers components); a failure is one line."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001  (any import failure is the user's to fix)
            raise PgbenchError(
                f"cannot import plugin module {name!r}: {type(exc).__name__}: {one_line(exc)}"
            ) from None
