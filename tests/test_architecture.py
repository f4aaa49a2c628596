"""The shape of the package: no import cycle (function-level imports included), every
top-level module placed in the import contracts of ``pyproject.toml``, and function-level
imports of pgbench modules only where a comment says why.

``lint-imports`` (run by ``nox -s tests``) checks the contracts themselves; these tests
check what the contracts cannot: that no module escapes them, and that there is no
circle even inside one layer.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pgbench"


def _module_names() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package (a package is its
    ``__init__``)."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        names[dotted.removesuffix(".__init__")] = path
    return names


def _owner(name: str, modules: dict) -> str | None:
    """The module ``name`` is, or is in (``pgbench.kernels.cpu.jit`` -> ``pgbench.kernels.cpu``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


class _Graph:
    """pgbench's imports, module-level and function-level. ``from P import x`` imports P
    itself as well as P.x: it runs P's ``__init__`` first, so a module of P that does it
    depends on P. The root package (the public API, re-exported) is left out: importing it
    from inside closes a loop only through another module, which is counted."""

    def __init__(self) -> None:
        self.modules = _module_names()
        self.edges: dict[str, set[str]] = {m: set() for m in self.modules}
        for m, path in self.modules.items():
            is_package = path.name == "__init__.py"
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        parts = m.split(".")
                        parts = parts[: len(parts) - node.level + int(is_package)]
                        base = ".".join([*parts, *([node.module] if node.module else [])])
                    targets = [base, *(f"{base}.{a.name}" for a in node.names)]
                else:
                    continue
                for target in targets:
                    owner = _owner(target, self.modules) if target.startswith("pgbench") else None
                    if owner and owner != m and owner != "pgbench":
                        self.edges[m].add(owner)

    def find_modules_directly_imported_by(self, m: str) -> set[str]:
        return self.edges[m]


@pytest.fixture(scope="module")
def graph():
    return _Graph()


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {
        m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i.startswith("pgbench"))
        for m in graph.modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, []))))
                elif child in on_stack:
                    low[v] = min(low[v], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_among_pgbench_modules(graph):
    assert _cycles(graph) == []


def test_a_planted_cycle_is_found():
    class Planted:
        modules = {"pgbench.a", "pgbench.b", "pgbench.c"}

        def find_modules_directly_imported_by(self, m):
            return {"pgbench.a": {"pgbench.b"}, "pgbench.b": {"pgbench.a"}, "pgbench.c": set()}[m]

    assert _cycles(Planted()) == [["pgbench.a", "pgbench.b"]]


def _top_level_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    names |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    return {f"pgbench.{n}" for n in names}


def _contracts() -> list[dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return config["tool"]["importlinter"]["contracts"]


def test_every_top_level_module_has_a_layer():
    layers = next(c for c in _contracts() if c["type"] == "layers")  # the package's own
    placed = {m for layer in layers["layers"] for m in re.split(r"[|:]", layer)}
    assert _top_level_modules() == {m.strip() for m in placed} | {"pgbench.cli"} - {""}


def test_every_module_but_the_kernels_is_kept_from_numba():
    (numba,) = [c for c in _contracts() if "numba" in c.get("forbidden_modules", [])]
    assert set(numba["source_modules"]) == _top_level_modules() - {"pgbench.kernels"}


# Function-level imports of pgbench modules are allowed only with a comment on the import
# line or the line before it saying why (start-up time, an optional dependency).
def _function_level_imports() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(
                    "pgbench"
                ) or isinstance(inner, ast.Import) and any(
                    a.name.startswith("pgbench") for a in inner.names
                ):
                    here = lines[inner.lineno - 1]
                    before = lines[inner.lineno - 2] if inner.lineno > 1 else ""
                    if "#" not in here and not before.strip().startswith("#"):
                        found.append((str(path.relative_to(ROOT)), inner.lineno, here.strip()))
    return found


def test_function_level_imports_say_why():
    assert _function_level_imports() == []
