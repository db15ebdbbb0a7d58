"""The lean path of a replicate (issue 12): the study analysis fits the time-varying Cox model
for the exposure's coefficient and SE only, without the coefficient table, and builds its
design without pandas reductions. Each piece must give what the public, full-output functions
give, bit for bit (tolerance 0), including the errors a bad table raises."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from reawaken import schema
from reawaken.analysis.cox import fit_time_varying_cox, time_varying_cox_term
from reawaken.design.episodes import EXPOSED, split_at_exposure
from reawaken.errors import AnalysisError
from reawaken.estimate import Estimate
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort
from reawaken.study.analyses import _varies, covariate_design, time_varying_cox_hr


def _full_path(cohort: pd.DataFrame, scenario) -> Estimate:
    """The time-varying Cox HR from the public functions' full output (coefficient table)."""
    design = covariate_design(cohort, scenario)
    frame = pd.concat(
        [cohort[list(schema.REQUIRED_COLUMNS)].reset_index(drop=True), design], axis=1
    )
    episodes = split_at_exposure(frame, covariates=list(design.columns))
    fit = fit_time_varying_cox(episodes, covariates=[EXPOSED, *design.columns])
    return Estimate.from_log(
        "HR",
        "time-varying Cox (Efron), adjusted",
        fit.coef(EXPOSED),
        fit.se(EXPOSED),
        n=len(cohort),
        events=int(episodes[schema.EVENT].sum()),
    )


def _outcome(fn) -> dict | str:
    """The estimate as a dict, or the AnalysisError's text."""
    try:
        return fn().to_dict()
    except AnalysisError as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize(("n", "seed"), [(36_845, 1), (4_000, 2), (1_500, 3), (300, 4)])
def test_study_analysis_is_the_full_output_path_bit_for_bit(n, seed):
    """Estimates alike, and so are the errors of small cohorts (n = 1,500, seed 3: a dummy's
    coefficient diverges; n = 300: no events among the exposed)."""
    scenario = load_scenario("flatiron_lung_mets").with_n(n)
    cohort = simulate_cohort(scenario, np.random.default_rng(seed)).data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow on the way to divergence
        lean = _outcome(lambda: time_varying_cox_hr(cohort, scenario))
        full = _outcome(lambda: _full_path(cohort, scenario))
    assert lean == full
    assert isinstance(lean, dict) == (n >= 4_000)


@pytest.fixture(scope="module")
def episodes() -> tuple[pd.DataFrame, list[str]]:
    scenario = load_scenario("flatiron_lung_mets").with_n(3000)
    cohort = simulate_cohort(scenario, np.random.default_rng(5)).data
    design = covariate_design(cohort, scenario)
    frame = pd.concat([cohort[list(schema.REQUIRED_COLUMNS)], design], axis=1)
    return split_at_exposure(frame, covariates=list(design.columns)), [EXPOSED, *design.columns]


def test_term_is_the_fits_coef_and_se_for_every_term(episodes):
    data, terms = episodes
    fit = fit_time_varying_cox(data, covariates=terms)
    for term in terms:
        assert time_varying_cox_term(data, term, covariates=terms) == (
            fit.coef(term),
            fit.se(term),
        )


def _error(fn) -> str:
    try:
        fn()
    except AnalysisError as exc:
        return f"{type(exc).__name__}: {exc}"
    raise AssertionError("no AnalysisError")


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: d.assign(age=np.where(np.arange(len(d)) == 7, np.nan, d["age"])),  # missing
        lambda d: d.assign(her2=0.0),  # a constant covariate
        lambda d: d.assign(event=np.where(np.arange(len(d)) == 3, 2, d["event"])),  # 2 codes
        lambda d: d.assign(stop=d["start"]),  # zero-length intervals
        lambda d: d.assign(event=0),  # no events
        lambda d: d.assign(event=d["exposed"] * 0 + (d["exposed"] == 1) * d["event"]),  # monotone
    ],
    ids=["missing", "constant", "codes", "intervals", "no-events", "monotone"],
)
def test_term_raises_the_fits_errors(episodes, spoil):
    data, terms = episodes
    bad = spoil(data.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow on the way to divergence
        full = _error(lambda: fit_time_varying_cox(bad, covariates=terms))
        lean = _error(lambda: time_varying_cox_term(bad, EXPOSED, covariates=terms))
    assert lean == full, (lean, full)


def test_unknown_term_is_refused(episodes):
    data, terms = episodes
    with pytest.raises(AnalysisError, match="fix: name one of them"):
        time_varying_cox_term(data, "age_squared", covariates=terms)


def test_varies_is_pandas_std_above_zero():
    """``pd.Series(x).std() > 0``, whose two-pass sum can make a constant column vary (three
    copies of 0.1) and tiny distinct values not vary (the squares underflow)."""
    rng = np.random.default_rng(6)
    cases = [
        np.full(3, 0.1),
        np.array([1e-200, 2e-200]),
        np.array([np.inf, 1.0]),
        np.array([np.nan, 1.0, 1.0]),
        np.array([np.nan, 1.0, 2.0]),
        np.array([1.0]),
        np.array([]),
        np.array([0.0, -0.0]),
        np.array([1e308, 1e308, -1e308]),
    ]
    for k in range(3000):
        n = int(rng.integers(0, 12))
        if k % 3 == 0:
            x = np.full(n, rng.choice([0.1, 1 / 3, 0.7, 1e-170, 1e300]))
        elif k % 3 == 1:
            x = rng.normal(size=n) * 10.0 ** rng.integers(-200, 200)
        else:
            x = rng.choice([0.0, 1.0, 0.1, np.nan, np.inf], n)
        cases.append(x)
    assert bool(pd.Series(np.full(3, 0.1)).std() > 0)  # the case that makes this matter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = [bool(pd.Series(x, dtype=float).std() > 0) for x in cases]
    assert [_varies(x) for x in cases] == expected
