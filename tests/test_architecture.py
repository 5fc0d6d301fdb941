"""The layout keeps its promises: the engine imports nothing above it, and no module imports itself back.

Read with the standard library's ast over the package's source, function-local
imports included (an import inside a function is still a dependency); imports
under ``if TYPE_CHECKING:`` are for type checkers only and are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from helpers import REPO

import bpcli

PACKAGE = REPO / "bpcli"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    """The bpcli modules a tree imports (a name imported from a package counts as its submodule if it is one)."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if _is_type_checking_block(node):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "bpcli")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bpcli":
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & modules
            found.update(submodules or {node.module})
            if len(submodules) < len(node.names):
                found.add(node.module)
        stack.extend(ast.iter_child_nodes(node))
    return found


def import_graph() -> dict[str, set[str]]:
    paths = [p for p in PACKAGE.rglob("*.py") if not p.name.startswith("_lalr")]
    modules = {_module_name(p) for p in paths}
    graph = {}
    for path in paths:
        name = _module_name(path)
        graph[name] = {m for m in _imports(ast.parse(path.read_text(encoding="utf-8")), modules) if m != name}
        # Importing a submodule runs its package's __init__ first, but that is no dependency of the code.
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, iterators = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while path:
            following = next(iterators[-1], None)
            if following is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(following) == 1:
                return path[path.index(following):] + [following]
            elif following in graph and not state.get(following):
                state[following] = 1
                path.append(following)
                iterators.append(iter(sorted(graph[following])))
    return None


def test_no_module_imports_itself_back():
    graph = import_graph()
    assert {"bpcli.engine.problem", "bpcli.analyses.grad", "bpcli.views", "bpcli.cli.shared"} <= set(graph)
    assert "bpcli.engine.graph" in graph["bpcli.engine.problem"]  # the graph is read, not empty
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_engine_imports_nothing_above_it():
    upward = {
        (module, imported)
        for module, imports in import_graph().items()
        if module.startswith("bpcli.engine")
        for imported in imports
        if not imported.startswith("bpcli.engine")
    }
    assert upward == set()


def test_views_import_no_analysis_and_no_command():
    """Views read results (typed under TYPE_CHECKING) and never call back into the analyses or the CLI."""
    upward = {
        (module, imported)
        for module, imports in import_graph().items()
        if module.startswith("bpcli.views")
        for imported in imports
        if imported.startswith(("bpcli.analyses", "bpcli.cli"))
    }
    assert upward == set()


def test_a_limit_given_to_one_run_does_not_outlive_it():
    """--max-elements is a value passed to the run, not a module global that later runs inherit."""
    from typer.testing import CliRunner

    from bpcli.cli import app

    refused = CliRunner().invoke(app, ["grad", "sum(outer(x, x))", "-x", "[1, 2, 3]", "--max-elements", "5"])
    assert refused.exit_code == 2 and "the limit is 5" in refused.stderr
    after = bpcli.grad("sum(outer(x, x))", x=[1, 2, 3])
    assert after.value == 36.0 and after.gradients["x"].tolist() == [12.0, 12.0, 12.0]
    with pytest.raises(bpcli.BpcliError, match="the limit is 5"):
        bpcli.grad("sum(outer(x, x))", x=[1, 2, 3], limits=bpcli.Limits(max_elements=5))


def test_named_tuples_are_the_record_modules():
    """typing.NamedTuple compiles each annotation text as a class is made, and a run's first compile() costs
    1.5 ms of start-up (engine/record.py): bpcli's NamedTuples are engine.record's, which mypy reads as typing's."""
    from_typing = sorted(
        str(path.relative_to(REPO))
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "typing"
        and any(alias.name == "NamedTuple" for alias in node.names)
    )
    assert from_typing == ["bpcli/engine/record.py"]  # the one that hands typing's to mypy
