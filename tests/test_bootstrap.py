"""Person-level bootstrap: resampling, seeding, failure accounting, and the SE against Woolf's
closed form."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from reawaken.bootstrap import (
    BootstrapAnalysis,
    bootstrap_analysis,
    bootstrap_estimate,
    resample_persons,
)
from reawaken.errors import AnalysisError
from reawaken.estimate import Estimate
from reawaken.evaluate import run_replicates
from reawaken.scenario import load_scenario
from reawaken.study.analyses import logistic_or_test_negative, matched_cox_hr


@pytest.fixture(scope="module")
def bare():
    return replace(load_scenario("ukb_cancer_mortality"), covariates=())


def _tested(a: int, b: int, c: int, d: int) -> pd.DataFrame:
    """a exposed cases, b exposed non-cases, c unexposed cases, d unexposed non-cases."""
    n = a + b + c + d
    exposed = np.r_[np.ones(a + b), np.zeros(c + d)].astype(bool)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "entry_day": 0.0,
            "exposure_day": np.where(exposed, 10.0, np.nan),
            "test_day": np.where(exposed, np.nan, 12.0),
            "event_day": 100.0,
            "event": np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)].astype(int),
        }
    )


def test_resample_persons_draws_rows_and_renumbers_ids():
    cohort = _tested(5, 20, 5, 70).assign(x=np.arange(100.0))
    out = resample_persons(cohort, np.random.default_rng(1))
    assert out["id"].tolist() == list(range(1, 101))
    assert out["x"].duplicated().any()  # with replacement
    assert out["x"].isin(cohort["x"]).all()
    again = resample_persons(cohort, np.random.default_rng(1))
    pd.testing.assert_frame_equal(out, again)


def test_bootstrap_se_matches_woolf_closed_form(bare):
    """Without covariates the test-negative OR is ad/bc; its bootstrap SD converges to Woolf's
    SE sqrt(1/a+1/b+1/c+1/d) = 0.1743. With B = 400 the SD has relative MCSE
    1/sqrt(2(B-1)) = 3.5%; bound 4.5 MCSE (a correct bootstrap fails it with p < 1e-5)."""
    a, b, c, d = 60, 540, 90, 1310
    res = bootstrap_analysis(
        _tested(a, b, c, d), bare, logistic_or_test_negative, reps=400, seed=11
    )
    woolf = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    mcse = 1 / math.sqrt(2 * (res.reps - 1))
    assert abs(res.estimate.se / woolf - 1) < 4.5 * mcse
    assert res.estimate.variance == "bootstrap" and res.n_failed == 0
    assert res.estimate.estimate == pytest.approx(a * d / (b * c), rel=1e-6)
    assert res.estimate.se_model == pytest.approx(woolf, rel=1e-5)
    lo, hi = res.percentile_ci()
    assert lo < res.estimate.estimate < hi
    half = np.log(res.estimate.ci_high / res.estimate.ci_low) / 2
    assert half == pytest.approx(1.959963984540054 * res.estimate.se, rel=1e-12)


@pytest.mark.slow  # starting a process pool costs several seconds
def test_same_tables_serial_and_on_a_pool(bare):
    cohort = _tested(20, 180, 30, 470)
    serial = bootstrap_analysis(cohort, bare, logistic_or_test_negative, reps=8, seed=3)
    pooled = bootstrap_analysis(
        cohort, bare, logistic_or_test_negative, reps=8, seed=3, executor="processes", workers=2
    )
    np.testing.assert_array_equal(serial.log_estimates, pooled.log_estimates)


def test_failed_replicates_are_counted_and_excluded():
    original = Estimate.from_log("OR", "m", 0.3, 0.2, n=10, events=3)
    logs = np.array([0.1, np.nan, 0.5, 0.2, np.nan, 0.4])
    est = bootstrap_estimate(original, logs)
    assert est.se == pytest.approx(np.std([0.1, 0.5, 0.2, 0.4], ddof=1), rel=1e-12)
    assert "6 replicates" in est.method and "2 failed" in est.method
    assert est.se_model == 0.2 and est.log_estimate == pytest.approx(0.3)
    with pytest.raises(AnalysisError, match=r"only 1 of 4 replicates succeeded.*fix:"):
        bootstrap_estimate(original, np.array([0.1, np.nan, np.nan, np.nan]))


def test_failures_inside_a_run_are_reported(bare):
    """A tiny cohort: some resamples have no outcome among the exposed and fail."""
    res = bootstrap_analysis(
        _tested(2, 10, 3, 30), bare, logistic_or_test_negative, reps=40, seed=5
    )
    assert res.n_failed > 0 and sum(res.errors.values()) == res.n_failed
    assert f"{res.n_failed} failed" in res.estimate.method


def test_bad_arguments(bare):
    with pytest.raises(AnalysisError, match="reps must be an integer >= 2"):
        bootstrap_analysis(_tested(5, 5, 5, 5), bare, logistic_or_test_negative, reps=1, seed=1)
    with pytest.raises(AnalysisError, match="unknown executor"):
        bootstrap_analysis(
            _tested(5, 5, 5, 5), bare, logistic_or_test_negative, reps=2, seed=1, executor="gpu"
        )


def test_bootstrap_analysis_in_the_replicate_runner():
    """Matched Cox with a bootstrap SE re-matching each resample; the same replicate also
    carries the model and person-robust SEs of the original fit."""
    sc = load_scenario("ukb_cancer_mortality").with_n(2500)
    table = run_replicates(
        sc, BootstrapAnalysis(matched_cox_hr, reps=6), reps=2, seed=4, executor="serial"
    ).data
    assert (table["variance"] == "bootstrap").all()
    assert np.isfinite(table[["se", "se_model", "se_robust"]]).all().all()
    assert (table["se"] != table["se_robust"]).all()
    assert table["method"].str.contains("person-level bootstrap").all()
