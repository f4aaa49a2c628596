"""Strict field types and size bounds shared by the suites of every experiment kind."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, JsonValue, Strict

NonNegInt = Annotated[int, Strict(), Field(ge=0)]
PosInt = Annotated[int, Strict(), Field(ge=1)]
PosFloat = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Strict(), Field(allow_inf_nan=False)]
Name = Annotated[str, Strict(), Field(min_length=1)]
Params = dict[str, JsonValue]  # keyword parameters of a component, as YAML gives them

MAX_CELLS = 1_000_000  # cells of one suite (envs x policies x methods x points x seeds)
MAX_NAME = 100  # characters of a suite name (a directory name; file systems allow 255 bytes)
