"""fit_cox(formula=...): dummy coding, interactions and splines against R and lifelines.

R values come from ``tests/reference/rossi_formula.R`` (R 4.2, survival 3.5-3, splines),
saved in ``rossi_formula.Rout`` (10 decimals); R is not needed to run the test. Tolerance:
1e-6 relative on coefficients, SEs and log-likelihood. ``cr()`` splines (mgcv's basis, not in
base R) are checked against lifelines' ``CoxPHFitter(formula=...)`` to 1e-6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from reawaken.analysis.cox import fit_cox, fit_naive_ever_exposed, fit_time_varying_cox
from reawaken.analysis.formula import design_matrix, formula_variables
from reawaken.errors import AnalysisError

REF = Path(__file__).resolve().parents[1] / "reference"
R_FORMULAS = {
    "published_efron": ("fin + age + race + wexp + mar + paro + prio", "efron"),
    "published_breslow": ("fin + age + race + wexp + mar + paro + prio", "breslow"),
    "factor_interaction": ("fin + age + C(prio_group) + fin:age", "efron"),
    "factor_reference": ("fin + C(prio_group, contr.treatment('1-3'))", "efron"),
    "bspline": ("fin + bs(age, df=4) + prio", "efron"),
}


@pytest.fixture(scope="module")
def rossi() -> pd.DataFrame:
    d = pd.read_csv(REF / "rossi_clustered.csv")
    d["prio_group"] = np.where(d["prio"] == 0, "0", np.where(d["prio"] <= 3, "1-3", "4+"))
    return d


def _r_values() -> dict[str, np.ndarray]:
    out = {}
    for line in (REF / "rossi_formula.Rout").read_text().splitlines():
        model, kind, *values = line.split()
        out[f"{model} {kind}"] = np.array([float(v) for v in values])
    return out


@pytest.mark.parametrize("model", sorted(R_FORMULAS))
def test_formula_matches_r_coxph(rossi, model):
    formula, ties = R_FORMULAS[model]
    r = _r_values()
    fit = fit_cox(rossi, duration="week", event="arrest", formula=formula, ties=ties)
    np.testing.assert_allclose(fit.table["coef"], r[f"{model} coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.table["se"], r[f"{model} se"], rtol=1e-6)
    assert fit.loglik == pytest.approx(r[f"{model} loglik"][0], rel=1e-6)


def test_term_names_and_dummy_coding(rossi):
    fit = fit_cox(rossi, duration="week", event="arrest", formula="fin + C(prio_group) + fin:age")
    assert fit.table["term"].tolist() == [
        "fin",
        "C(prio_group)[T.1-3]",
        "C(prio_group)[T.4+]",
        "fin:age",
    ]
    assert fit.extra["formula"] == "fin + C(prio_group) + fin:age"
    # the same model from hand-made dummies and covariates=
    hand = rossi.assign(
        g13=(rossi["prio_group"] == "1-3").astype(float),
        g4=(rossi["prio_group"] == "4+").astype(float),
        fa=rossi["fin"] * rossi["age"],
    )
    ref = fit_cox(hand, duration="week", event="arrest", covariates=["fin", "g13", "g4", "fa"])
    np.testing.assert_allclose(fit.table["coef"], ref.table["coef"], rtol=1e-12)


def test_cr_spline_and_interaction_match_lifelines(rossi):
    formula = "fin * prio + cr(age, df=4, constraints='center') + C(prio_group)"
    data = rossi.drop(columns="grp")
    cph = CoxPHFitter().fit(data, "week", "arrest", formula=formula)
    fit = fit_cox(data, duration="week", event="arrest", formula=formula)
    assert fit.table["term"].tolist() == [str(c) for c in cph.params_.index]
    np.testing.assert_allclose(fit.table["coef"], cph.params_.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(fit.table["se"], cph.standard_errors_.to_numpy(), rtol=1e-6)


def test_formula_on_start_stop_episodes_with_robust_se(rossi):
    """(start, stop] rows split at week 20: the same formula on the split data gives the
    unsplit fit (time-fixed covariates), with a person-clustered robust SE."""
    d = rossi.assign(id=np.arange(len(rossi)))
    early = d.assign(start=0.0, stop=np.minimum(d["week"], 20.0))
    early["arrest"] = np.where(d["week"] <= 20, d["arrest"], 0)
    late = d[d["week"] > 20].assign(start=20.0, stop=lambda x: x["week"])
    split = pd.concat([early, late], ignore_index=True)
    formula = "fin + age + C(prio_group)"
    whole = fit_cox(d, duration="week", event="arrest", formula=formula, cluster="id")
    tv = fit_time_varying_cox(split, formula=formula, event="arrest", cluster="id")
    np.testing.assert_allclose(tv.table["coef"], whole.table["coef"], rtol=1e-9)
    np.testing.assert_allclose(tv.table["robust_se"], whole.table["robust_se"], rtol=1e-9)


def test_naive_with_formula_uses_exposed_as_ever_exposed():
    cohort = pd.DataFrame(
        {
            "id": np.arange(8),
            "entry_day": 0.0,
            "event_day": [5.0, 8, 3, 9, 4, 7, 6, 10],
            "event": [1, 0, 1, 1, 0, 1, 1, 0],
            "exposure_day": [np.nan, 2, np.nan, 4, 1, np.nan, 3, np.nan],
            "age": [50.0, 61, 45, 70, 52, 66, 58, 49],
        }
    )
    by_formula = fit_naive_ever_exposed(cohort, formula="exposed + age")
    by_list = fit_naive_ever_exposed(cohort, covariates=["age"])
    np.testing.assert_allclose(by_formula.table["coef"], by_list.table["coef"], rtol=1e-12)
    assert by_formula.table["term"].tolist() == ["exposed", "age"]


def test_formula_variables_include_spline_arguments():
    assert formula_variables("exposed*her2 + bs(age, df=3) + C(stage) + np.log(x)") == [
        "age",
        "exposed",
        "her2",
        "stage",
        "x",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"formula": "fin", "covariates": ["fin"]}, "either covariates= .* or formula="),
        ({}, "either covariates= .* or formula="),
        ({"formula": "arrest ~ fin"}, "left-hand side"),
        ({"formula": "fin + (age"}, "cannot parse"),
        ({"formula": "  "}, "non-empty string"),
        ({"formula": "fin + weight"}, "unknown column.*'weight'"),
        ({"formula": "0 + fin + C(prio_group)"}, "removes the intercept"),
        ({"formula": "fin + cr(age, df=4)"}, "collinear.*constraints='center'"),
        ({"formula": "fin + age + I(2 * age)"}, "collinear"),
        ({"formula": "fin + I(fin * 0)"}, "single value"),
    ],
)
def test_bad_formulas_raise_with_a_fix(rossi, kwargs, message):
    with pytest.raises(AnalysisError, match=message) as info:
        fit_cox(rossi, duration="week", event="arrest", **kwargs)
    assert "\n" not in str(info.value)


def test_missing_values_in_a_formula_variable_are_an_error(rossi):
    bad = rossi.assign(age=rossi["age"].where(rossi.index != 3))
    with pytest.raises(AnalysisError, match=r"'age' \(in the formula\) has 1 missing.*row 3.*fix"):
        design_matrix(bad, "fin + age", "test")
