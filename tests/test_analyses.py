"""The teaching scripts in analyses/ run top to bottom in smoke mode (small sizes, few replicates).

Each script runs in its own subprocess with ``REAWAKEN_SMOKE=1`` and the Agg backend, its figures
written to a temporary directory; it must exit with status 0, print something and write at least
one figure. Together they take well under 90 s on two cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    written = list(figures.rglob("*.png"))
    assert written, f"{script.name} wrote no figure to {figures}"
