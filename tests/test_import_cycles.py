"""candor's modules import one another without cycles.

Why a test: a cycle works only while the imports happen in a lucky order (a function-level
import hides it until that function runs), and it ties modules that should change separately.
Every ``import`` / ``from ... import`` counts, module-level and inside functions alike; a
package's ``__init__`` re-exporting a child is not a dependency of that child.
"""

from __future__ import annotations

import ast
from pathlib import Path

import candor

PACKAGE = "candor"
ROOT = Path(candor.__file__).resolve().parent


def module_files(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name → source file, for every ``.py`` file of the package."""
    out = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported_names(node: ast.AST, base: str) -> list[str]:
    """The dotted names one import statement may refer to (a module, or a name inside one)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        parts = base.split(".")
        parts = parts[: len(parts) - node.level + 1]
        module = ".".join(parts + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    return [module] + [f"{module}.{alias.name}" for alias in node.names]


def import_graph(modules: dict[str, Path], package: str = PACKAGE) -> dict[str, set[str]]:
    """Module → the package's modules it imports anywhere in its source."""

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        base = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            for target in _imported_names(node, base):
                if target.split(".")[0] != package:
                    continue
                found = resolve(target)
                if found and found != name and not name.startswith(found + "."):
                    graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return sorted(out)


def test_the_cycle_finder_finds_a_function_level_cycle(tmp_path: Path) -> None:
    """The check has teeth: a cycle closed by a relative import inside a function is found, and a
    package importing its child (while the child imports the package) is not one."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from pkg.a import f\n")
    (package / "a.py").write_text("import pkg\nfrom pkg.sub import b\n\ndef f():\n    return b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("import json\n\ndef g():\n    from ..a import f\n    return f\n")
    graph = import_graph(module_files(package, "pkg"), "pkg")
    assert graph == {"pkg": {"pkg.a"}, "pkg.a": {"pkg.sub", "pkg.sub.b"}, "pkg.sub": set(),
                     "pkg.sub.b": {"pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"]]


def test_candor_has_no_import_cycles() -> None:
    modules = module_files()
    assert len(modules) > 50, f"found only {len(modules)} modules under {ROOT}"
    found = cycles(import_graph(modules))
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)
