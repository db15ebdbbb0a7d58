"""Shared helpers for the benchmarks: best-of-k wall time and an optional R coxph reference."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd


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
