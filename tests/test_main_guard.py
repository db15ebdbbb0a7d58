"""A script without an ``if __name__ == "__main__":`` guard can use the process executor:
worker processes do not re-run it (reawaken.evaluate.main_module_hidden)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import reawaken as rw
print("TOP-LEVEL RAN", flush=True)
sc = rw.load_scenario("flatiron_lung_mets")
t = rw.run_replicates(sc, reps=4, seed=1, executor="processes", workers=2, n=3000)
print("REPS", len(t.data), flush=True)
"""


def test_unguarded_script_runs_once(tmp_path):
    path = tmp_path / "tutorial.py"
    path.write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("TOP-LEVEL RAN") == 1
    assert "REPS 4" in out.stdout
