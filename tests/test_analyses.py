"""The teaching scripts in analyses/ run top to bottom in smoke mode (small sizes, few replicates).

Each script runs in its own subprocess with ``REAWAKEN_SMOKE=1`` and the Agg backend, its figures
written to a temporary directory; it must exit with status 0, print something, run the solution of
its first exercise and write at least one figure. Together they take well under 90 s on two cores.
Static checks: the scripts use only the public API (``import reawaken as rw`` and names in
``reawaken.__all__``), and each has exercises followed by solution cells tagged ``solution``.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import reawaken

ANALYSES = Path(__file__).resolve().parents[1] / "analyses"
SCRIPTS = sorted(ANALYSES.glob("0*.py"))
TIMEOUT_SECONDS = 300


def test_scripts_are_found():
    assert len(SCRIPTS) >= 8, f"expected the teaching scripts in {ANALYSES}, found {SCRIPTS}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_script_runs_in_smoke_mode(script: Path, tmp_path: Path):
    figures = tmp_path / "figures"
    env = os.environ | {
        "REAWAKEN_SMOKE": "1",
        "MPLBACKEND": "Agg",
        "REAWAKEN_FIGURES": str(figures),
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    assert done.returncode == 0, (
        f"{script.name} failed with exit code {done.returncode}\n"
        f"--- stdout (tail)\n{done.stdout[-3000:]}\n--- stderr (tail)\n{done.stderr[-3000:]}"
    )
    assert done.stdout.strip(), f"{script.name} printed nothing"
    assert "smoke mode: True" in done.stdout, f"{script.name} did not pick up REAWAKEN_SMOKE=1"
    assert "Solution to exercise 1" in done.stdout, f"{script.name} did not run its solution cells"
    written = list(figures.rglob("*.png"))
    assert written, f"{script.name} wrote no figure to {figures}"


def _private_uses(source: str) -> list[str]:
    """Imports of reawaken other than ``import reawaken as rw``, and ``rw.<name>`` not public."""
    public = set(reawaken.__all__)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "reawaken":
            found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}"
                for a in node.names
                if a.name.split(".")[0] == "reawaken" and (a.name != "reawaken" or a.asname != "rw")
            ]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "rw"
            and node.attr not in public
        ):
            found.append(f"line {node.lineno}: rw.{node.attr} is not in reawaken.__all__")
    return found


def test_private_use_is_detected():
    bad = "import reawaken as rw\nfrom reawaken.scenario import preset_text\nrw.preset_text('x')\n"
    assert len(_private_uses(bad)) == 2
    assert _private_uses("import reawaken as rw\nrw.fit_cox\n") == []


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_script_uses_only_the_public_api(script: Path):
    found = _private_uses(script.read_text(encoding="utf-8"))
    assert not found, f"{script.name} uses non-public reawaken names: {found}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_script_has_exercises_then_solutions(script: Path):
    text = script.read_text(encoding="utf-8")
    exercises = text.find("# %% [markdown]\n# ## Exercises")
    assert exercises >= 0, f"{script.name}: no '## Exercises' Markdown cell"
    code = [m.start() for m in re.finditer(r'^# %% tags=\["solution"\]$', text, re.M)]
    prose = [m.start() for m in re.finditer(r'^# %% \[markdown\] tags=\["solution"\]$', text, re.M)]
    assert code, f"{script.name}: no code cell tagged solution (it would not run in the tests)"
    assert prose, f"{script.name}: no Markdown cell tagged solution"
    assert min(code + prose) > exercises, f"{script.name}: a solution comes before the exercises"
