"""The report of a run directory: ``report.md`` and one self-contained ``report.html``.

:func:`write_report` reads the run directory only (the tidy table, ``metadata.json``
and ``failures.jsonl``), regenerates every figure and table of the experiment kinds
present (each kind's ``write_outputs``, :data:`pgbench.experiments.KINDS`), and writes:

* ``report.md``: title and description of the suite, the run metadata (date, pgbench
  version, git commit, machine, Numba threading, cell counts), the failed cells, one
  section per experiment kind with its figures (relative links to the PNG files next
  to it) and tables, and the suite text;
* ``report.html``: the same document as one file, figures embedded as base64
  ``data:`` URIs, tables as HTML tables, inline CSS, no script and no link to any
  other file, so it reads anywhere, offline (:func:`html_page`).

Every file is written atomically (:func:`pgbench.results.atomic_write_bytes`).
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pgbench import results
from pgbench.experiments import KINDS, Kind
from pgbench.experiments.recorded import recorded_settings

REPORT_MD = "report.md"
REPORT_HTML = "report.html"


# ---------------------------------------------------------------- figures and tables


def write_outputs(table: pd.DataFrame, out: str | Path, settings: dict | None = None) -> list[Path]:
    """Every figure and table of the experiment kinds in ``table`` (each kind's
    ``write_outputs``), written into ``out``: the figures of every kind, then the tables,
    kinds in :data:`~pgbench.experiments.KINDS` order. ``settings``: the run's report
    settings (``metadata.json`` ``settings``)."""
    figures, tables = [], []
    for kind in _present(table):
        for path in kind.write_outputs(table, out, settings or {}):
            (figures if path.name in kind.figures else tables).append(path)
    return [*figures, *tables]


def _present(table: pd.DataFrame) -> list[Kind]:
    """The kinds with rows in ``table``, in :data:`~pgbench.experiments.KINDS` order."""
    names = set(table["experiment"])
    return [k for k in KINDS if k.name in names]


def write_report(
    run_dir: str | Path, out: str | Path | None = None, table: pd.DataFrame | None = None
) -> list[Path]:
    """Regenerate the figures and tables of the run in ``run_dir`` and write ``report.md``
    and ``report.html`` into ``out`` (default: ``run_dir``); returns every path written,
    the two reports last. ``table``: the run's table when the caller has just loaded it
    (default: loaded from ``run_dir``). Raises :class:`~pgbench.results.ResultsError`
    when ``run_dir`` holds no finished cell."""
    run_dir = Path(run_dir)
    table = _load_table(run_dir) if table is None else table
    meta = _metadata(run_dir)
    settings = _settings(meta)
    out = Path(out) if out is not None else run_dir
    out.mkdir(parents=True, exist_ok=True)
    written = write_outputs(table, out, settings)
    doc = Document(
        title=_title(meta, table),
        description=settings.get("description") or "",
        meta=meta,
        finished=len(results.cell_files(run_dir)),
        failures=results.read_failures(run_dir),
        files={p.name: p for p in written},
        kinds=_present(table),
    )
    text = doc.markdown()
    images = {name: p.read_bytes() for name, p in doc.files.items() if name.endswith(".png")}
    page = html_page(doc.title, text, images)
    md_path, html_path = out / REPORT_MD, out / REPORT_HTML
    results.atomic_write_text(md_path, text)
    results.atomic_write_text(html_path, page)
    return [*written, md_path, html_path]


def _load_table(run_dir: Path) -> pd.DataFrame:
    if not run_dir.is_dir():
        raise results.ResultsError(f"no results at {run_dir}: not a directory")
    table = results.load_results(run_dir)
    if table.empty:
        raise results.ResultsError(f"no results in {run_dir}: no finished cell")
    return table


def _metadata(run_dir: Path) -> dict:
    """``metadata.json`` of the run, or {} where there is none."""
    path = run_dir / results.METADATA
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise results.ResultsError(f"{path}: not a pgbench metadata file") from None
    return meta if isinstance(meta, dict) else {}


def _settings(meta: dict) -> dict:
    """The suite's report settings, resolved by the runner (``metadata.json`` ``settings``),
    completed from the stored suite text for a run written before some were recorded
    (:func:`pgbench.experiments.recorded.recorded_settings`)."""
    return recorded_settings(meta)


def _title(meta: dict, table: pd.DataFrame) -> str:
    name = (meta.get("suite") or {}).get("name")
    return name or ", ".join(dict.fromkeys(table["suite"].astype(str)))


# ---------------------------------------------------------------- the Markdown document


@dataclass
class Document:
    """What a report says; :meth:`markdown` writes it."""

    title: str
    description: str
    meta: dict
    finished: int
    failures: list[dict]
    files: dict[str, Path]
    kinds: list[Kind]

    def markdown(self) -> str:
        parts = [f"# pgbench report: {self.title}"]
        if self.description:
            parts.append(self.description.strip())
        parts += [self._metadata(), self._failures()]
        parts += [self._kind(k) for k in self.kinds]
        parts.append(self._suite_text())
        return "\n\n".join(p for p in parts if p) + "\n"

    def _metadata(self) -> str:
        items = [*_run_items(self.meta, self.title), ("cells", self._counts())]
        return "## Run\n\n" + "\n".join(f"- **{k}**: {_md(v)}" for k, v in items)

    def _counts(self) -> str:
        total = len(self.meta.get("cells") or []) or self.finished
        text = f"{total} in the suite: {self.finished} finished, {len(self.failures)} failed"
        last = self.meta.get("counts")
        if isinstance(last, dict):
            text += (
                f" (last run: {last.get('done', 0)} run, {last.get('skipped', 0)} already "
                f"finished, {last.get('failed', 0)} failed)"
            )
        return text

    def _failures(self) -> str:
        if not self.failures:
            return ""
        head = ("cell", "env", "policy", "theta", "method", "seed", "failure", "error")
        keys = ("cell", "env", "policy", "theta", "method", "seed", "status", "error")
        rows = [[f.get(k) for k in keys] for f in self.failures]
        n = len(self.failures)
        return (
            f"## Failures\n\n{n} {'cell' if n == 1 else 'cells'} failed in the last run "
            f"(`{results.FAILURES}` holds their tracebacks).\n\n" + _pipe_table(head, rows)
        )

    def _kind(self, kind: Kind) -> str:
        parts = [f"## {kind.title}"]
        parts += [f"![{name}]({name})" for name in kind.figures if name in self.files]
        for name in kind.tables:
            if name in self.files:
                parts.append(_demote(self.files[name].read_text(encoding="utf-8").strip(), 2))
        return "\n\n".join(parts)

    def _suite_text(self) -> str:
        text = (self.meta.get("suite") or {}).get("text")
        if not text:
            return ""
        fence = "````" if "```" in text else "```"
        return f"## Suite\n\n{fence}yaml\n{text.rstrip()}\n{fence}"


def _run_items(meta: dict, title: str) -> list[tuple[str, str]]:
    """(name, text) of the run's suite, date, version and commit, machine, Numba, versions."""
    suite, git = meta.get("suite") or {}, meta.get("git") or {}
    machine, nb = meta.get("machine") or {}, meta.get("numba") or {}
    seconds = meta.get("seconds")
    written = f"{_unknown(meta.get('written'))}, status {_unknown(meta.get('status'))}"
    if isinstance(seconds, (int, float)):
        written += f", {seconds:.1f} s"
    dirty = " (with uncommitted changes)" if git.get("dirty") else ""
    cpus = f"{_unknown(machine.get('cpu_count'))} CPUs ({_unknown(machine.get('affinity'))} usable)"
    numba = (
        f"{_unknown(nb.get('numba'))}, threading layer {_unknown(nb.get('threading_layer'))}, "
        f"{_unknown(nb.get('num_threads'))} threads, {_unknown(nb.get('cpu_lanes'))} CPU lanes, "
        f"kernel source sha256 {_code(nb.get('kernel_source_sha256'))}"
    )
    versions = ", ".join(f"{k} {v}" for k, v in (meta.get("versions") or {}).items())
    return [
        (
            "suite",
            f"{title} ({_unknown(suite.get('experiment'))}), file {_code(suite.get('file'))}",
        ),
        ("written", written),
        (
            "pgbench",
            f"{_unknown(meta.get('pgbench'))}, git commit {_code(git.get('commit'))}{dirty}",
        ),
        (
            "machine",
            f"{_unknown(machine.get('platform'))}, {_unknown(machine.get('machine'))}, "
            f"{_unknown(machine.get('cpu_model'))}, {cpus}",
        ),
        ("Numba", numba),
        ("versions", versions or "unknown"),
    ]


