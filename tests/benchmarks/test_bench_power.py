"""Benchmarks for issue 4: replicate loops and the engine at 1,000,000 episode rows.

1. 1,000 replicates of simulation-based power for the Flatiron preset (simulate + time-varying
   Cox) with the process executor (target < 60 s on 2 cores), the Dask executor on a local
   cluster (target within 15% of it), and a lifelines loop (a few replicates timed,
   extrapolated to 1,000 and labelled so).
2. Cox on ~1,000,000 episode rows: reawaken vs statsmodels (and R when installed); peak memory
   of the reawaken fit measured in a fresh process (target < 1 GB).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
from lifelines import CoxTimeVaryingFitter
from statsmodels.duration.hazard_regression import PHReg

from reawaken.analysis.cox import fit_cox
from reawaken.design.episodes import split_at_exposure
from reawaken.evaluate import run_replicates
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort
from reawaken.study.analyses import covariate_design

from . import _previous
from ._timing import best_time, engine_cells, r_coxph, record, report

REPS = 1000


def test_bench_power_replicates():
    sc = load_scenario("flatiron_lung_mets")
    t0 = time.perf_counter()
    table = run_replicates(sc, reps=REPS, seed=1, executor="processes", progress=True)
    processes = time.perf_counter() - t0
    power = float((table.data["p_value"] < 0.05).mean())
    lines = [
        f"{REPS} replicates, Flatiron preset (simulate + time-varying Cox), power {power:.3f}:",
        f"  processes executor   {processes:8.1f} s   (target < 60 s)",
    ]
    cells = {"reawaken": f"{processes:.1f} s (processes, start-up included)"}
    if importlib.util.find_spec("distributed") is not None:
        t0 = time.perf_counter()
        dask_table = run_replicates(sc, reps=REPS, seed=1, executor="dask")
        dask = time.perf_counter() - t0
        same = dask_table.data.equals(table.data)
        lines.append(
            f"  dask local cluster   {dask:8.1f} s   x{dask / processes:.2f} of processes "
            f"(target <= 1.15); identical table: {same}"
        )
        cells["reawaken"] += f", {dask:.1f} s (Dask local cluster)"
    ep = _episodes(sc, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sec, _ = best_time(
            lambda: CoxTimeVaryingFitter().fit(
                ep, id_col="id", event_col="event", start_col="start", stop_col="stop"
            ),
            repeat=2,
        )
    lines.append(
        f"  lifelines loop       {sec * REPS:8.1f} s   (EXTRAPOLATED from {sec:.2f} s per "
        "fit, simulation excluded)"
    )
    print("\n" + "\n".join(lines))
    record(
        "power_1000",
        task=f"{REPS:,} power replicates, Flatiron (simulate + time-varying Cox), all cores",
        lifelines=f"~{sec * REPS / 60:.0f} min (extrapolated, fits only)",
        **cells,
    )


def _episodes(sc, seed: int, n: int | None = None) -> pd.DataFrame:
    scenario = sc if n is None else sc.with_n(n)
    cohort = simulate_cohort(scenario, np.random.default_rng(seed)).data
    design = covariate_design(cohort, scenario)
    frame = pd.concat(
        [cohort[["id", "entry_day", "exposure_day", "event_day", "event"]], design], axis=1
    )
    ep = split_at_exposure(frame, covariates=list(design.columns))
    return ep[["id", "start", "stop", "event", "exposed", *design.columns]]


def _peak_rss_mb(episodes: pd.DataFrame) -> tuple[float, float]:
    """Peak RSS (MB) of a fresh process after reading ``episodes`` and after fitting them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/episodes.parquet"
        episodes.to_parquet(path)
        code = (
            "import resource, pandas as pd;"
            "from reawaken.analysis.cox import fit_cox;"
            f"ep = pd.read_parquet({path!r});"
            "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss;"
            "fit_cox(ep, start='start', stop='stop', event='event',"
            " covariates=[c for c in ep.columns if c not in ('id','start','stop','event')]);"
            "print(base / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
    before, after = (float(v) for v in out.stdout.split())
    return before, after


def test_bench_million_rows():
    sc = load_scenario("flatiron_lung_mets")
    n_persons = 800_000
    ep = _episodes(sc, 3, n_persons)
    terms = [c for c in ep.columns if c not in ("id", "start", "stop", "event")]
    rows = []
    sec, ours = best_time(
        lambda: fit_cox(ep, start="start", stop="stop", event="event", covariates=terms), repeat=2
    )
    rows.append(("reawaken", sec, ours.coef("exposed")))
    with _previous.previous_code():
        sec, old = best_time(
            lambda: fit_cox(ep, start="start", stop="stop", event="event", covariates=terms),
            repeat=1,
        )
    assert old.coef("exposed") == ours.coef("exposed")
    rows.append(("previous", sec, old.coef("exposed")))
    sec, sm = best_time(
        lambda: PHReg(
            ep["stop"], ep[terms], status=ep["event"], entry=ep["start"] + 0.5, ties="efron"
        ).fit(),
        repeat=1,
    )
    rows.append(("statsmodels PHReg", sec, float(sm.params[0])))
    r = r_coxph(
        ep[["start", "stop", "event", *terms]],
        f"Surv(start, stop, event) ~ {' + '.join(terms)}",
        repeat=1,
    )
    if r is not None:
        rows.append(("R coxph", *r))
    before, peak = _peak_rss_mb(ep)
    print(
        "\n"
        + report(
            f"time-varying Cox, {len(ep):,} episode rows, {int(ep['event'].sum())} events",
            rows,
            "reawaken",
        )
    )
    print(
        f"  peak RSS of a fresh process: {before:.0f} MB with the episodes loaded, "
        f"{peak:.0f} MB after the fit (target: < 1024 MB)"
    )
    cells = engine_cells(rows)
    cells["reawaken"] += f", peak {peak:.0f} MB"
    record(
        "tv_cox_million",
        task=f"time-varying Cox, {len(ep):,} episode rows ({int(ep['event'].sum()):,} events)",
        **cells,
    )
