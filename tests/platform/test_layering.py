"""The code's shape holds: imports run one way (no module reaches itself through others, counting imports written
inside functions), and the migrations match the models."""

import ast
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]
LEFT_OUT = {"tests", "bench", "migrations", ".venv", "node_modules", "examples", ".git", ".ci", "docs"}


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if LEFT_OUT.intersection(relative.parts):
            continue
        name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def _resolved(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules it imports, wherever the import is written."""
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                continue
            for target in targets:
                module = _resolved(target, known)
                if module and module != name:
                    graph[name].add(module)
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other (Tarjan's strongly connected components of more than one)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_through_others():
    circles = _circles(_import_graph(_modules()))
    assert circles == [], "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def test_the_check_finds_a_circle_through_an_import_inside_a_function():
    graph = {"a.services": {"a.tasks"}, "a.tasks": {"a.services"}, "b": {"a.services"}}
    assert _circles(graph) == [["a.services", "a.tasks"]]


@pytest.mark.django_db
def test_the_migrations_match_the_models():
    try:
        call_command("makemigrations", "--check", "--dry-run", verbosity=0)
    except SystemExit as exit_:
        pytest.fail(f"models changed without a migration (makemigrations --check exited {exit_.code})")
