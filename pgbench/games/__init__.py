"""Two-agent learning on iterated 2x2 games: exact derivatives, sampled estimates, learners.

* :mod:`.exact`: both agents' values, gradients and Hessians in closed form.
* :mod:`.joint`: sampled play of both agents through the one-agent kernels.
* :mod:`.estimators`: DiCE / LOLA-PG first- and second-order estimates.
* :mod:`.learners`: ``nl-exact``, ``lola-exact``, ``nl-pg``, ``lola-pg``, ``lola-dice``
  (registered in :data:`pgbench.registry.LEARNERS` when imported).
* :mod:`.playing`: :func:`play`, two learners against each other.
* :mod:`.suite`, :mod:`.plots`, :mod:`.report`: the suite kinds and their outputs.

Names below are imported on first use, so that :mod:`pgbench.config` can import
:mod:`.suite` without importing the kernels.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Game": "pgbench.games.exact",
    "make_game": "pgbench.games.exact",
    "PlayResult": "pgbench.games.playing",
    "play": "pgbench.games.playing",
    "is_tit_for_tat": "pgbench.games.playing",
    "tft_score": "pgbench.games.playing",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pgbench.games' has no attribute {name!r}")
