"""Benchmarks: reawaken's Cox engine vs lifelines, statsmodels and (if installed) R coxph.

1. Time-varying Cox on the 36,845-person Flatiron cohort at day resolution (exposure switch,
   adjusted for age, stage dummies, her2, comorbidity).
2. Stratified (conditional) Cox on 7,400 matched sets of 1 exposed + 4 controls.

Printed: seconds (best of 3) and ratios measured in the same run, and each engine's exposure
coefficient (they must agree); "previous" is the Cox engine before issue 12
(``tests/engine/_coxph_legacy.py``, bit-identical estimates). Goal for 1: reawaken <= 0.2 x R
coxph. R needs Debian's r-base-core and r-cran-survival. The figures are recorded for the
README table.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, CoxTimeVaryingFitter
from statsmodels.duration.hazard_regression import PHReg

from reawaken.analysis.cox import fit_cox
from reawaken.design.episodes import split_at_exposure
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort
from reawaken.study.analyses import covariate_design

from . import _previous
from ._timing import best_time, engine_cells, r_coxph, record, report


def _flatiron_episodes() -> tuple[pd.DataFrame, list[str]]:
    sc = load_scenario("flatiron_lung_mets")
    cohort = simulate_cohort(sc, np.random.default_rng(20250730)).data
    design = covariate_design(cohort, sc)
    frame = pd.concat(
        [cohort[["id", "entry_day", "exposure_day", "event_day", "event"]], design], axis=1
    )
    return split_at_exposure(frame, covariates=list(design.columns)), list(design.columns)


def test_bench_time_varying_flatiron():
    ep, covs = _flatiron_episodes()
    terms = ["exposed", *covs]
    rows = []
    sec, ours = best_time(
        lambda: fit_cox(ep, start="start", stop="stop", event="event", covariates=terms)
    )
    rows.append(("reawaken", sec, ours.coef("exposed")))
    with _previous.previous_code():
        sec, old = best_time(
            lambda: fit_cox(ep, start="start", stop="stop", event="event", covariates=terms)
        )
    assert old.coef("exposed") == ours.coef("exposed") and old.se("exposed") == ours.se("exposed")
    rows.append(("previous", sec, old.coef("exposed")))
    sec, sm = best_time(
        lambda: PHReg(
            ep["stop"], ep[terms], status=ep["event"], entry=ep["start"] + 0.5, ties="efron"
        ).fit()
    )
    rows.append(("statsmodels PHReg", sec, float(sm.params[0])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sec, ll = best_time(
            lambda: CoxTimeVaryingFitter().fit(
                ep[["id", "start", "stop", "event", *terms]],
                id_col="id",
                event_col="event",
                start_col="start",
                stop_col="stop",
            ),
            repeat=1,
        )
    rows.append(("lifelines CTV", sec, float(ll.params_["exposed"])))
    r = r_coxph(
        ep[["start", "stop", "event", *terms]], f"Surv(start, stop, event) ~ {' + '.join(terms)}"
    )
    if r is not None:
        rows.append(("R coxph", *r))
        print(f"reawaken / R coxph = {rows[0][1] / r[0]:.3f} (goal <= 0.2)")
    print(
        "\n"
        + report(
            f"time-varying Cox, {len(ep):,} episode rows, {int(ep['event'].sum())} events",
            rows,
            "reawaken",
        )
    )
    record(
        "tv_cox_flatiron",
        task=f"time-varying Cox, Flatiron cohort at day resolution ({len(ep):,} episode rows, "
        f"{len(terms)} covariates)",
        **engine_cells(rows),
    )


def _matched_sets(n_sets: int = 7400, k: int = 4, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sets = np.repeat(np.arange(n_sets), k + 1)
    exposed = np.tile([1] + [0] * k, n_sets)
    age = rng.normal(62, 12, sets.size)
    rate = 0.0005 * np.exp(0.37 * exposed + 0.01 * (age - 62))
    t = rng.exponential(1 / rate)
    c = rng.uniform(1, 1583, sets.size)
    return pd.DataFrame(
        {
            "set_id": sets,
            "exposed": exposed,
            "age": age,
            "time": np.ceil(np.minimum(t, c)),
            "event": (t <= c).astype(int),
        }
    )


def test_bench_stratified_matched_sets():
    d = _matched_sets()
    rows = []
    sec, ours = best_time(
        lambda: fit_cox(
            d, duration="time", event="event", covariates=["exposed", "age"], strata="set_id"
        )
    )
    rows.append(("reawaken", sec, ours.coef("exposed")))
    with _previous.previous_code():
        sec, old = best_time(
            lambda: fit_cox(
                d, duration="time", event="event", covariates=["exposed", "age"], strata="set_id"
            )
        )
    assert old.coef("exposed") == ours.coef("exposed") and old.se("exposed") == ours.se("exposed")
    rows.append(("previous", sec, old.coef("exposed")))
    sec, sm = best_time(
        lambda: PHReg(
            d["time"], d[["exposed", "age"]], status=d["event"], strata=d["set_id"], ties="efron"
        ).fit()
    )
    rows.append(("statsmodels PHReg", sec, float(sm.params[0])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sec, ll = best_time(
            lambda: CoxPHFitter().fit(d, "time", "event", strata=["set_id"]), repeat=1
        )
    rows.append(("lifelines CoxPH", sec, float(ll.params_["exposed"])))
    r = r_coxph(d, "Surv(time, event) ~ exposed + age + strata(set_id)")
    if r is not None:
        rows.append(("R coxph", *r))
    print(
        "\n"
        + report(
            f"stratified Cox, {d['set_id'].nunique():,} matched 1:4 sets, "
            f"{int(d['event'].sum())} events",
            rows,
            "reawaken",
        )
    )
    record(
        "stratified_matched",
        task=f"stratified Cox, {d['set_id'].nunique():,} matched 1:4 sets "
        f"({int(d['event'].sum()):,} events)",
        **engine_cells(rows),
    )
