"""Benchmark: replicate throughput of the Flatiron power simulation (simulate + time-varying Cox).

For k = 1, 2 and all cores worker processes it prints the wall time, replicates per second,
CPU seconds per replicate (the workers' user + system time from /proc), worker idle time
(``k * wall - worker CPU``) and the parallel efficiency ``(reps/s with k) / (k * reps/s with
1)``, for reawaken's pool (:func:`reawaken.processes.process_pool`: one BLAS thread per worker)
and for the previous implementation measured in the same run (a plain forkserver
``ProcessPoolExecutor``), plus one Flatiron-size time-varying Cox fit against R ``coxph``
(goal: <= 0.2x R). The machine's load average is printed with the figures: on a shared machine
wall times are noisy, CPU time per replicate less so. No timing assertions; the replicate
tables of both pools must be identical.

``REAWAKEN_BENCH_REPS`` sets the replicates per run (default 200; the issue's figure is 1000).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from reawaken.analysis.cox import fit_cox
from reawaken.evaluate import run_replicates
from reawaken.processes import cores, process_pool
from reawaken.scenario import load_scenario

from ._timing import best_time, r_coxph
from .test_bench_cox import _flatiron_episodes

REPS = int(os.environ.get("REAWAKEN_BENCH_REPS", "200"))
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (proc(5), fields 14 and 15)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@contextmanager
def _previous_pool(workers: int):
    """The pool of the previous implementation: forkserver, no initializer, default threads."""
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        yield pool


def _run(make_pool, workers: int, scenario) -> tuple[dict, pd.DataFrame]:
    with make_pool(workers) as pool:
        run_replicates(scenario, reps=2 * workers, seed=1, executor=pool, workers=workers)
        pids = list(pool._processes)  # started by the warm-up
        cpu0 = sum(_cpu_seconds(p) for p in pids)
        t0 = time.perf_counter()
        table = run_replicates(scenario, reps=REPS, seed=7, executor=pool, workers=workers)
        wall = time.perf_counter() - t0
        cpu = sum(_cpu_seconds(p) for p in pids) - cpu0
    return {"wall": wall, "cpu": cpu, "rate": REPS / wall, "idle": workers * wall - cpu}, table.data


def test_bench_throughput():
    scenario = load_scenario("flatiron_lung_mets")
    ks = sorted({1, 2, cores()})
    print(f"\nFlatiron replicates: {REPS} per run, {cores()} cores, load {os.getloadavg()}")
    results: dict[tuple[str, int], dict] = {}
    tables = {}
    for name, make in (("previous", _previous_pool), ("reawaken", process_pool)):
        for k in ks:
            results[name, k], tables[name, k] = _run(make, k, scenario)
    for table in tables.values():
        pd.testing.assert_frame_equal(table, tables["reawaken", 1], check_exact=True)
    for name in ("previous", "reawaken"):
        one = results[name, 1]["rate"]
        for k in ks:
            r = results[name, k]
            print(
                f"  {name:<9} k={k}: {r['wall']:7.2f} s wall, {r['rate']:6.2f} reps/s, "
                f"{1e3 * r['cpu'] / REPS:6.1f} ms CPU/rep, idle {r['idle']:6.2f} worker-s, "
                f"efficiency {r['rate'] / (k * one):5.1%}"
            )
    for k in ks:
        ratio = results["previous", k]["wall"] / results["reawaken", k]["wall"]
        print(f"  k={k}: reawaken x{ratio:.2f} faster than previous (wall)")
    print(f"  load after: {os.getloadavg()}")


def test_bench_flatiron_fit_vs_r():
    ep, covs = _flatiron_episodes()
    terms = ["exposed", *covs]
    sec, ours = best_time(
        lambda: fit_cox(ep, start="start", stop="stop", event="event", covariates=terms)
    )
    print(f"\nFlatiron time-varying Cox ({len(ep):,} rows): reawaken {sec:.4f} s")
    r = r_coxph(ep, f"Surv(start, stop, event) ~ {' + '.join(terms)}")
    if r is not None:
        print(f"  R coxph {r[0]:.4f} s: reawaken / R = {sec / r[0]:.3f} (goal <= 0.2)")
        print(f"  coef exposed: reawaken {ours.coef('exposed'):.10f}, R {r[1]:.10f}")
