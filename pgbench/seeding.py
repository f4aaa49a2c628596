"""Keys: seeds derived from them, and their canonical text (content hashes).

Seeds are derived, never drawn. :func:`derive_seed` hashes a key such as
``(seed, "estimate", N, r)`` through :class:`numpy.random.SeedSequence` into a
uint64, so every episode stream of a cell is a pure function of the cell's seed
and the stream's name, whatever the executor, the worker or the order of work.
:func:`keyed_rng` is the Generator of a ``(seed, purpose)`` key where a stream of
draws, not one episode seed, is needed. :func:`canonical_json` is the text that
content hashes (cell hashes, reference-gradient cache keys) are taken of.

A leaf: imports nothing from pgbench.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

HASH_CHARS = 16  # hex digits of a content hash used in file names and tables

# Purposes of keyed Generators (the second entropy word of keyed_rng), fixed forever:
# changing one changes every result that uses it.
POLICY_INIT = 0x5EED  # policy.init(seed): the initial parameters
GAME_THETA = 0x6A3E  # a game-estimator cell's random evaluation point


def canonical_json(obj: Any) -> str:
    """Sorted-key, whitespace-free JSON (NaN rejected): equal content, equal text."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def _word(part: int | str) -> int:
    """A non-negative int for SeedSequence entropy (strings via sha256)."""
    if isinstance(part, (int, np.integer)) and not isinstance(part, bool) and part >= 0:
        return int(part)
    digest = hashlib.sha256(repr(part).encode()).digest()
    return int.from_bytes(digest[:16], "little")


def derive_seed(*key: int | str) -> int:
    """A uint64 seed (Python int in [0, 2**64)) that is a pure function of ``key``.

    Distinct keys give independent-looking seeds, e.g. ``derive_seed(3, "estimate", 64, 0)``.
    """
    ss = np.random.SeedSequence([_word(p) for p in key])
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def keyed_rng(seed: int, purpose: int) -> np.random.Generator:
    """The Generator of ``SeedSequence([seed, purpose])`` (``purpose``: one of the constants
    above, or a small index such as an agent's), e.g. ``keyed_rng(seed, POLICY_INIT)`` draws
    a policy's initial parameters."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(purpose)]))
