"""fit_cox and the Cox-family wrappers: published values, second engines, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.datasets import load_rossi
from lifelines.statistics import proportional_hazard_test
from statsmodels.duration.hazard_regression import PHReg

from reawaken.analysis.cox import (
    fit_cox,
    fit_matched_cox,
    fit_naive_ever_exposed,
    fit_time_varying_cox,
    hr_by_window,
)
from reawaken.analysis.diagnostics import ph_test
from reawaken.design.episodes import split_at_exposure, split_at_windows
from reawaken.errors import AnalysisError

ROSSI = load_rossi()
ROSSI_COVS = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
# Fox & Weisberg, "Cox Proportional-Hazards Regression for Survival Data in R" (2011
# appendix to An R Companion to Applied Regression): coxph(Surv(week, arrest) ~ ., Rossi).
ROSSI_PUBLISHED = {
    "fin": (-0.37942, 0.19138),
    "age": (-0.05744, 0.02200),
    "race": (0.31390, 0.30799),
    "wexp": (-0.14980, 0.21222),
    "mar": (-0.43370, 0.38187),
    "paro": (-0.08487, 0.19576),
    "prio": (0.09150, 0.02865),
}


def test_rossi_published_values():
    fit = fit_cox(ROSSI, duration="week", event="arrest", covariates=ROSSI_COVS)
    for term, (coef, se) in ROSSI_PUBLISHED.items():
        assert fit.coef(term) == pytest.approx(coef, abs=5e-6)
        assert fit.se(term) == pytest.approx(se, abs=5e-6)
    assert fit.events == 114 and fit.n == 432


def test_rossi_against_lifelines_and_statsmodels():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = CoxPHFitter().fit(ROSSI, "week", "arrest")
    fit = fit_cox(ROSSI, duration="week", event="arrest", covariates=ROSSI_COVS)
    np.testing.assert_allclose(fit.params[ROSSI_COVS], ref.params_[ROSSI_COVS], rtol=1e-5)
    sm = PHReg(ROSSI["week"], ROSSI[ROSSI_COVS], status=ROSSI["arrest"], ties="efron").fit()
    np.testing.assert_allclose(fit.params[ROSSI_COVS], sm.params, rtol=1e-8)
    np.testing.assert_allclose(fit.table["se"], sm.bse, rtol=1e-6)


def test_rossi_robust_matches_statsmodels_breslow():
    df = ROSSI.assign(cluster=np.arange(len(ROSSI)) // 3)
    fit = fit_cox(
        df,
        duration="week",
        event="arrest",
        covariates=ROSSI_COVS,
        ties="breslow",
        cluster="cluster",
    )
    ref = PHReg(df["week"], df[ROSSI_COVS], status=df["arrest"], ties="breslow").fit(
        groups=df["cluster"]
    )
    np.testing.assert_allclose(fit.table["robust_se"], ref.bse, rtol=1e-8)
    assert fit.robust and fit.se("fin") == fit.table.set_index("term").loc["fin", "robust_se"]


@pytest.mark.parametrize("transform", ["identity", "log"])
def test_ph_test_vs_lifelines_approximation(transform):
    """A documented difference: lifelines' ``proportional_hazard_test`` (like R survival < 3.0)
    uses the approximation ``T_j = (sum_k g_k s*_kj)^2 / (d V_jj sum_k g_k^2)`` (``g`` centered
    over events, ``s*`` scaled residuals minus ``beta``); ph_test is the exact score test of R
    survival >= 3.0 (checked against cox.zph in test_ph_test_reference.py). The approximation
    rebuilt from ph_test's scaled residuals and ``g`` matches lifelines to 1e-5 (as the old
    implementation did), while the exact statistics differ from it by far more: on Rossi with
    ``g = t``, age 6.62 exact vs 12.06 approximated, prio 0.42 vs 0.011.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter().fit(ROSSI, "week", "arrest")
        ref = proportional_hazard_test(cph, ROSSI, time_transform=transform)
    fit = fit_cox(ROSSI, duration="week", event="arrest", covariates=ROSSI_COVS)
    ours = ph_test(fit, transform)
    res = ours.scaled_residuals
    g = res.index.get_level_values("g").to_numpy()
    g = g - g.mean()
    s = res.to_numpy() - fit.table["coef"].to_numpy()
    v = np.diag(fit.extra["model_variance"])
    approx = (g @ s) ** 2 / (len(res) * v * np.sum(g**2))
    np.testing.assert_allclose(approx, ref.test_statistic, rtol=1e-5)
    exact = ours.table.set_index("term").loc[ROSSI_COVS, "statistic"].to_numpy()
    assert np.max(np.abs(np.log(exact / approx))) > np.log(2)
    assert ours.table["term"].iloc[-1] == "GLOBAL"


