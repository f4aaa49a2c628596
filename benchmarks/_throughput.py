"""Steps/s per benchmark of this run, shared by the benchmarks and the summary hook."""

from __future__ import annotations

THROUGHPUT: dict[str, float] = {}
REFERENCE = "gymnasium-vector-numpy"


def record(name: str, steps: int, seconds: float) -> float:
    """Store and return ``steps / seconds`` under ``name``."""
    THROUGHPUT[name] = steps / seconds
    return THROUGHPUT[name]
