"""YAML text -> (node tree with positions, Python data), refusing what a suite cannot be.

Duplicate keys, keys YAML does not read as strings, nesting deeper than
:data:`MAX_DEPTH`, alias cycles and alias bombs (more than :data:`MAX_NODES` values with
aliases expanded) are one-line :class:`~pgbench.suite.errors.SuiteError` s at their node;
:func:`position` finds the line and column of a location in the tree.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path

import yaml

from pgbench.suite.errors import Loc, SuiteError, one_line


def read_suite(path: str | Path) -> str:
    """The text of the suite file ``path``; :class:`SuiteError` (one line) if it cannot be
    read (``path: cannot read suite: reason``) or is not UTF-8 (``path:LINE:COL: ...`` at
    the first byte that is not)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read suite: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        line, col = _line_col(good, len(good))
        raise SuiteError(
            f"{path}:{line}:{col}: suite is not UTF-8 text (byte 0x{data[exc.start]:02x})"
        ) from None


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character ``index`` of ``text``."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def compose(text: str, filename: str):
    """(root node, Python data) of a one-document YAML text, rejecting duplicate keys and
    what :class:`_SuiteLoader` refuses (deep nesting, alias cycles and bombs)."""
    try:
        loader = _SuiteLoader(text, filename)
        try:
            node = loader.get_single_node()
            if node is not None:
                _reject_duplicate_keys(node, filename)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:  # not expected below MAX_DEPTH; a deep call stack at the caller
        raise SuiteError(f"{filename}:1:1: YAML nesting too deep to read") from None
    except yaml.MarkedYAMLError as exc:
        mark, context = exc.problem_mark or exc.context_mark, exc.context
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        cmark = exc.context_mark
        if context and cmark is not None and (cmark.line + 1, cmark.column + 1) != (line, col):
            context += f" started at {cmark.line + 1}:{cmark.column + 1}"
        what = ": ".join(p for p in (context, exc.problem) if p) or "invalid YAML"
        what = " ".join(what.split())  # one line
        raise SuiteError(f"{filename}:{line}:{col}: YAML syntax error: {what}") from None
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position) if isinstance(exc.position, int) else (1, 1)
        char = exc.character
        code = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        raise SuiteError(
            f"{filename}:{line}:{col}: YAML error: character {code} is not allowed in YAML text"
            " (control characters other than tab and newline)"
        ) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{filename}:1:1: YAML error: {one_line(exc)}") from None
    if node is None:
        raise SuiteError(f"{filename}:1:1: suite is empty")
    return node, data


MAX_DEPTH = 100  # lists and mappings nested in one another
MAX_NODES = 100_000  # scalars, lists and mappings of the document with every alias expanded


class _SuiteLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing (one line, at the offending node) a document that
    nests lists and mappings deeper than :data:`MAX_DEPTH`, an alias inside the list or
    mapping it names (a cycle), and a document larger than :data:`MAX_NODES` nodes with
    every alias expanded (a "billion laughs").

    Checked while composing, before anything is built: PyYAML's composer recurses per
    level, and what comes after it (duplicate keys, construction, pydantic, hashing)
    walks the expanded tree, which an alias bomb makes astronomically large.
    """

    def __init__(self, text: str, filename: str) -> None:
        super().__init__(text)
        self.filename = filename
        self.depth = 0
        self.expanded = 0  # nodes composed so far, an alias counting its node's size
        self.sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size
        self.open: list[str] = []  # anchors of the lists / mappings being composed

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.open:
                self._fail(event, f"alias *{event.anchor} is inside the node it names (a cycle)")
            node = super().compose_node(parent, index)  # an undefined alias raises here
            self._count(self.sizes.get(id(node), 1), event)
            return node
        if isinstance(event, yaml.CollectionStartEvent) and self.depth >= MAX_DEPTH:
            self._fail(event, f"lists and mappings nested deeper than {MAX_DEPTH} levels")
        before = self.expanded
        self._count(1, event)
        self.depth += 1
        self.open.append(event.anchor)
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
            self.open.pop()
        if event.anchor is not None:
            self.sizes[id(node)] = self.expanded - before
        return node

    def _count(self, n: int, event: yaml.Event) -> None:
        self.expanded += n
        if self.expanded > MAX_NODES:
            self._fail(
                event,
                f"the suite has more than {MAX_NODES:,} values with its aliases expanded "
                "(an alias bomb?)",
            )

    def _fail(self, event: yaml.Event, msg: str) -> typing.NoReturn:
        m = event.start_mark
        raise SuiteError(f"{self.filename}:{m.line + 1}:{m.column + 1}: {msg}")


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


def _reject_duplicate_keys(node: yaml.Node, filename: str) -> None:
    """Duplicate keys (at the second one) and keys that YAML does not read as strings
    (``1:``, ``~:``, ``on:``; a suite's keys are all names) are errors."""
    for child in _walk(node):
        if isinstance(child, yaml.MappingNode):
            seen: set = set()
            for key, _ in child.value:
                m = key.start_mark
                where = f"{filename}:{m.line + 1}:{m.column + 1}"
                if isinstance(key, yaml.ScalarNode) and key.tag == _MERGE:
                    continue
                if not isinstance(key, yaml.ScalarNode):
                    raise SuiteError(f"{where}: a key must be a name, not a list or mapping")
                if key.tag != _STR:
                    raise SuiteError(
                        f"{where}: key {key.value!r} is not read as a string by YAML; "
                        f"quote it ('{key.value}') or use a name"
                    )
                if key.value in seen:
                    raise SuiteError(f"{where}: duplicate key {key.value!r}")
                seen.add(key.value)


def _walk(node: yaml.Node) -> Iterator[yaml.Node]:
    """Every node under ``node`` once (an aliased node is one node reached twice)."""
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        yield n
        if isinstance(n, yaml.MappingNode):
            stack.extend(v for pair in n.value for v in pair)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)


def position(root: yaml.Node, loc: Loc, at_key: bool) -> tuple[int, int]:
    """1-based (line, col) of the deepest node along ``loc`` (the key node if ``at_key``)."""
    node = root
    for i, part in enumerate(loc):
        nxt = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    nxt = key if (at_key and i == len(loc) - 1) else value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                nxt = node.value[part]
        if nxt is None:
            break
        node = nxt
    return node.start_mark.line + 1, node.start_mark.column + 1
