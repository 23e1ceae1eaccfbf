"""Who may import whom (STYLE.md): checked on the source text, so a wrong import fails the suite."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "ocbridge"
# package → ocbridge packages it must not import
FORBIDDEN = {
    "core": {"opencart", "services", "integrations", "dashboard", "simulators", "demo"},
    "opencart": {"services", "integrations", "dashboard", "demo"},
    "services": {"opencart", "integrations", "dashboard", "simulators", "demo"},
    "simulators": {"core", "opencart", "services", "integrations", "dashboard", "demo"},
    "dashboard": {"services", "simulators"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return {n.split(".")[1] for n in names if n.startswith("ocbridge.") and n.count(".") >= 1}


def _files(package: str):
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_follow_the_layering(package):
    wrong = {str(p.relative_to(SRC)): sorted(_imports(p) & FORBIDDEN[package]) for p in _files(package)}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_integrations_do_not_import_each_other():
    wrong = {}
    for pkg in (SRC / "integrations").iterdir():
        if not pkg.is_dir() or pkg.name.startswith("__"):
            continue
        for path in pkg.rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                mod = node.module if isinstance(node, ast.ImportFrom) else None
                if mod and mod.startswith("ocbridge.integrations.") and mod.split(".")[2] != pkg.name:
                    wrong.setdefault(str(path.relative_to(SRC)), []).append(mod)
    assert wrong == {}


def _module_imports(path: Path) -> set[str]:
    """Every ocbridge module a file imports, at the top or inside a function (a lazy import is still a tie)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return {n for n in names if n.startswith("ocbridge.")}


def test_core_modules_import_each_other_without_a_circle():
    """core.models, core.jobs and core.tasks once imported each other lazily in a circle; none may again."""
    modules = {"ocbridge.core." + p.stem: p for p in (SRC / "core").glob("*.py") if p.stem != "__init__"}
    graph = {m: _module_imports(p) & set(modules) for m, p in modules.items()}
    cycles = []

    def visit(m, path):
        for n in graph[m]:
            if n in path:
                cycles.append(path[path.index(n):] + [n])
            elif n not in done:
                visit(n, path + [n])
        done.add(m)

    done: set[str] = set()
    for m in sorted(graph):
        if m not in done:
            visit(m, [m])
    assert cycles == []