def test_ph_test_detects_non_proportional_hazards():
    rng = np.random.default_rng(3)
    n = 4000
    z = rng.random(n) < 0.5
    # HR 4 before t=1, 0.5 after: strongly non-proportional.
    e = rng.exponential(size=n)
    t = np.where(e < 4 * 1.0 * z + 1.0 * ~z, e / np.where(z, 4.0, 1.0), 0.0)
    t = np.where(z & (e >= 4), 1 + (e - 4) / 0.5, np.where(~z & (e >= 1), 1 + (e - 1), t))
    df = pd.DataFrame({"t": t, "e": 1, "z": z.astype(float)})
    res = ph_test(fit_cox(df, duration="t", event="e", covariates=["z"]))
    assert res.table["p_value"].iloc[0] < 1e-6
    null = pd.DataFrame({"t": rng.exponential(size=n), "e": 1, "z": z.astype(float)})
    assert (
        ph_test(fit_cox(null, duration="t", event="e", covariates=["z"])).table["p_value"].iloc[0]
        > 1e-3
    )


def _cohort(seed: int = 0, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    entry = np.zeros(n)
    stop = np.ceil(rng.exponential(400, n))
    infection = rng.exponential(500, n)  # a process that needs survival to be observed
    expo = np.where(infection < stop, np.floor(infection), np.nan)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "entry_day": entry,
            "exposure_day": expo,
            "event_day": stop,
            "event": rng.choice([0, 1, 2], n, p=[0.5, 0.35, 0.15]),
            "age": rng.normal(60, 10, n),
        }
    )


def test_time_varying_cox_equals_lifelines():
    from lifelines import CoxTimeVaryingFitter

    cohort = _cohort()
    ep = split_at_exposure(cohort, covariates=["age"])
    fit = fit_time_varying_cox(ep, covariates=["exposed", "age"])
    ref = CoxTimeVaryingFitter().fit(
        ep[["id", "start", "stop", "event", "exposed", "age"]],
        id_col="id",
        event_col="event",
        start_col="start",
        stop_col="stop",
    )
    np.testing.assert_allclose(fit.params[["exposed", "age"]], ref.params_, rtol=1e-5)
    np.testing.assert_allclose(fit.table["se"], ref.standard_errors_, rtol=1e-4)


def test_naive_model_is_labelled_and_biased_toward_protection():
    """Immortal time: with no true effect, 'ever exposed' looks protective (Suissa 2008)."""
    cohort = _cohort(1, 6000)
    naive = fit_naive_ever_exposed(cohort)
    assert "IMMORTAL TIME BIAS" in naive.method
    assert naive.coef("ever_exposed") < -4 * naive.se("ever_exposed")
    ep = split_at_exposure(cohort)
    proper = fit_time_varying_cox(ep, covariates=["exposed"])
    assert abs(proper.coef("exposed")) < 4 * proper.se("exposed")


def test_hr_by_window_terms_and_person_time():
    cohort = _cohort(2)
    res = hr_by_window(cohort, window_start_days=[0, 30, 180])
    assert list(res.table["term"]) == ["window_0_30", "window_30_180", "window_180_plus"]
    ep, names = split_at_windows(cohort, window_start_days=[0, 30, 180])
    total = (ep["stop"] - ep["start"]).sum()
    assert total == pytest.approx((cohort["event_day"] - cohort["entry_day"]).sum())
    assert ep["event"].sum() == (cohort["event"] == 1).sum()
    assert (ep[names].sum(axis=1) <= 1).all()


