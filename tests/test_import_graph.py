"""Medic's modules import each other without cycles, and web and worker stay apart.

The graph is read with ``ast`` from src/medic, so it sees every import, those
inside functions included (a late import is how a cycle usually hides). Only
imports under ``if TYPE_CHECKING:`` are left out of the cycle check: they never
run. An edge goes to the module named (``from medic.web import auth`` is an edge
to ``medic.web.auth``), not to every parent package on the way.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "medic"


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, typing_only: bool = False):
    """(imported name, under TYPE_CHECKING) for every import statement in the tree."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from _imports_of(child, True)
                yield from _imports(child, True)
            for child in node.orelse:
                yield from _imports_of(child, typing_only)
                yield from _imports(child, typing_only)
            continue
        yield from _imports_of(node, typing_only)
        yield from _imports(node, typing_only)


def _imports_of(node: ast.AST, typing_only: bool):
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, typing_only
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            raise AssertionError(f"relative import of {base!r}: Medic imports absolutely")
        for alias in node.names:
            yield (f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base), typing_only


def _target(name: str) -> str | None:
    """The Medic module an imported name lives in (the longest known prefix), else None."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def graph(include_typing: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for imported, typing_only in _imports(ast.parse(path.read_text(), str(path))):
            target = _target(imported)
            if target is not None and target != name and (include_typing or not typing_only):
                edges[name].add(target)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle as [a, b, ..., a], or None when the graph is acyclic."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_graph_sees_medics_modules():
    edges = graph(include_typing=False)
    assert "medic.cli" in edges and "medic.web.app" in edges
    assert "medic.web.context" in edges["medic.web.app"]
    assert "medic.cli.common" in edges["medic.cli.server"]


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(graph(include_typing=False))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_web_and_worker_never_import_each_other():
    edges = graph(include_typing=True)  # not even for type hints
    crossing = sorted(
        f"{source} -> {target}"
        for source, targets in edges.items()
        for target in targets
        for a, b in (("medic.web", "medic.worker"), ("medic.worker", "medic.web"))
        if (source == a or source.startswith(a + ".")) and (target == b or target.startswith(b + "."))
    )
    assert crossing == []


def _raw_imports(prefix: str) -> dict[str, set[str]]:
    """Every name imported (TYPE_CHECKING included) by the modules under `prefix`."""
    found: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        if name == prefix or name.startswith(prefix + "."):
            found[name] = {imported for imported, _ in _imports(ast.parse(path.read_text(), str(path)))}
    return found


def test_key_checking_lives_outside_the_web_layer():
    for module, names in _raw_imports("medic.auth").items():
        http = sorted(n for n in names if n.split(".")[0] in ("flask", "werkzeug") or n.startswith("medic.web"))
        assert http == [], f"{module} imports {http}"
