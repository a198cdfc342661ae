"""The package's architecture, checked from its source: no import circle, stages import downwards.

Every ``import`` and ``from ... import`` of ``il2sbml/`` and ``kernels/`` is read with ``ast``,
at module level and inside functions alike (a function-level import is still a dependency, only
a later one). Imports under ``if TYPE_CHECKING:`` are left out: they never run.

The stages, lowest first: ``lang`` (the modelling language), ``generate`` (rules -> frozen
Network), ``formats`` (files in and out), ``simulate`` (ODE, SSA, ensembles), ``analysis``
(assays, calibration, report), then the CLI. A module may import its own stage or a lower one;
``kernels/`` imports no part of il2sbml; nothing imports the CLI.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["lang", "generate", "formats", "simulate", "analysis"]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path, known: set[str]) -> set[str]:
    """The il2sbml/kernels modules that ``path`` imports (resolved to modules, not names)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def resolve(target: str) -> None:
        while target and target not in known:       # ``from .x import y``: y may be a module or a name
            target = target.rpartition(".")[0]
        if target:
            found.add(target)

    def visit(node):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                resolve(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                resolve(f"{prefix}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    files = sorted((ROOT / "il2sbml").rglob("*.py")) + sorted((ROOT / "kernels").rglob("*.py"))
    known = {_module_name(f) for f in files}
    return {_module_name(f): _imports(f, known) for f in files}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (as a path that returns to its start), or None. A package's own
    ``__init__`` importing its submodules is not a circle with them (Python runs it first);
    the edges from a submodule to its package's ``__init__`` are left out for that reason."""
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state and (found := dfs(t)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (found := dfs(m)):
            return found
    return None


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "il2sbml" or len(parts) < 2:
        return None
    if parts[1] in STAGES:
        return STAGES.index(parts[1])
    return len(STAGES) if parts[1] == "cli" else None


def test_no_import_circle():
    assert _cycle(import_graph()) is None, " -> ".join(_cycle(import_graph()))


def test_the_check_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"p": {"p.x"}, "p.x": {"p"}}) is None      # a package and its own submodule


def test_stages_import_downwards_and_nothing_imports_the_cli():
    graph = import_graph()
    assert {"il2sbml.lang.dsl", "il2sbml.generate.netgen", "il2sbml.formats.bngl", "il2sbml.simulate.ensemble",
            "il2sbml.analysis.calibrate", "il2sbml.cli"} <= set(graph)
    upward = [(m, t) for m, ts in graph.items() for t in ts
              if _stage(m) is not None and _stage(t) is not None and _stage(t) > _stage(m)]
    assert not upward, upward
    assert not [m for m, ts in graph.items() if "il2sbml.cli" in ts]
    assert not [(m, t) for m, ts in graph.items() if m.startswith("kernels") for t in ts if t.startswith("il2sbml")]
    # the language imports nothing above it, the kernels nothing of il2sbml: the two roots
    assert not [(m, t) for m, ts in graph.items() if m.startswith("il2sbml.lang")
                for t in ts if not t.startswith("il2sbml.lang")]


@pytest.mark.parametrize("source", ["from ..simulate import ensemble", "from ..simulate.ensemble import run",
                                    "import il2sbml.simulate.ensemble as E"])
def test_function_level_imports_are_seen(tmp_path, monkeypatch, source):
    module = tmp_path / "il2sbml" / "analysis" / "m.py"
    module.parent.mkdir(parents=True)
    module.write_text(f"def f():\n    {source}\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _imports(module, {"il2sbml.simulate.ensemble", "il2sbml.analysis.m"}) == {"il2sbml.simulate.ensemble"}


def test_public_imports_of_the_readme_keep_working():
    code = ("from il2sbml import Model, generate_network, load_model, Network, Il2sbmlError, NotSupportedError; "
            "import il2sbml, sys; "
            "assert not any(m.startswith(('il2sbml.analysis', 'il2sbml.simulate', 'il2sbml.formats.bngl')) "
            "for m in sys.modules), sorted(m for m in sys.modules if m.startswith('il2sbml'))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