def test_matched_cox_is_stratified_and_clustered():
    rng = np.random.default_rng(4)
    sets = np.repeat(np.arange(400), 5)
    exposed = np.tile([1, 0, 0, 0, 0], 400)
    ids = np.where(exposed == 1, sets, 1000 + rng.integers(0, 900, sets.size))
    time = rng.exponential(100 / np.where(exposed == 1, 1.5, 1.0))
    matched = pd.DataFrame(
        {
            "set_id": sets,
            "id": ids,
            "exposed": exposed,
            "time": time,
            "event": (rng.random(sets.size) < 0.7).astype(int),
        }
    )
    res = fit_matched_cox(matched)
    assert res.robust and "stratified" in res.method
    ref = PHReg(
        matched["time"],
        matched[["exposed"]],
        status=matched["event"],
        strata=matched["set_id"],
        ties="efron",
    ).fit(groups=matched["id"])
    assert res.coef("exposed") == pytest.approx(ref.params[0], rel=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duration": "nope"}, "unknown column"),
        ({"duration": "week", "start": "week"}, "start= goes with stop="),
        ({}, "either duration= .* or stop="),
        ({"duration": "week", "ties": "exact"}, "ties must be"),
        ({"duration": "week", "covariates": ["fin", "const"]}, "single value"),
        ({"duration": "neg"}, "negative"),
        ({"duration": "week", "event": "zero"}, "no events"),
        ({"duration": "week", "event": "multi"}, "pass cause=1"),
        ({"duration": "week", "event": "multi", "cause": 3}, "no events of cause 3"),
        ({"duration": "week", "covariates": ["txt"]}, "must be numeric"),
        ({"duration": "week", "weights": "neg"}, "must be > 0"),
    ],
)
def test_bad_inputs(kwargs, message):
    df = ROSSI.assign(
        const=1.0,
        neg=-ROSSI["week"],
        zero=0,
        multi=ROSSI["arrest"] * 2,
        txt="a",
    )
    args = {"event": "arrest", "covariates": ["fin"], **kwargs}
    with pytest.raises(AnalysisError, match=message):
        fit_cox(df, **args)


def test_start_stop_checks():
    df = pd.DataFrame({"a": [0.0, 5.0], "b": [5.0, 5.0], "e": [1, 0], "x": [0.0, 1.0]})
    with pytest.raises(AnalysisError, match="have a >= b"):
        fit_cox(df, start="a", stop="b", event="e", covariates=["x"])


def test_monotone_likelihood_is_an_analysis_error():
    df = pd.DataFrame(
        {"t": [1.0, 2, 3, 4, 5, 6], "e": [1, 1, 1, 0, 0, 0], "x": [1.0, 1, 1, 0, 0, 0]}
    )
    with pytest.raises(AnalysisError, match="did not converge: monotone"):
        fit_cox(df, duration="t", event="e", covariates=["x"])


def test_hr_by_window_adjust_formula_equals_hand_made_dummies():
    from reawaken.analysis.cox import hr_by_window

    rng = np.random.default_rng(11)
    n = 600
    t = np.ceil(rng.exponential(500.0, n)) + 1
    expo = np.where(rng.random(n) < 0.6, np.floor(rng.uniform(0, 600, n)), np.nan)
    cohort = pd.DataFrame(
        {
            "id": np.arange(n),
            "entry_day": 0.0,
            "event_day": t,
            "event": rng.choice([0, 1], n, p=[0.3, 0.7]),
            "exposure_day": np.where(expo < t, expo, np.nan),
            "age": rng.normal(60, 8, n).round(),
            "grade": rng.choice(["a", "b", "c"], n),
        }
    )
    by_formula = hr_by_window(cohort, adjust="age + C(grade)")
    hand = cohort.assign(
        gb=(cohort["grade"] == "b").astype(float), gc=(cohort["grade"] == "c").astype(float)
    )
    by_list = hr_by_window(hand, covariates=["age", "gb", "gc"])
    assert by_formula.table["term"].tolist()[:3] == by_list.table["term"].tolist()[:3]
    np.testing.assert_allclose(by_formula.table["coef"], by_list.table["coef"], rtol=1e-10)
