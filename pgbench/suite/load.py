"""Read and validate a suite: YAML text -> the model of its experiment kind.

The kinds (``experiment`` value -> suite model) are passed in: the suite layer knows no
kind; :mod:`pgbench.experiments` passes its :data:`~pgbench.experiments.KINDS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from pgbench.registry import suggest
from pgbench.suite.base import Suite
from pgbench.suite.errors import Loc, SuiteError
from pgbench.suite.translate import describe
from pgbench.suite.yaml_reading import compose, position, read_suite


def load_suite(path: str | Path, kinds: Mapping[str, type[Suite]]) -> Suite:
    """The validated suite in the YAML file ``path``, ``kinds`` mapping each experiment kind to
    its suite model; :class:`SuiteError` (one line) if invalid."""
    return parse_suite(read_suite(path), kinds, str(path))


def parse_suite(text: str, kinds: Mapping[str, type[Suite]], filename: str = "<suite>") -> Suite:
    """The validated suite in the YAML ``text`` (``kinds``: experiment kind -> suite model);
    errors name ``filename``."""
    node, data = compose(text, filename)

    def error(loc: Loc, msg: str, at_key: bool = False) -> SuiteError:
        line, col = position(node, loc, at_key)
        return SuiteError(f"{filename}:{line}:{col}: {msg}")

    if not isinstance(data, dict):
        raise error((), "a suite must be a YAML mapping of keys (name, experiment, ...)")
    kind = data.get("experiment")
    if kind is None:
        raise error(
            (), "missing required key 'experiment' (one of: " + ", ".join(sorted(kinds)) + ")"
        )
    if not isinstance(kind, str) or kind not in kinds:
        raise error(
            ("experiment",), f"unknown experiment {kind!r}" + suggest(str(kind), list(kinds))
        )
    model = kinds[kind]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # an error about a container whose item failed is a consequence: keep the item's
        locs = [tuple(e["loc"]) for e in errors]
        errors = [
            e
            for e, loc in zip(errors, locs, strict=True)
            if not any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs)
        ] or errors
        described = [describe(model, e) for e in errors]
        # the first problem in the file; a missing key last (a misspelt one is the cause)
        loc, msg, at_key = min(
            described,
            key=lambda d: (d[1].startswith("missing required key"), position(node, d[0], d[2])),
        )
        raise error(loc, msg, at_key) from None


def warning_lines(suite: Suite, text: str, filename: str = "<suite>") -> list[str]:
    """``filename:LINE:COL: message`` of each of ``suite.warnings()``; ``text`` is the YAML
    the suite was parsed from."""
    warnings = suite.warnings()
    if not warnings:
        return []
    node, _ = compose(text, filename)
    lines = []
    for loc, msg in warnings:
        line, col = position(node, loc, False)
        lines.append(f"{filename}:{line}:{col}: {msg}")
    return lines