def _unknown(value) -> str:
    return "unknown" if value is None or value == "" else str(value)


def _code(value) -> str:
    return "unknown" if not value else f"`{value}`"


def _md(text) -> str:
    """A table cell or list item on one line, its pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _pipe_table(head: Iterable[str], rows: Iterable[Iterable]) -> str:
    head = list(head)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_md("-" if v is None else v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _demote(text: str, levels: int) -> str:
    """``text`` with every ATX heading ``levels`` deeper (at most ``######``)."""
    return re.sub(
        r"^(#{1,6}) ",
        lambda m: "#" * min(6, len(m.group(1)) + levels) + " ",
        text,
        flags=re.MULTILINE,
    )


# ---------------------------------------------------------------- Markdown -> HTML

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;line-height:1.45;color:#222}
h1,h2{border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.85em;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .5em}th{background:#f3f3f3}
tr:nth-child(even) td{background:#fafafa}
img{max-width:100%;height:auto}figure{margin:1em 0}
code{background:#f3f3f3;padding:0 .2em}pre{background:#f6f6f6;padding:.8em;overflow-x:auto}
pre code{background:none;padding:0}
"""
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_IMAGE = re.compile(r"^!\[([^\]]*)\]\(([^)\s]+)\)$")
_HEADING = re.compile(r"^(#{1,6}) (.*)$")
_ALIGN = {(False, True): "right", (True, True): "center", (True, False): "left"}


def html_page(title: str, markdown: str, images: dict[str, bytes]) -> str:
    """One self-contained HTML page of ``markdown``; each image line ``![alt](name)`` becomes
    an ``<img>`` holding ``images[name]`` as a base64 PNG data URI."""
    body = "\n".join(_blocks(markdown.splitlines(), images))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _blocks(lines: list[str], images: dict[str, bytes]) -> Iterable[str]:
    """HTML of the Markdown blocks this module writes: headings, paragraphs, lists, pipe
    tables, fenced code and image lines."""
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("```"):
            fence = re.match(r"`+", line).group(0)
            end = next((j for j in range(i + 1, len(lines)) if lines[j] == fence), len(lines))
            yield "<pre><code>" + html.escape("\n".join(lines[i + 1 : end])) + "</code></pre>"
            i = end + 1
        elif m := _HEADING.match(line):
            n = len(m.group(1))
            yield f"<h{n}>{_inline(m.group(2))}</h{n}>"
            i += 1
        elif m := _IMAGE.match(line.strip()):
            yield _figure(m.group(1), m.group(2), images)
            i += 1
        else:
            prefix = "|" if line.startswith("|") else "- " if line.startswith("- ") else ""
            block, i = _take(lines, i, prefix)
            if prefix == "|":
                yield _html_table(block)
            elif line.startswith("- "):
                yield "<ul>\n" + "".join(f"<li>{_inline(b[2:])}</li>\n" for b in block) + "</ul>"
            else:
                yield "<p>" + _inline(" ".join(block)) + "</p>"


def _take(lines: list[str], i: int, prefix: str) -> tuple[list[str], int]:
    """The lines from ``i`` that start with ``prefix`` (a paragraph's, where empty: up to a
    blank line or another block); and the index after them."""
    block = []
    while i < len(lines) and lines[i].strip():
        line = lines[i]
        starts_block = line.startswith(("#", "```", "|", "- ")) or _IMAGE.match(line.strip())
        if (prefix and not line.startswith(prefix)) or (not prefix and block and starts_block):
            break
        block.append(line)
        i += 1
    return block, i


def _figure(alt: str, name: str, images: dict[str, bytes]) -> str:
    data = base64.b64encode(images[name]).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(name)}</figcaption></figure>"
    )


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(inner)]


def _html_table(block: list[str]) -> str:
    head, rule, rows = _cells(block[0]), _cells(block[1]) if len(block) > 1 else [], block[2:]
    align = [_ALIGN.get((r.startswith(":"), r.endswith(":")), "") for r in rule]

    def row(cells: list[str], tag: str) -> str:
        out = []
        for k, cell in enumerate(cells):
            style = f' style="text-align:{align[k]}"' if k < len(align) and align[k] else ""
            out.append(f"<{tag}{style}>{_inline(cell)}</{tag}>")
        return "<tr>" + "".join(out) + "</tr>"

    body = "\n".join(row(_cells(r), "td") for r in rows)
    return f"<table>\n<thead>{row(head, 'th')}</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _inline(text: str) -> str:
    """Inline Markdown: `code`, **bold**, escaped pipes; everything else escaped."""
    text = text.replace("\\|", "|")
    out = []
    for k, part in enumerate(re.split(r"`([^`]*)`", text)):
        if k % 2:
            out.append(f"<code>{html.escape(part)}</code>")
        else:
            out.append(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(part)))
    return "".join(out)
