"""The one error of ``pgbench compare``: bad input, exit code 2."""

from __future__ import annotations

from pgbench.errors import PgbenchError


class CompareError(PgbenchError):
    """Inputs ``pgbench compare`` cannot compare (no results, nothing in common, bad flags,
    a verdict file that cannot be written)."""
