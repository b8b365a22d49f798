"""The package's shape: no import cycles (function-level imports included), and imports at the top.

A cycle hidden by a function-level import still ties two modules together: neither can be read,
tested or replaced alone. So the graph here includes every ``import`` anywhere in a module.
Function-level imports are allowed only for the optional Dask extra and in the CLI, which keeps
``taskspace --help`` and argument errors fast by importing torch only for commands that need it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import taskspace_core

PACKAGE = Path(taskspace_core.__file__).parent
# imported where used: the taskspace[distributed] extra, and `datasets` (half a second of import
# for every process otherwise; only BLiMP's `hf:` sources need it)
OPTIONAL = {"distributed", "datasets"}
LAZY_MODULES = {"cli", "cli.args", "cli.commands", "cli.main"}  # startup time: see the module docstring


def _module(path: Path) -> str:
    """A package file's dotted name inside the package: ``analysis.claims``; ``analysis`` for its ``__init__``."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p) for p in PACKAGE.rglob("*.py") if "slides_assets" not in p.parts}


def _imports(path: Path, name: str | None = None) -> list[tuple[str, bool, int]]:
    """``(imported module, at function level, line)`` for every import in a module of the package.

    Package modules are named by their dotted path inside the package (``analysis.claims``);
    others are ``external:<top name>``.
    """
    tree = ast.parse(path.read_text())
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
    name = name or _module(path)
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            base = here[: len(here) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            # `from ..corpora import blimp` names a module; `from .plots import x` names attributes
            targets = [f"taskspace_core.{'.'.join(base + [a.name])}" if ".".join(base + [a.name]) in MODULES
                       else f"taskspace_core.{'.'.join(base)}" for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            targets = [node.module or ""]
        else:
            continue
        for name in targets:
            ours = name == "taskspace_core" or name.startswith("taskspace_core.")
            inner = name.removeprefix("taskspace_core").lstrip(".")
            found.append((inner if ours else f"external:{name.split('.')[0]}", id(node) in nested, node.lineno))
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py") if "slides_assets" not in p.parts}
    return {m: {name for name, _, _ in _imports(path) if name in MODULES and name != m and name}
            for m, path in files.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _find_cycle(graph) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_sit_at_the_top_of_modules():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if _module(path) in LAZY_MODULES:
            continue
        for name, nested, line in _imports(path):
            if nested and name.removeprefix("external:") not in OPTIONAL:
                offenders.append(f"{path.relative_to(PACKAGE)}:{line} imports {name} inside a function")
    assert not offenders, "\n".join(offenders)


def test_the_import_scan_sees_function_level_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom ..corpora import blimp\n\ndef f():\n    from ..engine.probing import x\n"
                      "    import distributed\n")
    assert sorted(_imports(module, "analysis.m")) == [("corpora.blimp", False, 2), ("engine.probing", True, 5),
                                                      ("external:distributed", True, 6), ("external:os", False, 1)]


# The layers, from the ground up: base (config, paths, errors, provenance) < corpora < lm <
# analysis < results < engine < plan < findings < book < cli. What a layer must never reach, directly or
# through another module: reading and analysis never reach what trains or fine-tunes a model,
# the data layer no model at all.
COMPUTE = ("engine", "lm.pretrain", "plan.ensure", "plan.reproduce")
NEVER = {
    "corpora": ("lm", "engine", "analysis", "results", "plan", "book", "cli"),
    "lm": ("engine", "analysis", "results", "plan", "book", "cli"),
    "analysis": (*COMPUTE, "results", "plan", "findings", "book", "cli"),
    "results": (*COMPUTE, "plan", "findings", "book", "cli"),
    "engine": ("plan", "findings", "book", "cli"),
    "findings": (*COMPUTE, "book", "cli"),
    "plan.requests": (*COMPUTE, "book", "cli"),
    "plan.checks": (*COMPUTE, "book", "cli"),
    "plan.stages": (*COMPUTE, "book", "cli"),
    "plan.cost": (*COMPUTE, "book", "cli"),
    "book.explorer": COMPUTE,
    "book.exercises": COMPUTE,
    "book.measurements": COMPUTE,
    "book.plots": COMPUTE,
}
BASE = ("config", "paths", "errors", "provenance")


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _under(module: str, place: str) -> bool:
    return module == place or module.startswith(place + ".")


def test_each_layer_reaches_only_the_layers_below_it():
    graph = _graph()
    offenders = []
    for module in sorted(graph):
        rules = [forbidden for place, forbidden in NEVER.items() if _under(module, place)]
        if any(_under(module, base) for base in BASE):
            rules.append(tuple(p for p in NEVER if "." not in p) + ("book", "cli"))
        for forbidden in rules:
            reached = sorted(m for m in _reaches(graph, module) if any(_under(m, f) for f in forbidden))
            if reached:
                offenders.append(f"{module} reaches {', '.join(reached)}")
    assert not offenders, "\n".join(offenders)


def test_the_layering_check_sees_an_indirect_import():
    graph = {"analysis.x": {"results.y"}, "results.y": {"engine.z"}, "engine.z": set()}
    assert "engine.z" in _reaches(graph, "analysis.x")


def test_modules_and_functions_stay_short():
    """No module over 400 lines, no function over 80 (a function may say in its docstring why it is longer)."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 400:
            long.append(f"{path.relative_to(PACKAGE)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                if "longer than" not in (ast.get_docstring(node) or ""):
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: "
                                f"{node.end_lineno - node.lineno + 1} lines")
    assert not long, "\n".join(long)
