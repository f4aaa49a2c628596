"""Two-agent learning on iterated 2x2 games: exact derivatives, sampled estimates, learners.

* :mod:`.exact`: both agents' values, gradients and Hessians in closed form.
* :mod:`.joint`: sampled play of both agents through the one-agent kernels.
* :mod:`.estimators`: DiCE / LOLA-PG first- and second-order estimates;
  :mod:`.estimator_registry`: them as game estimators (``pg-gradient``, ...), registered
  in :data:`pgbench.registry.GAME_ESTIMATORS`.
* :mod:`.learners`: ``nl-exact``, ``lola-exact``, ``nl-pg``, ``lola-pg``, ``lola-dice``
  (registered in :data:`pgbench.registry.LEARNERS` when imported).
* :mod:`.playing`: :func:`play`, two learners against each other.

The suites, cells, figures and tables of the two-agent experiment kinds are in
:mod:`pgbench.experiments.two_agent`.
"""

from pgbench.games.exact import Game, make_game
from pgbench.games.playing import PlayResult, is_tit_for_tat, play, tft_score

__all__ = ["Game", "PlayResult", "is_tit_for_tat", "make_game", "play", "tft_score"]
