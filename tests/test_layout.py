"""The shape of the code: no import cycle in monitor/, the layers import downwards only, and no
test module imports another (what tests share lives in tests/helpers.py).

The import graph is read from the source with ``ast``, not by importing, and it counts EVERY
import statement: module-level, inside functions, and under ``if TYPE_CHECKING``. A function-level
import is how a cycle usually hides (config.py once imported the matcher inside a function: it
never failed at import time, yet config, the bottom layer, depended on the matcher, which depends
on config). What we want is modules that can be read and changed from the bottom up, so a
dependency counts wherever it is written. Importing ``a.b.c`` also runs the ``__init__`` of ``a``
and ``a.b``, so the edge goes to those packages too (except the importer's own packages, which
Python has always initialised first).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "monitor"
TESTS = ROOT / "tests"


def _modules() -> dict[str, Path]:
    """Every module of monitor/ by dotted name (packages by their own name), migrations aside:
    Alembic runs those, nothing imports them."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imported_names(name: str, path: Path) -> Iterator[str]:
    """The dotted names ``path`` imports (``from a import b`` gives ``a.b``: b may be a module)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of monitor/ it imports (and the packages whose __init__ that runs)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target in _imported_names(name, path):
            while target and target not in modules:  # a.b.func -> a.b
                target = target.rpartition(".")[0]
            while target and target != "monitor":
                if target != name and not name.startswith(target + "."):
                    graph[name].add(target)
                target = target.rpartition(".")[0]
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_graph_sees_function_level_and_package_imports():
    graph = import_graph()
    assert "monitor.scheduler" in graph["monitor.cli.run"]  # imported inside the command
    assert "monitor.alerts" in graph["monitor.checks"]  # monitor.alerts.send runs alerts/__init__
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_monitor():
    graph = import_graph()
    found = cycles(graph)
    detail = ["; ".join(f"{m} -> {', '.join(sorted(graph[m] & set(c)))}" for m in c) for c in found]
    assert not found, "import cycles:\n" + "\n".join(detail)


def test_layers_import_downwards():
    """cli calls the library and nothing calls cli; config is the bottom layer."""
    graph = import_graph()
    for module, targets in graph.items():
        if not module.startswith("monitor.cli"):
            assert not {t for t in targets if t.startswith("monitor.cli")}, (
                f"{module} imports the command line"
            )
    assert graph["monitor.config"] <= {"monitor.configfile"}, graph["monitor.config"]
    assert graph["monitor.configfile"] == set()


def test_no_test_module_imports_another():
    """Test modules share through tests/helpers.py (and servers.py, sitegen.py), never each other:
    importing a test module runs its tests' imports and may collect its tests twice."""
    offenders = []
    for path in sorted(TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ("tests." if node.level else "") + (node.module or "")
                names = [base, *(f"{base.rstrip('.')}.{alias.name}" for alias in node.names)]
            for name in names:
                last = name.rstrip(".").rsplit(".", 1)[-1]
                if name.startswith("tests.") and (last.startswith("test_") or last == "conftest"):
                    offenders.append(f"{path.name}:{node.lineno} imports {name}")
    assert not offenders, "\n".join(offenders)
