"""Shared helpers for the benchmarks: best-of-k wall time, an optional R coxph reference, and
:func:`record`, which keeps each benchmark's figures for the README's performance table
(``performance.json`` beside this file; ``write_performance_table.py`` renders it)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

#: Figures of the last benchmark runs, one row of the README table per key.
RECORD = Path(__file__).with_name("performance.json")
#: Columns of the README table after the task, in order.
ENGINES = ("reawaken", "previous", "R", "statsmodels", "lifelines")


def record(key: str, *, task: str, load: tuple[float, ...] | None = None, **cells: str) -> None:
    """Store one README row: ``task`` and the text of each engine's cell (:data:`ENGINES`),
    with the date and the 1-minute load average of the run (rows of other keys are kept), and
    rewrite the README's performance table from the record."""
    unknown = set(cells) - set(ENGINES)
    if unknown:
        raise ValueError(f"record: unknown columns {sorted(unknown)}; use {ENGINES}")
    rows = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    load = os.getloadavg() if load is None else load
    rows[key] = {
        "task": task,
        **{name: cells.get(name, "") for name in ENGINES},
        "measured": f"{datetime.date.today().isoformat()}, load {load[0]:.1f}",
    }
    RECORD.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    from .write_performance_table import main as write_table  # the README follows the record

    write_table([])


def proc_stats(pid: int) -> np.ndarray:
    """CPU seconds (user + system), run-queue wait seconds (time runnable but waiting for a
    CPU, ``/proc/<pid>/schedstat``) and minor page faults of a live process (proc(5))."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    wait = int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    return np.array([cpu, wait, float(fields[7])])


def best_time(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    """Smallest wall time of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def r_coxph(data: pd.DataFrame, formula: str, repeat: int = 3) -> tuple[float, float] | None:
    """Time ``coxph(formula)`` in R (best of ``repeat``, model fit only) and return
    ``(seconds, coefficient of the first term)``; None when Rscript/survival is unavailable."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        data.to_csv(path, index=False)
        script = (
            "suppressMessages(library(survival)); d <- read.csv(commandArgs(TRUE)[1]);"
            f"best <- Inf; for (i in 1:{repeat}) {{ t <- system.time(fit <- coxph({formula}, "
            "data = d, ties = 'efron'))[['elapsed']]; best <- min(best, t) };"
            "cat(best, coef(fit)[1], '\\n')"
        )
        run = subprocess.run(
            ["Rscript", "-e", script, str(path)], capture_output=True, text=True, timeout=600
        )
        if run.returncode != 0:
            print(f"R coxph failed: {run.stderr.strip()[-500:]}")
            return None
        seconds, coef = run.stdout.split()
        return float(seconds), float(coef)


def report(title: str, rows: list[tuple[str, float, float]], reference: str) -> str:
    """Format ``(engine, seconds, coef)`` rows with ratios to the ``reference`` engine."""
    ref = dict((name, sec) for name, sec, _ in rows)[reference]
    lines = [title]
    for name, sec, coef in rows:
        lines.append(
            f"  {name:<22} {sec:9.4f} s   x{sec / ref:8.2f} vs {reference}   coef {coef:.10f}"
        )
    return "\n".join(lines)


#: ``report`` row names -> the README column they fill (:data:`ENGINES`).
ROW_COLUMNS = {
    "reawaken": "reawaken",
    "previous": "previous",
    "R coxph": "R",
    "statsmodels PHReg": "statsmodels",
    "lifelines CTV": "lifelines",
    "lifelines CoxPH": "lifelines",
}


def engine_cells(rows: list[tuple[str, float, float]]) -> dict[str, str]:
    """README cells from ``report`` rows: seconds, and each engine's time as a multiple of
    reawaken's (for R, reawaken's time as a share of R's: the issue's goal is <= 0.2)."""
    ours = dict((name, sec) for name, sec, _ in rows)["reawaken"]
    cells = {}
    for name, sec, _ in rows:
        column = ROW_COLUMNS[name]
        if column == "reawaken":
            cells[column] = f"{sec:.3g} s"
        elif column == "R":
            cells[column] = f"{sec:.3g} s (reawaken / R = {ours / sec:.2f})"
        else:
            cells[column] = f"{sec:.3g} s (x{sec / ours:.1f})"
    return cells
