"""Numba kernels: the only package of pgbench that imports numba.

Cores elsewhere are undecorated; :func:`build` compiles them for a target.
"""

from pgbench.kernels.build import (
    TARGETS,
    EpisodeSums,
    Kernels,
    Lanes,
    ReturnOps,
    Segment,
    Trajectories,
    build,
    build_returns,
    runtime_info,
    serial_calls,
    set_threads,
)

__all__ = [
    "TARGETS",
    "EpisodeSums",
    "Kernels",
    "Lanes",
    "ReturnOps",
    "Segment",
    "Trajectories",
    "build",
    "build_returns",
    "runtime_info",
    "serial_calls",
    "set_threads",
]
