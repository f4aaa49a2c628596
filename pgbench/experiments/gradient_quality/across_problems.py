"""The gradient-quality kind's ranking aggregated across problems: ``across_problems.md`` /
``.csv`` (this module, pure functions of the tidy table, then :func:`write_across`) and
``across_problems.png`` (:mod:`.across_figure`).

A *panel* is one (env label, policy label, theta label); a *problem* is a panel at one
batch size N. The score of estimator e with seed s on a problem is

    score = log10(MSE_base / MSE_e,s),

MSE_base the median over seeds of the *base* estimator's MSE on that problem: how many
orders of magnitude below the base's MSE e's lies (0: as the base; 1: ten times lower;
higher is better). Scale-free, so panels in other gradient units aggregate. The base
(:func:`base_estimator`) is the plain likelihood-ratio estimator, method ``reinforce`` with
its default params (no baseline); else the first-listed ``reinforce``; else the
first-listed estimator. MSE_base is held fixed in the bootstrap (as rliable's reference
scores are).

References. An estimator is scored on a panel only where it is compared with the base's
reference there: natural-gradient and restricted-step estimators (another estimand, in
other units) are left out. Panels with an exact reference and panels with a Monte Carlo
one (``mc-<E>``) are mixed: the MC reference is drawn per seed, independently of the
estimates, and its own noise is subtracted from the MSE, so both MSEs estimate
E||g - grad J||^2; the extra noise is in the per-seed MSEs, which the bootstrap over seeds
resamples. An MSE of 0 (clipped: not above the reference's noise) has no log, so such a
(estimator, panel, N) is not usable.

Which estimators and panels (:func:`select`). The input is not rectangular (suites run some
estimators on some envs only, from some batch size on). The selection is the set of
estimators E (the base among them) and panels P, every estimator usable on every panel at
one batch size at least, that maximizes |E| x |P| (ties: more panels, more common batch
sizes, larger N), with |E| >= 2 and |P| >= 2; the markdown lists what was left out and
why. It aggregates at each batch size every selected (estimator, panel) is usable at
(the common batch sizes), separately; ``across_problems.md`` reports the largest, the csv
all. An estimator's runs at N are the seeds it has on every selected panel at N.

Statistics (:mod:`pgbench.stats`, Agarwal et al. 2021): IQM, median and mean of the scores
(:func:`pgbench.stats.aggregate`) and P(score of e > score of the base)
(:func:`pgbench.stats.probability_of_improvement`), each with a stratified-bootstrap
percentile interval (seeds resampled within each problem), from an explicit Generator
(``numpy.random.default_rng(0)`` unless one is passed), so the files are reproducible.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pgbench.errors import PgbenchError
from pgbench.experiments.summaries import DEFAULT_SEED, PANEL, suite_title, write_table_files
from pgbench.registry import ESTIMATORS
from pgbench.stats import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_LEVEL,
    aggregate,
    group_rng,
    probability_of_improvement,
)

ACROSS_CSV = "across_problems.csv"
ACROSS_MD = "across_problems.md"
BASE_METHOD = "reinforce"
METRICS = ("iqm", "median", "mean")
MAX_CANDIDATES = 4096  # panel sets examined per batch size (intersections of coverage sets)
ACROSS_COLUMNS = [
    *("batch_size", "rank", "estimator", "is_base"),
    *(f"{m}{s}" for m in METRICS for s in ("", "_lo", "_hi")),
    *("p_over_base", "p_lo", "p_hi", "n_runs", "n_problems", "reps", "confidence"),
]

Panel = tuple[str, str, str]  # (env label, policy label, theta label)


@dataclass(frozen=True)
class Selection:
    """What :func:`select` chose: ``estimators`` (base first, then table order), ``panels``
    (table order) with their ``references`` (panel -> the base's reference label), the
    common ``batch_sizes`` (ascending), and ``left_out``: (estimator or panel text, why)."""

    base: str
    estimators: tuple[str, ...]
    panels: tuple[Panel, ...]
    references: dict[Panel, str]
    batch_sizes: tuple[int, ...]
    left_out: tuple[tuple[str, str], ...]


def panel_text(panel: Panel) -> str:
    """``env · policy · theta`` (theta left out when empty)."""
    return " · ".join(p for p in panel if p)


def mse_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The gradient-quality MSE rows (x = batch size) of ``table``, labels as str."""
    keep = (
        (table["experiment"] == "gradient-quality")
        & (table["x_name"] == "batch_size")
        & (table["metric"] == "mse")
    )
    rows = table[keep]
    labels = [*PANEL, "method_label", "reference"]
    return rows.assign(**{c: rows[c].fillna("").astype(str) for c in labels})


def _is_default(method: str, params: str) -> bool:
    try:
        given = json.loads(params) if isinstance(params, str) and params else {}
        return given == {} or ESTIMATORS.params(method, **given) == ESTIMATORS.params(method)
    except (PgbenchError, ValueError, TypeError, KeyError):
        return False


def base_estimator(rows: pd.DataFrame) -> str:
    """The base of the scores among the labels of ``rows`` (tidy rows): the first estimator
    of method :data:`BASE_METHOD` with its default params, else the first of that method,
    else the first estimator ("" for no rows)."""
    first = rows.drop_duplicates("method_label")
    lr = first[first["method"] == BASE_METHOD]
    defaults = [r.method_label for r in lr.itertuples() if _is_default(r.method, r.method_params)]
    for labels in (defaults, list(lr["method_label"]), list(first["method_label"])):
        if labels:
            return str(labels[0])
    return ""


def _problem_values(rows: pd.DataFrame) -> dict[tuple, pd.Series]:
    """(estimator, panel, N) -> its MSEs by seed (sorted), every seed's last row."""
    out = {}
    keys = ["method_label", *PANEL, "x"]
    for key, part in rows.groupby(keys, sort=False):
        values = part.drop_duplicates("seed", keep="last").set_index("seed")["value"]
        out[(key[0], tuple(str(k) for k in key[1:4]), int(key[4]))] = values.sort_index()
    return out


def _usable(values: dict, refs: dict, base: str) -> dict[tuple[str, Panel], frozenset[int]]:
    """(estimator, panel) -> the batch sizes where it has a score: the base's reference,
    every MSE finite and > 0, and the base's median MSE there > 0."""
    out: dict[tuple[str, Panel], set[int]] = {}
    for (est, panel, n), mse in values.items():
        base_mse = values.get((base, panel, n))
        if base_mse is None or refs.get((est, panel)) != refs.get((base, panel)):
            continue
        v = mse.to_numpy(dtype=np.float64)
        if v.size and np.all(np.isfinite(v) & (v > 0)) and np.median(base_mse) > 0:
            out.setdefault((est, panel), set()).add(n)
    return {k: frozenset(v) for k, v in out.items()}


def _panel_sets(cover: dict[str, frozenset], base: str) -> list[frozenset]:
    """The candidate panel sets: the base's, its intersections with every estimator's, and
    their intersections, at most :data:`MAX_CANDIDATES`. The best rectangle's panels are
    the intersection of its estimators' coverage sets, so (under the cap) it is among them."""
    start = cover[base]
    sets = dict.fromkeys([start, *(c & start for c in cover.values())])
    frontier = list(sets)
    while frontier and len(sets) < MAX_CANDIDATES:
        new = dict.fromkeys(a & b for a in frontier for b in list(sets) if a & b not in sets)
        sets.update(new)
        frontier = list(new)
    return list(sets)[:MAX_CANDIDATES]


def select(rows: pd.DataFrame, base: str | None = None) -> Selection | None:
    """The estimators and panels of ``rows`` (:func:`mse_rows`) to aggregate over (see the
    module docstring), ``base`` by default :func:`base_estimator`; None when fewer than two
    estimators or two panels qualify."""
    base = base or base_estimator(rows)
    estimators = list(dict.fromkeys(rows["method_label"].astype(str)))
    panels = list(dict.fromkeys(map(tuple, rows[PANEL].astype(str).to_numpy())))
    if base not in estimators:
        return None
    refs = {
        (k[0], tuple(k[1:])): str(v)
        for k, v in rows.groupby(["method_label", *PANEL], sort=False)["reference"].first().items()
    }
    values = _problem_values(rows)
    usable = _usable(values, refs, base)
    order = {p: i for i, p in enumerate(panels)}
    best, best_key = None, None
    for n in sorted({n for sizes in usable.values() for n in sizes}):
        cover = {e: frozenset(p for p in panels if n in usable.get((e, p), ())) for e in estimators}
        for ps in _panel_sets(cover, base):
            if len(ps) < 2:
                continue
            es = [e for e in estimators if ps <= cover[e] and _seeded(values, [e], ps, n)]
            if len(es) < 2 or base not in es:
                continue
            sizes = frozenset.intersection(*(usable[e, p] for e in es for p in ps))
            sizes = frozenset(m for m in sizes if _seeded(values, es, ps, m))
            key = (len(es) * len(ps), len(ps), len(sizes), n)
            if best_key is None or key > best_key:
                best, best_key = (es, sorted(ps, key=order.get), sizes), key
    if best is None:
        return None
    es, ps, sizes = best
    es = [base, *(e for e in es if e != base)]
    left = [(e, _why(e, ps, sizes, values, refs, base)) for e in estimators if e not in es]
    left += [(panel_text(p), _why_panel(p, es, sizes, usable, base)) for p in panels if p not in ps]
    return Selection(
        base=base,
        estimators=tuple(es),
        panels=tuple(ps),
        references={p: refs[base, p] for p in ps},
        batch_sizes=tuple(sorted(sizes)),
        left_out=tuple(left),
    )


def _names(items: list[str], most: int = 6) -> str:
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def _seeded(values: dict, estimators: list[str], panels, n: int) -> bool:
    """Whether every one of ``estimators`` has a seed on all of ``panels`` at N = ``n``."""
    return all(set.intersection(*(set(values[e, p, n].index) for p in panels)) for e in estimators)


def _why(est, panels, sizes, values, refs, base) -> str:
    """Why estimator ``est`` is not in the selection of ``panels`` at ``sizes``."""
    other = {refs.get((est, p)) for p in panels} - {None, *(refs[base, p] for p in panels)}
    if other:
        return f"compared with {', '.join(sorted(other))} (another estimand)"
    missing = [panel_text(p) for p in panels if (est, p) not in refs]
    if missing:
        return f"not run on {_names(missing)}"
    absent = sorted({n for p in panels for n in sizes if (est, p, n) not in values})
    if absent:
        return f"no results at N = {', '.join(map(str, absent))}"
    bad = sorted({n for p in panels for n in sizes if not np.all(values[est, p, n].to_numpy() > 0)})
    if bad:
        where = ", ".join(map(str, bad))
        return f"an MSE of 0 (not above the reference's noise) or NaN at N = {where}"
    return "no seed with results on every panel"


def _why_panel(panel, estimators, sizes, usable, base) -> str:
    """Why ``panel`` is not among the selected ones."""
    if not any(e == base and p == panel for e, p in usable):
        return f"no usable MSE of the base {base}"
    lacking = [e for e in estimators if not sizes <= usable.get((e, panel), frozenset())]
    return f"{_names(lacking)} not usable there at N = {', '.join(map(str, sorted(sizes)))}"


def score_matrices(rows: pd.DataFrame, selection: Selection, n: int) -> dict[str, np.ndarray]:
    """Selected estimator -> (runs, panels) scores log10(MSE_base / MSE) at batch size ``n``:
    runs the seeds (ascending) it has on every selected panel, panels in selection order."""
    values = _problem_values(rows)
    base_mse = [float(np.median(values[selection.base, p, n])) for p in selection.panels]
    out = {}
    for est in selection.estimators:
        per_panel = [values[est, p, n] for p in selection.panels]
        seeds = sorted(set.intersection(*(set(v.index) for v in per_panel)))
        mse = np.column_stack([v.loc[seeds].to_numpy(dtype=np.float64) for v in per_panel])
        out[est] = np.log10(np.asarray(base_mse) / mse)
    return out


def across_problems(
    table: pd.DataFrame,
    rng: np.random.Generator | None = None,
    *,
    reps: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_LEVEL,
    base: str | None = None,
) -> tuple[Selection | None, pd.DataFrame]:
    """(selection, aggregates) of ``table``'s gradient-quality rows: one row per common batch
    size (ascending) and selected estimator (by IQM, highest first; ``rank`` 1 = highest),
    columns :data:`ACROSS_COLUMNS`: the IQM, median and mean of the scores, each with its
    interval ``_lo``, ``_hi``; ``p_over_base``, ``p_lo``, ``p_hi``: P(score > the base's)
    (NaN on the base's own row); ``n_runs`` seeds per problem, ``n_problems``, and the
    bootstrap's ``reps`` and ``confidence``. (None, empty) when fewer than two estimators or
    panels qualify. To aggregate over other estimators or panels, filter ``table`` first.

    One word is drawn from ``rng`` (default ``numpy.random.default_rng(0)``); at batch size
    N the aggregates draw from :func:`pgbench.stats.group_rng` of it and ``("across", N)``,
    P(e > base) from ``("improvement", N, e)``."""
    rows = mse_rows(table)
    selection = select(rows, base) if not rows.empty else None
    if selection is None:
        return None, pd.DataFrame(columns=ACROSS_COLUMNS)
    rng = rng if rng is not None else np.random.default_rng(DEFAULT_SEED)
    word = int(rng.integers(0, 2**63))
    out = []
    for n in selection.batch_sizes:
        scores = score_matrices(rows, selection, n)
        found = aggregate(
            scores, group_rng(word, ("across", n)), METRICS, reps=reps, confidence=confidence
        )
        est = {(e.algorithm, e.metric): e for e in found}
        frame = []
        for name, x in scores.items():
            row = {"batch_size": n, "estimator": name, "is_base": name == selection.base}
            for m in METRICS:
                e = est[name, m]
                row.update({m: e.estimate, f"{m}_lo": e.low, f"{m}_hi": e.high})
            p = lo = hi = math.nan
            if name != selection.base:
                gen = group_rng(word, ("improvement", n, name))
                imp = probability_of_improvement(
                    x, scores[selection.base], gen, reps=reps, confidence=confidence
                )
                p, lo, hi = imp.probability, imp.low, imp.high
            row.update(p_over_base=p, p_lo=lo, p_hi=hi, n_runs=x.shape[0])
            row.update(n_problems=x.shape[1], reps=reps, confidence=confidence)
            frame.append(row)
        frame.sort(key=lambda r: -r["iqm"])
        out += [{**r, "rank": i + 1} for i, r in enumerate(frame)]
    return selection, pd.DataFrame(out)[ACROSS_COLUMNS]


# ---------------------------------------------------------------- text


def _g(value: float) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value:.2f}"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|")


