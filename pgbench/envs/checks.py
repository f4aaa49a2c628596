"""Validation shared by environment parameter models and builders (one-line errors).

The ``check_*`` functions raise a one-line :class:`~pgbench.errors.InvalidSpecError`;
:func:`checked` makes one a field validator of a parameter model, after pydantic's strict
type check, so a suite and ``make_env`` report a bad value in the same words.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import WrapValidator

from pgbench.errors import InvalidSpecError

# The transition table P (S, A, S) float64 of a named tabular MDP (building it takes a few
# times that: the random draws, their argsort and the sampling table have its shape too).
MAX_TABLE_BYTES = 2 * 1024**3


class SizeError(InvalidSpecError):
    """A parameter that makes an array too large to build; ``param`` names it (for the
    suite loader, which points at that key)."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def human_bytes(n: float) -> str:
    """``n`` bytes in decimal units, e.g. ``240 GB``."""
    units = ("bytes", "kB", "MB", "GB", "TB", "PB")
    k = 0
    while n >= 1000 and k < len(units) - 1:
        n, k = n / 1000, k + 1
    return f"{n:.3g} {units[k]}"


def check_table_size(env: str, param: str, n_states: int, n_actions: int) -> None:
    """Refuse a tabular MDP whose P (S, A, S) float64 is over :data:`MAX_TABLE_BYTES`
    before building it; ``param`` names the parameter that sets S."""
    nbytes = 8 * n_states * n_actions * n_states
    if nbytes > MAX_TABLE_BYTES:
        raise SizeError(
            f"{env} {param} {n_states} with {n_actions} actions needs P (S, A, S) of "
            f"{nbytes:.2g} bytes ({human_bytes(nbytes)}); the bound is "
            f"{MAX_TABLE_BYTES / 1024**3:g} GiB",
            param=param,
        )


def check_gamma(gamma) -> float:
    g = float(gamma)
    if not (0.0 < g <= 1.0) or math.isnan(g):
        raise InvalidSpecError(f"gamma must be in (0, 1], got {gamma!r}")
    return g


def check_horizon(horizon) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise InvalidSpecError(f"horizon must be a positive integer, got {horizon!r}")
    return horizon


def check_int(name: str, value, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (bools and non-integers rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidSpecError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(name: str, value, low: float = -math.inf, high: float = math.inf) -> float:
    """``value`` as a finite float in [low, high]."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InvalidSpecError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or not low <= v <= high:
        raise InvalidSpecError(f"{name} must be a finite number in [{low}, {high}], got {value!r}")
    return v


def checked(check: Callable[[Any], Any]) -> WrapValidator:
    """A field validator: pydantic's (strict) type check, then ``check`` on the value as
    given (so its message quotes it as written); the field holds what ``check`` returns."""

    def validate(value, handler):
        handler(value)
        return check(value)

    return WrapValidator(validate)


def at_least(name: str, minimum: int) -> WrapValidator:
    """Field validator: an integer >= ``minimum`` (:func:`check_int`, labelled ``name``)."""
    return checked(lambda value: check_int(name, value, minimum))


def within(name: str, low: float, high: float) -> WrapValidator:
    """Field validator: a finite number in [low, high] (:func:`check_float`)."""
    return checked(lambda value: check_float(name, value, low, high))


Gamma = Annotated[float, checked(check_gamma)]  # a discount in (0, 1]
Horizon = Annotated[int, checked(check_horizon)]  # actions per episode, >= 1
