"""candor's imports run downhill only: shells → application → services → persistence → training →
domain → ground (docs/architecture.md draws the same picture).

Every ``import`` counts, module-level and inside functions alike (a lazy import is still a
dependency: it only hides until the function runs). A module may import its own layer and any
layer below; on top of the ladder, a few pairs are forbidden outright because they once held the
house's vocabulary in the wrong place (the registry, the store, the web service and the backtest
learnt what a report is from the trainer).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_import_cycles import import_graph, module_files

#: Highest layer first; a module belongs to the layer of its longest matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("shells", ("candor.cli", "candor.api", "candor.ops.jobs")),
    ("application", ("candor.application", "candor.ops", "candor.freqtrade")),
    ("services", ("candor.services",)),
    ("persistence", ("candor.registry", "candor.store")),
    ("training", ("candor.training",)),
    ("domain", ("candor.models", "candor.blend", "candor.ensemble", "candor.features", "candor.labels", "candor.split",
                "candor.evaluate", "candor.backtest", "candor.arima_garch", "candor.baselines", "candor.conformal")),
    ("ground", ("candor", "candor.records", "candor.config", "candor.data", "candor.errors", "candor.logs")),
)

#: (importer prefix, imported prefix) pairs refused even where the ladder would allow them.
FORBIDDEN = (
    ("candor.registry", "candor.training"),
    ("candor.store", "candor.training"),
    ("candor.api", "candor.training"),
    ("candor.backtest", "candor.training"),
)

#: Third-party packages a ground module must not import (config parses; it schedules nothing).
FORBIDDEN_THIRD_PARTY = {"candor.config": ("apscheduler",), "candor.records": ("sklearn", "mlflow", "sqlalchemy")}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int:
    """Index into :data:`LAYERS` (0 = top) of the layer ``module`` belongs to."""
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if _under(module, prefix) and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best[0]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    found = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            if layer_of(target) < layer_of(module):
                found.append(f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
                             f"({LAYERS[layer_of(target)][0]})")
            found += [f"{module} imports {target} (forbidden)" for low, high in FORBIDDEN
                      if _under(module, low) and _under(target, high)]
    return found


def test_the_layer_check_finds_an_upward_lazy_import() -> None:
    graph = {"candor.records.report": {"candor.errors"}, "candor.training.run": {"candor.records.report"},
             "candor.registry.gates": {"candor.records.report"}, "candor.evaluate": {"candor.registry.gates"},
             "candor.api.charts": {"candor.training.run"}}
    assert upward_imports(graph) == [
        "candor.api.charts imports candor.training.run (forbidden)",
        "candor.evaluate (domain) imports candor.registry.gates (persistence)",
    ]


def test_every_import_runs_downhill() -> None:
    graph = import_graph(module_files())
    assert len(graph) > 50
    found = upward_imports(graph)
    assert found == [], f"{len(found)} upward import(s):\n" + "\n".join(found)


def test_ground_modules_import_no_scheduler_or_heavy_stack() -> None:
    modules = module_files()
    found = []
    for name, path in modules.items():
        for prefix, packages in FORBIDDEN_THIRD_PARTY.items():
            if not _under(name, prefix):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
                found += [f"{name} imports {n}" for n in names if n.split(".")[0] in packages]
    assert found == []
