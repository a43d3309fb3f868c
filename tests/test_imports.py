"""No module of mcp_central imports itself in a circle, however indirectly.

Every module under ``src/mcp_central`` is parsed (never imported) and every import counts: at the
top, under ``if TYPE_CHECKING:``, inside a function. A circle hidden behind a type-checking guard
or a function-local import is still two modules that cannot be understood, tested or changed one
without the other; the layers (``docs/architecture.md``) only hold if the graph is a DAG.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mcp_central

PACKAGE = "mcp_central"
SOURCE = Path(mcp_central.__file__).parent


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (at ``root``) by dotted name; a package by its own name."""
    found = {}
    for path in root.rglob("*.py"):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Which modules of ``package`` each of its modules imports, wherever the import statement is.

    ``from a import b`` counts as importing ``a.b`` when that is a module, else ``a``; importing a
    module also runs its parent packages, so those count too."""
    known = modules(root, package)

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    source = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    source = node.module or ""
                targets = [f"{source}.{alias.name}" for alias in node.names] + [source]
            else:
                continue
            for target in targets:
                module = owner(target)
                while module is not None:
                    imported.add(module)
                    module = owner(module.rpartition(".")[0])  # its parent packages run first
        imported.discard(name)
        graph[name] = {module for module in imported if not name.startswith(module + ".")}
    return graph


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def test_no_module_of_mcp_central_is_in_an_import_circle() -> None:
    found = circles(import_graph(SOURCE, PACKAGE))
    assert [sorted(circle) for circle in found] == [], "modules that import each other in a circle"


def test_circles_hidden_behind_type_checking_and_function_imports_are_found(tmp_path: Path) -> None:
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "sub" / "__init__.py").write_text("")
    (root / "sub" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub.b import B\n"
    )
    (root / "sub" / "b.py").write_text("def f():\n    from . import c\n")
    (root / "sub" / "c.py").write_text("import pkg.sub.a\n")
    (root / "d.py").write_text("from .sub import a\n")
    graph = import_graph(root, "pkg")
    assert graph["pkg.d"] == {"pkg.sub", "pkg.sub.a"}
    assert circles(graph) == [{"pkg.sub.a", "pkg.sub.b", "pkg.sub.c"}]
    (root / "sub" / "b.py").write_text("def f():\n    return 1\n")
    assert circles(import_graph(root, "pkg")) == []
