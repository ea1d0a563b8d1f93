"""The layout holds: imports run one way, with no circle (none hidden in a function either).

Every import of our packages is read from the source (module level and inside functions);
`from a import b` counts as importing the module a.b when there is one, else a. The graph
of our modules must have no cycle, and the layers must point one way:
bot -> cases -> routing, scheduler, nlu, store; bot -> tuning -> nlu, store; scheduler -> routing, store;
every package -> telemetry (a leaf that imports nothing of ours); nothing below
bot imports bot, nothing below cases imports cases.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "cases", "routing", "scheduler", "nlu", "store", "tuning", "telemetry")
# what each package may import (besides itself)
# telemetry (the metrics recorded where things happen) is a leaf every layer may record into
ALLOWED = {
    "bot": {"cases", "routing", "scheduler", "nlu", "store", "tuning", "telemetry"},
    "tuning": {"nlu", "store", "telemetry"},
    "cases": {"routing", "scheduler", "nlu", "store", "telemetry"},
    "scheduler": {"routing", "store", "telemetry"},
    "routing": {"telemetry"},
    "nlu": {"telemetry"},
    "store": {"telemetry"},
    "telemetry": set(),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The longest module of ours that `name` is or lies in."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                base = ".".join(parent[:len(parent) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t for t in names if _resolve(t) == t]
            if len(targets) < len(names):  # some names are the package's own attributes
                targets.append(base)
        else:
            continue
        for target in targets:
            resolved = _resolve(target)
            if resolved and resolved != module:
                found.add(resolved)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def test_no_import_cycles():
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [])
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_one_way(package):
    wrong = sorted((module, target) for module, targets in GRAPH.items() if module.split(".")[0] == package
                   for target in targets if target.split(".")[0] not in ALLOWED[package] | {package})
    assert wrong == []


def test_channels_are_read_only_inside_their_folder():
    """Outside bot/channels/<name>/ nothing imports a channel's own modules (the registry
    bot/channels/__init__.py and the composition root bot/runtime.py excepted)."""
    wrong = sorted((module, target) for module, targets in GRAPH.items() for target in targets
                   if target.startswith("bot.channels.") and target != "bot.channels.base"
                   and not module.startswith(".".join(target.split(".")[:3]))
                   and module not in ("bot.channels", "bot.runtime"))
    assert wrong == []


LIFECYCLE_ROWS = ("Assignment", "DeadlineChange", "Outbox")


def test_only_the_lifecycle_creates_assignments_deadline_changes_and_outbox_rows():
    """The redesign's promise (issue 10): cases/lifecycle.py and cases/outbox.py are the only
    places that construct these rows; the worker, the console, the CLI and the scheduler call
    them. A constructor call (`Outbox(...)`) anywhere else is a second lifecycle."""
    allowed = {"cases.lifecycle", "cases.outbox"}
    wrong = []
    for module, path in MODULES.items():
        if module in allowed or module.startswith("store."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name in LIFECYCLE_ROWS:
                    wrong.append(f"{module}:{node.lineno} {name}(...)")
    assert wrong == []