def caption(selection: Selection, n: int, reps: int, confidence: float) -> str:
    """What every number of the table and figure at batch size ``n`` is, in one paragraph."""
    exact = sum(r == "exact" for r in selection.references.values())
    n_mc = len(selection.panels) - exact
    return (
        "Score of an estimator with one seed on one problem (an env · policy · theta panel "
        "at batch size N): log10(MSE_base / MSE), MSE_base the median over seeds of the base "
        f"estimator's ({selection.base}) MSE on that problem: orders of magnitude below the "
        "base's MSE (0: as the base; 1: ten times lower; higher is better). IQM: the "
        "interquartile mean of the scores of all seeds x problems pooled; median: the median "
        "over problems of each problem's mean over seeds; mean: the mean of all scores. "
        f"P(> base): the probability that the estimator's score beats the base's on a problem, "
        "for a random pair of seeds (Mann-Whitney, ties 1/2), averaged over problems. "
        f"Intervals: {confidence:.0%} stratified-bootstrap percentile intervals ({reps} "
        "replicates, seeds resampled within each problem, MSE_base held fixed; numpy "
        f"Generator default_rng({DEFAULT_SEED})). n: seeds per problem; {len(selection.panels)}"
        f" problems at N = {n}, {exact} with the exact gradient as reference and {n_mc} with a "
        "Monte Carlo one (its noise subtracted from the MSE, so both estimate the MSE to the "
        "true gradient)."
    )


