"""The simple study analyses: checked against closed forms and hand-worked examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reawaken.errors import AnalysisError
from reawaken.scenario import load_scenario
from reawaken.study.analyses import (
    covariate_design,
    index_at_first_test,
    logistic_or_test_negative,
    time_varying_cox_hr,
)

NAN = np.nan


@pytest.fixture
def ukb():
    return load_scenario("ukb_cancer_mortality")


def _tested_cohort(a: int, b: int, c: int, d: int) -> pd.DataFrame:
    """a exposed cases, b exposed non-cases, c unexposed cases, d unexposed non-cases."""
    n = a + b + c + d
    exposed = np.r_[np.ones(a + b), np.zeros(c + d)].astype(bool)
    case = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)].astype(int)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "entry_day": 0.0,
            "exposure_day": np.where(exposed, 10.0, NAN),
            "test_day": np.where(exposed, NAN, 12.0),
            "event_day": 100.0,
            "event": case,
        }
    )


def test_logistic_or_equals_two_by_two_without_covariates(ukb):
    """No covariates: the logistic OR is ad/bc and its SE Woolf's sqrt(1/a+1/b+1/c+1/d)."""
    from dataclasses import replace

    bare = replace(ukb, covariates=())
    a, b, c, d = 30, 270, 45, 855
    est = logistic_or_test_negative(_tested_cohort(a, b, c, d), bare)
    assert est.estimate == pytest.approx(a * d / (b * c), rel=1e-6)
    assert est.se == pytest.approx(math.sqrt(1 / a + 1 / b + 1 / c + 1 / d), rel=1e-5)
    assert est.events == a + c and est.n == a + b + c + d


def test_logistic_or_needs_both_arms_and_events(ukb):
    from dataclasses import replace

    bare = replace(ukb, covariates=())
    with pytest.raises(AnalysisError, match="both positive and negative"):
        logistic_or_test_negative(_tested_cohort(5, 10, 0, 0), bare)
    with pytest.raises(AnalysisError, match="no outcome events"):
        logistic_or_test_negative(_tested_cohort(0, 10, 0, 20), bare)
    with pytest.raises(AnalysisError, match="test_day"):
        logistic_or_test_negative(_tested_cohort(5, 10, 5, 20).drop(columns="test_day"), bare)


def test_index_at_first_test_hand_example():
    cohort = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "entry_day": [0.0, 0.0, 0.0, 0.0],
            "exposure_day": [30.0, NAN, 50.0, NAN],
            "test_day": [NAN, 20.0, 10.0, NAN],
            "event_day": [100.0, 90.0, 80.0, 70.0],
            "event": [1, 0, 1, 0],
        }
    )
    out = index_at_first_test(cohort)
    assert out["id"].tolist() == [1, 2, 3]  # person 4 was never tested
    assert out["entry_day"].tolist() == [30.0, 20.0, 10.0]
    assert out["exposure_day"].tolist()[0] == 30.0  # exposed from the index day


def test_covariate_design_dummies(ukb):
    sc = load_scenario("flatiron_lung_mets")
    df = pd.DataFrame(
        {"age": [50.0, 60.0, 70.0], "stage": [1, 2, 4], "her2": [0, 1, 0], "comorbidity": [1, 0, 0]}
    )
    design = covariate_design(df, sc)
    assert list(design.columns) == ["age", "stage_2", "stage_4", "her2", "comorbidity"]
    assert design["stage_4"].tolist() == [0.0, 0.0, 1.0]


def test_time_varying_cox_needs_exposed_events():
    sc = load_scenario("flatiron_lung_mets")
    df = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "age": [50.0, 60.0, 70.0, 65.0],
            "stage": [1, 2, 3, 4],
            "her2": [0, 1, 0, 1],
            "comorbidity": [1, 0, 0, 1],
            "entry_day": 0.0,
            "exposure_day": [NAN, NAN, NAN, NAN],
            "event_day": [10.0, 20.0, 30.0, 40.0],
            "event": [1, 0, 1, 0],
        }
    )
    with pytest.raises(AnalysisError, match="0 among exposed"):
        time_varying_cox_hr(df, sc)


@pytest.mark.parametrize("name", ["matched_or", "matched_cox"])
def test_matched_analyses_report_the_shared_members_se(ukb, name):
    """The Estimate's SE is the fit's shared-members SE; model and person-robust SEs ride along."""
    from reawaken.analysis.cox import fit_matched_cox
    from reawaken.analysis.matched_or import matched_odds_ratio
    from reawaken.simulate.cohort import simulate_cohort
    from reawaken.study.analyses import STUDY_ANALYSES, _matched

    cohort = simulate_cohort(ukb, np.random.default_rng(11)).data
    est = STUDY_ANALYSES[name](cohort, ukb, np.random.default_rng(12))
    matched = _matched(cohort, ukb, np.random.default_rng(12)).data
    fit = (matched_odds_ratio if name == "matched_or" else fit_matched_cox)(matched)
    row = fit.table.set_index("term").loc["exposed"]
    assert est.variance == "shared-members" and "shared-members SE" in est.method
    assert est.se == row["shared_members_se"]
    assert (est.se_model, est.se_robust) == (row["se"], row["robust_se"])
    assert est.log_estimate == pytest.approx(row["coef"], rel=1e-12)


def test_logistic_or_reports_separation_as_analysis_error(ukb):
    """Every test-positive person has the outcome: the MLE is infinite."""
    from dataclasses import replace

    bare = replace(ukb, covariates=())
    with pytest.raises(AnalysisError, match=r"separation|converge|non-finite"):
        logistic_or_test_negative(_tested_cohort(30, 0, 5, 100), bare)
