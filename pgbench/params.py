"""The base of every parameter model: frozen, closed and strictly typed.

Every registered component (:mod:`pgbench.registry`: envs, policies, estimators,
algorithms, learners, game estimators) and the nested settings of some (optimizer,
critic) declare their parameters as subclasses of :class:`HyperParams`, so a suite
and the Python API validate them the same way:

* unknown keys are errors (``extra="forbid"``) and instances are frozen;
* no coercion (``strict``): ``"0.1"`` is not a number, ``true`` is not 1.0 and
  ``1`` is not ``True`` -- a coerced value would run as something the suite does
  not say, under a cell hash computed from what it does say;
* an int is accepted where a float is expected (``lr: 1``);
* floats are finite (``allow_inf_nan=False``): ``.inf`` and ``.nan`` are errors;
* NumPy scalars count as the Python scalars they hold (``np.int64(4)`` is the int 4,
  ``np.bool_(True)`` the bool), so values computed with NumPy pass through the Python API.

A tuple field given a list (as YAML and JSON write it) declares
``Field(strict=False)``; its entries stay strict.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator


class HyperParams(BaseModel):
    """Base of every hyperparameter model (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _numpy_scalars(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v.item() if isinstance(v, np.generic) else v for k, v in data.items()}
        return data


class NoParams(HyperParams):
    """The model of a component without parameters."""