def across_markdown(
    selection: Selection,
    frame: pd.DataFrame,
    title: str = "",
    *,
    reps: int = DEFAULT_BOOTSTRAP,
    confidence: float = DEFAULT_LEVEL,
) -> str:
    """``across_problems.md``: the aggregates at the largest common batch size, the IQM at
    every common one, the problems, and what was left out."""
    n = selection.batch_sizes[-1]
    ci = f"{confidence:.0%} interval"
    lines = [
        f"# Gradient estimators across problems{': ' + title if title else ''}",
        "",
        caption(selection, n, reps, confidence),
        "",
        f"## N = {n}",
        "",
        f"| rank | estimator | IQM | {ci} | median | {ci} | mean | {ci} | P(> base) | {ci} | n |",
        "|---:|---|---:|---|---:|---|---:|---|---:|---|---:|",
    ]
    for r in frame[frame["batch_size"] == n].itertuples(index=False):
        cells = [str(r.rank), _md(r.estimator) + (" (base)" if r.is_base else "")]
        for m in (*METRICS, "p"):
            point = r.p_over_base if m == "p" else getattr(r, m)
            lo, hi = getattr(r, f"{m}_lo"), getattr(r, f"{m}_hi")
            cells += [_g(point), "-" if math.isnan(lo) else f"[{_g(lo)}, {_g(hi)}]"]
        lines.append("| " + " | ".join([*cells, str(r.n_runs)]) + " |")
    if len(selection.batch_sizes) > 1:
        sizes = selection.batch_sizes
        iqm = frame.pivot(index="estimator", columns="batch_size", values="iqm")
        lines += ["", "## IQM at every common batch size", ""]
        lines += ["| estimator | " + " | ".join(f"N = {s}" for s in sizes) + " |"]
        lines += ["|---|" + "---:|" * len(sizes)]
        for est in frame.loc[frame["batch_size"] == n, "estimator"]:
            lines.append(f"| {_md(est)} | " + " | ".join(_g(iqm.loc[est, s]) for s in sizes) + " |")
    lines += ["", "## Problems", ""]
    lines += [
        f"- {_md(panel_text(p))} (reference {selection.references[p]})" for p in selection.panels
    ]
    if selection.left_out:
        lines += ["", "## Left out", ""]
        lines += [f"- {_md(what)}: {_md(why)}" for what, why in selection.left_out]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- files


def write_across(
    table: pd.DataFrame, selection: Selection | None, frame: pd.DataFrame, run_dir: str | Path
) -> list[Path]:
    """Write ``across_problems.csv`` and ``across_problems.md`` of :func:`across_problems`'
    ``selection`` and ``frame`` (of ``table``) into ``run_dir`` (atomically); none when the
    selection is None. Returns the paths written."""
    if selection is None:
        return []
    markdown = across_markdown(selection, frame, suite_title(table))
    return write_table_files(frame, markdown, run_dir, ACROSS_CSV, ACROSS_MD, "%.17g")
