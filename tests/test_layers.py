"""The package's layers import only downward: an import graph of ``src/reawaken`` (every
``import`` statement, those inside functions included) checked against one ordered list.

    base -> simulate -> design -> analysis -> study -> evaluate -> report -> app

A module may import its own layer and those to its left. Plotting (matplotlib) lives in
``report/``; the app layer (``analyze``, the command line, the package's lazy ``__init__``)
puts the pieces together.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import reawaken

PACKAGE = Path(reawaken.__file__).parent

#: Layers, lowest first; a module belongs to the layer of its longest matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "base",
        (
            "errors",
            "checks",
            "schema",
            "inputs",
            "io",
            "outputs",
            "resources",
            "processes",
            "_optional",
            "spec_reader",
            "estimate",
            "findings",
            "study.registry",
        ),
    ),
    ("simulate", ("simulate", "scenario", "scenario_sections", "scenario_toml")),
    ("design", ("design",)),
    ("analysis", ("engine", "analysis")),
    ("study", ("study",)),
    (
        "evaluate",
        (
            "evaluate",
            "replicate_table",
            "performance",
            "power",
            "sensitivity",
            "truth",
            "inference",
            "methods_check",
            "variance_study",
            "bootstrap",
            "calibration",
            "calibration_steps",
            "cohort_builder",
            "omop",
        ),
    ),
    ("report", ("report",)),
    (
        "app",
        (
            "analyze",
            "analyze_curves",
            "analyze_output",
            "analyze_time_fixed",
            "cli",
            "synthetic",
            "certificate",
            "__init__",
            "__main__",
        ),
    ),
)
#: Third-party plotting stays in the report and app layers.
PLOTTING = ("matplotlib",)
#: Reviewed exceptions: (module, import) -> why it is not plotting.
ALLOWED = {
    ("inputs", "matplotlib.ticker"): "the default at-risk times reuse matplotlib's nice-number "
    "tick locator (no figure, no backend)",
}


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    return None if best is None else best[0]


def module_name(path: Path) -> tuple[str, list[str]]:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]) or "__init__", parts[:-1]
    return ".".join(parts), parts[:-1]


def imported(tree: ast.AST, package: list[str]) -> list[tuple[str, int]]:
    """``(module inside reawaken, line)`` for every import of the package, and
    ``("<third party>", line)`` names of plotting imports."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
                if not node.module:
                    found += [(f"{target}.{a.name}".strip("."), node.lineno) for a in node.names]
                    continue
                found.append((target, node.lineno))
            elif node.module and node.module.split(".")[0] == "reawaken":
                found.append((node.module.partition(".")[2], node.lineno))
            elif node.module and node.module.split(".")[0] in PLOTTING:
                found.append((f"<{node.module}>", node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top == "reawaken":
                    found.append((alias.name.partition(".")[2], node.lineno))
                elif top in PLOTTING:
                    found.append((f"<{alias.name}>", node.lineno))
    return found


def violations() -> list[str]:
    bad: list[str] = []
    report = layer_of("report")
    for path in sorted(PACKAGE.rglob("*.py")):
        module, package = module_name(path)
        own = layer_of(module)
        if own is None:
            bad.append(f"{module}: in no layer; add it to LAYERS")
            continue
        for target, line in imported(ast.parse(path.read_text(encoding="utf-8")), package):
            if target.startswith("<"):
                if own < report and (module, target[1:-1]) not in ALLOWED:
                    bad.append(f"{module}:{line} imports {target[1:-1]} below the report layer")
                continue
            other = layer_of(target)
            if other is not None and other > own:
                bad.append(
                    f"{module}:{line} ({LAYERS[own][0]}) imports {target} ({LAYERS[other][0]})"
                )
    return bad


def test_no_module_imports_a_higher_layer():
    found = violations()
    assert not found, "upward imports:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("module", "layer"),
    [("design.matching", "design"), ("study.registry", "base"), ("report.plots", "report")],
)
def test_layer_lookup(module, layer):
    assert LAYERS[layer_of(module)][0] == layer


def test_the_checker_sees_an_upward_import(tmp_path):
    tree = ast.parse("from ..analysis.cox import fit_cox\nimport matplotlib.pyplot as plt\n")
    targets = [t for t, _ in imported(tree, ["design"])]
    assert targets == ["analysis.cox", "<matplotlib.pyplot>"]
    assert layer_of(targets[0]) > layer_of("design.matching")
