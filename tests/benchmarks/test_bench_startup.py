"""Benchmark for issue 13: start-up time of ``import reawaken`` and ``reawaken --help``.

Each is run in a fresh interpreter 7 times; the median wall time is printed against the goal
(``import reawaken`` <= 1 s, ``reawaken --help`` <= 0.3 s), with a bare ``python -c pass`` as
the floor and the 1-minute load average (the machine may be shared). ``import reawaken;
reawaken.simulate_cohort`` shows what the first use of the API then costs. Timings are printed,
not asserted (they depend on the machine and its load); the structural check that start-up
imports no heavy library is tests/test_cli_startup.py.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = 7
#: The console script installed beside this interpreter.
SCRIPT = Path(sys.executable).with_name("reawaken")
CASES = (
    ("python -c pass (floor)", [sys.executable, "-c", "pass"], None),
    ("import reawaken", [sys.executable, "-c", "import reawaken"], 1.0),
    ("reawaken --help", [str(SCRIPT), "--help"], 0.3),
    ("python -m reawaken --help", [sys.executable, "-m", "reawaken", "--help"], 0.3),
    (
        "import + first use (simulate_cohort)",
        [sys.executable, "-c", "import reawaken; reawaken.simulate_cohort"],
        None,
    ),
)


def _median_wall(argv: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, timeout=120)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def test_bench_startup():
    if not Path(CASES[2][1][0]).exists():  # console script not installed: time via -m only
        cases = [c for c in CASES if c[0] != "reawaken --help"]
    else:
        cases = list(CASES)
    lines = [
        f"start-up, median of {RUNS} fresh interpreters (load average {os.getloadavg()[0]:.2f}):"
    ]
    for name, argv, goal in cases:
        sec = _median_wall(argv)
        target = f"goal <= {goal:.1f} s: {'met' if sec <= goal else 'MISSED'}" if goal else ""
        lines.append(f"  {name:<38} {sec:6.3f} s   {target}")
    print("\n".join(lines))
