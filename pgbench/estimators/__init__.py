"""Gradient estimators: one module per family, each registering into ESTIMATORS."""

from pgbench.estimators import (  # noqa: F401  (registration)
    critics,
    finite_difference,
    likelihood_ratio,
    natural,
)
from pgbench.estimators.base import Estimator

__all__ = ["Estimator"]
