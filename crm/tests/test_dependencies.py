"""The apps depend one way and no module imports another in a circle (DESIGN.md, "Layout").

    crm's foundations  <-  players  <-  vip  <-  campaigns  <-  crm's workplace (and the demo)

Read from the source with `ast`, so an import hidden inside a function counts as much as one at
the top of a module: both make the lower app unusable without the upper one. Tests, migrations
and management commands of the top layer are left out; a test may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("crm", "players", "vip", "campaigns")

# What sits on top of every app: it may import any of them.
WORKPLACE = (
    "crm.workplace",
    "crm.templatetags",
    "crm.demo",
    "crm.demo_story",
    "crm.urls",
    "crm.tasks",
    "crm.management",
    "crm.apps",
    "crm.nightly",
)
RANK = {"crm": 0, "players": 1, "vip": 2, "campaigns": 3}
TOP = 4


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _skipped(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return "tests" in parts or "migrations" in parts


def _rank(module: str) -> int:
    if module.startswith(WORKPLACE) or module in {"crm", "crm.settings", "crm.settings_test", "crm.wsgi", "crm.celery"}:
        return TOP
    return RANK[module.split(".")[0]]


def _imports(path: Path, module: str) -> set[str]:
    """Every project module `path` imports, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }  # imports for type hints only: nothing runs them
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] in APPS)
    return found


def _graph() -> dict[str, set[str]]:
    files = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if not _skipped(path):
                files[_module_name(path)] = path
    graph = {}
    for module, path in files.items():
        # `from x import y` names y as a module when it is one, else x itself.
        targets = set()
        for name in _imports(path, module):
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


# Upward imports not yet turned round (issue 18's closing note says how each would go). The
# list may only shrink: a new upward import fails the test.
NOT_YET: set[str] = set()


def test_apps_depend_one_way():
    graph = _graph()
    upward = {
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if _rank(target) > _rank(module)
    }
    assert upward - NOT_YET == set()
    assert NOT_YET - upward == set(), "turned round: take it off NOT_YET"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules on it, or None (iterative DFS: the graph is deep)."""
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child) :] + [child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph.get(child, ())))))
    return None


def _without_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's `__init__` re-exporting its own modules is not a cycle of design."""
    return {
        module: {t for t in targets if not (t.startswith(module + ".") or module.startswith(t + "."))}
        for module, targets in graph.items()
    }


def test_no_module_imports_another_in_a_circle():
    assert _cycle(_without_packages(_graph())) is None


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ],
)
def test_the_cycle_finder_finds_a_circle(graph, expected):
    assert _cycle(graph) == expected
