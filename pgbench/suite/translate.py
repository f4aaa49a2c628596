"""Pydantic's errors as one-line messages at the key that caused them.

:func:`describe` turns one pydantic error of a suite model into (location, message);
:func:`fail_params` reports invalid component parameters at the offending parameter,
with a close-match suggestion for an unknown key.
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Annotated, Any

from pydantic import BaseModel, ValidationError

from pgbench.registry import suggest
from pgbench.suite.errors import Loc, fail, one_line


def _first_bad_key(model: type[BaseModel], params: dict) -> tuple[Loc, bool]:
    """(path, is it an unknown key) of the first param ``model`` rejects: the path into
    ``params`` (nested mappings and lists) as far as it exists, or ((), False)."""
    try:
        model(**params)
    except ValidationError as exc:
        err = exc.errors()[0]
        path: list[str | int] = []
        node: Any = params
        for part in err["loc"]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                break
            path.append(part)
        unknown = err["type"] == "extra_forbidden" and len(path) == len(err["loc"]) > 0
        return tuple(path), unknown
    return (), False


def fail_params(
    where: Loc, model: type[BaseModel], params: dict, exc: Exception
) -> typing.NoReturn:
    """Report ``exc`` (invalid ``params`` of ``model``) at the offending param, with a
    close-match suggestion for an unknown key."""
    key, unknown = _first_bad_key(model, params)
    msg = one_line(exc)
    if unknown:
        known = _fields_at(model, key[:-1])
        if known and not any(name in msg for name in ("did you mean", "; known:")):
            msg += suggest(str(key[-1]), known)
    elif key and "got " not in msg:
        value = _at(params, key)
        if isinstance(value, (str, int, float, bool)) or value is None:
            msg += f", got {_short_repr(value)}"
    fail((*where, *key), msg, at_key=unknown)


def _at(data: Any, path: Loc) -> Any:
    """``data[path[0]][path[1]]...`` (the path exists)."""
    for part in path:
        data = data[part]
    return data


def _short_repr(value: Any, width: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model found by following ``loc`` from ``model`` (for suggestions)."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
        if inspect.isclass(tp) and issubclass(tp, BaseModel) and isinstance(part, str):
            field = tp.model_fields.get(part)
            tp = field.annotation if field else None
        elif typing.get_origin(tp) in (tuple, list) and isinstance(part, int):
            tp = typing.get_args(tp)[0]
        else:
            return []
    tp = _unwrap(tp)
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    """``X`` of ``Annotated[X, ...]``, ``X | None`` (one level of each)."""
    if typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        tp = args[0]
    if typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def describe(model: type[BaseModel], err: dict) -> tuple[Loc, str, bool]:
    """(location, one-line message, point at the key) of a pydantic error."""
    ctx = err.get("ctx") or {}
    if err["type"] == "pgbench":
        return tuple(ctx["where"]), str(ctx["msg"]), bool(ctx.get("at_key"))
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden":
        key = str(loc[-1])
        known = _fields_at(model, loc[:-1])
        hint = suggest(key, known) if known else ""
        return loc, f"unknown key {key!r} in {_dotted(loc[:-1]) or 'suite'}{hint}", True
    if err["type"] == "missing":
        return loc[:-1], f"missing required key {_dotted(loc)!r}", False
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    value = err.get("input")
    if isinstance(value, (str, int, float, bool)) or value is None:
        msg += f", got {_short_repr(value)}"
    return loc, f"{_dotted(loc)}: {msg}" if loc else msg, False
