"""Placeholder: filled in by the estimator issue."""
