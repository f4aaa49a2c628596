"""The one error a suite gives, and how a validator says where it is.

A validator that finds a problem calls :func:`fail` with the problem's location in the
document (a tuple of keys and list indices from the root); the loader turns the first
such error into :class:`SuiteError`, whose message is the one line
``file:line:col: message`` at that node.
"""

from __future__ import annotations

import typing

from pydantic_core import PydanticCustomError

from pgbench.errors import PgbenchError

Loc = tuple[str | int, ...]


class SuiteError(PgbenchError, ValueError):
    """An invalid suite; ``str(err)`` is the one line ``file:line:col: message``."""


def fail(where: Loc, msg: str, at_key: bool = False) -> typing.NoReturn:
    """A validation error at the absolute location ``where`` (read back by the loader);
    ``at_key``: point at the mapping key of the last element rather than at its value."""
    raise PydanticCustomError(
        "pgbench", "{msg}", {"msg": msg, "where": tuple(where), "at_key": at_key}
    )


def one_line(exc: BaseException) -> str:
    """The first line of ``str(exc)`` (or the exception's type name where it has no text)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
