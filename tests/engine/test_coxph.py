"""The Cox engine against statsmodels, lifelines and Therneau & Grambsch's hand-worked example.

Tolerances: coefficients ≤ 1e-8 relative against statsmodels PHReg (same convergence target),
≤ 1e-6 against lifelines (whose own convergence tolerance limits agreement); SEs ≤ 1e-6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from statsmodels.duration.hazard_regression import PHReg

from reawaken.engine.coxph import ConvergenceError, fit_coxph, score_residuals


def _data(seed: int, n: int = 1500, tie_days: bool = True):
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(size=n), rng.random(n) < 0.3, rng.normal(size=n)])
    t = rng.exponential(40 * np.exp(-x @ np.array([0.5, 0.7, -0.2])))
    c = rng.exponential(60, n)
    stop = np.minimum(t, c)
    if tie_days:
        stop = np.ceil(stop)
    event = (t <= c).astype(float)
    return x.astype(float), stop, event, rng


@pytest.mark.parametrize("ties", ["breslow", "efron"])
@pytest.mark.parametrize("seed", [1, 2])
def test_time_fixed_matches_statsmodels(ties, seed):
    x, stop, event, _ = _data(seed)
    ours = fit_coxph(None, stop, event, x, ties=ties)
    ref = PHReg(stop, x, status=event, ties=ties).fit()
    np.testing.assert_allclose(ours.coef, ref.params, rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(ours.variance)), ref.bse, rtol=1e-6)
    assert ours.loglik == pytest.approx(ref.llf, rel=1e-10)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_strata_and_entry_match_statsmodels(ties):
    """Left truncation without entry/event ties (statsmodels' entry rule differs only at ties)."""
    x, stop, event, rng = _data(3, tie_days=False)
    entry = stop * rng.uniform(0, 0.6, stop.size)
    strata = rng.integers(0, 7, stop.size)
    strata[:3] = 7  # a stratum of size 3
    strata[3] = 8  # a stratum of size 1
    ours = fit_coxph(entry, stop, event, x, strata=strata, ties=ties)
    ref = PHReg(stop, x, status=event, entry=entry, strata=strata, ties=ties).fit()
    np.testing.assert_allclose(ours.coef, ref.params, rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(ours.variance)), ref.bse, rtol=1e-6)


def test_entry_ties_follow_r_rule():
    """A row entering at t is not at risk at t: equals statsmodels with entries moved by +0.5."""
    x, stop, event, rng = _data(4)
    entry = np.floor(stop * rng.uniform(0, 0.8, stop.size))
    keep = entry < stop
    x, stop, event, entry = x[keep], stop[keep], event[keep], entry[keep]
    ours = fit_coxph(entry, stop, event, x, ties="efron")
    ref = PHReg(stop, x, status=event, entry=entry + 0.5, ties="efron").fit()
    np.testing.assert_allclose(ours.coef, ref.params, rtol=1e-8)
    wrong = PHReg(stop, x, status=event, entry=entry, ties="efron").fit()
    assert np.max(np.abs(wrong.params - ours.coef)) > 1e-6  # the convention matters here


def test_all_censored_stratum_and_singletons():
    x, stop, event, _ = _data(5, n=600)
    strata = np.repeat(np.arange(120), 5)
    event[strata == 0] = 0  # a stratum without events contributes nothing
    ours = fit_coxph(None, stop, event, x, strata=strata, ties="breslow")
    ref = PHReg(stop, x, status=event, strata=strata, ties="breslow").fit()
    np.testing.assert_allclose(ours.coef, ref.params, rtol=1e-8)


def test_weights_match_lifelines():
    x, stop, event, rng = _data(6)
    w = rng.uniform(0.3, 3.0, stop.size)
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(T=stop, E=event, w=w)
    ref = CoxPHFitter().fit(df, "T", "E", weights_col="w", robust=True)
    ours = fit_coxph(None, stop, event, x, weights=w, ties="efron")
    # lifelines stops at ~1e-6 relative precision; the log-likelihoods agree far more tightly.
    np.testing.assert_allclose(ours.coef, ref.params_.to_numpy(), rtol=1e-5)
    assert ours.loglik == pytest.approx(ref.log_likelihood_, rel=1e-11)


def test_weights_equal_replication_breslow():
    """Integer case weights equal duplicating rows under Breslow ties (not under Efron, where
    duplicated rows become extra tied events: R's coxph behaves the same way)."""
    x, stop, event, rng = _data(7, n=400)
    w = rng.integers(1, 4, stop.size).astype(float)
    rep = np.repeat(np.arange(stop.size), w.astype(int))
    a = fit_coxph(None, stop, event, x, weights=w, ties="breslow")
    b = fit_coxph(None, stop[rep], event[rep], x[rep], ties="breslow")
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9)
    np.testing.assert_allclose(a.variance, b.variance, rtol=1e-8)


def test_robust_breslow_matches_statsmodels_groups():
    x, stop, event, rng = _data(8)
    groups = rng.integers(0, 300, stop.size)
    fit = fit_coxph(None, stop, event, x, ties="breslow")
    resid = score_residuals(None, stop, event, x, fit.coef, ties="breslow")
    summed = pd.DataFrame(resid).groupby(groups).sum().to_numpy()
    robust = fit.variance @ summed.T @ summed @ fit.variance
    ref = PHReg(stop, x, status=event, ties="breslow").fit(groups=groups)
    np.testing.assert_allclose(np.sqrt(np.diag(robust)), ref.bse, rtol=1e-8)


def test_robust_efron_matches_lifelines_without_ties():
    x, stop, event, rng = _data(9, tie_days=False)
    groups = rng.integers(0, 300, stop.size)
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(T=stop, E=event, g=groups)
    ref = CoxPHFitter().fit(df, "T", "E", cluster_col="g")
    fit = fit_coxph(None, stop, event, x, ties="efron")
    resid = score_residuals(None, stop, event, x, fit.coef, ties="efron")
    summed = pd.DataFrame(resid).groupby(groups).sum().to_numpy()
    robust = fit.variance @ summed.T @ summed @ fit.variance
    np.testing.assert_allclose(np.sqrt(np.diag(robust)), ref.standard_errors_, rtol=1e-5)


# Therneau & Grambsch (2000), appendix E, data set 1 with Efron ties (R survival tests/book2.R):
# times 1,1,6,6,8,9; status 1,0,1,1,0,1; x 1,1,1,0,0,0. Closed forms in r = exp(beta).
TG_TIME = np.array([1.0, 1.0, 6.0, 6.0, 8.0, 9.0])
TG_STATUS = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
TG_X = np.array([[1.0], [1.0], [1.0], [0.0], [0.0], [0.0]])


def _tg_closed_form(beta: float):
    r = np.exp(beta)
    a, b, d = r + 1, r + 3, r + 5
    loglik = 2 * beta - (np.log(3 * r + 3) + np.log((r + 5) / 2) + np.log(r + 3))
    imat = sum(z - z**2 for z in (r / (r + 1), r / (r + 5), r / (r + 3)))
    s56 = 2 * r * (177 + r * (282 + r * (182 + r * (50 + 5 * r)))) / (3 * (a * b * d) ** 2)
    score = [
        (2 * r + 3) / (3 * a**2),
        -r / (3 * a**2),
        (675 + r * (1305 + r * (756 + r * (-4 + r * (-79 - 13 * r))))) / (3 * (a * b * d) ** 2),
        r * (1 / (3 * a**2) - a / (2 * b**2) - b / (2 * d**2)),
        s56,
        s56,
    ]
    return loglik, imat, np.array(score)


def test_therneau_grambsch_efron_example():
    fit = fit_coxph(None, TG_TIME, TG_STATUS, TG_X, ties="efron")
    true_beta = np.log(np.cos(np.arccos((45 / 23) * np.sqrt(3 / 23)) / 3) * 2 * np.sqrt(23 / 3))
    assert fit.coef[0] == pytest.approx(true_beta, rel=1e-10)
    assert round(fit.coef[0], 6) == 1.676857
    loglik, imat, score = _tg_closed_form(true_beta)
    assert fit.loglik == pytest.approx(loglik, rel=1e-12)
    assert fit.variance[0, 0] == pytest.approx(1 / imat, rel=1e-9)
    for beta in (0.0, true_beta):
        _, _, score = _tg_closed_form(beta)
        resid = score_residuals(None, TG_TIME, TG_STATUS, TG_X, np.array([beta]), ties="efron")
        np.testing.assert_allclose(resid[:, 0], score, atol=1e-14)


def test_monotone_likelihood_is_reported():
    stop = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    event = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    x = np.array([[1.0], [1.0], [1.0], [0.0], [0.0], [0.0]])  # all events exposed
    with pytest.raises(ConvergenceError, match="monotone likelihood"):
        fit_coxph(None, stop, event, x)


@pytest.mark.parametrize("seed", range(12))
def test_randomized_battery_against_statsmodels(seed):
    """Random sizes, tie densities, strata (incl. singletons and all-censored), entry times
    (no entry/event ties, where statsmodels' convention differs) and both tie methods."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(50, 600))
    p = int(rng.integers(1, 4))
    x = rng.normal(size=(n, p))
    stop = rng.exponential(30, n) * np.exp(-0.3 * x[:, 0])
    if seed % 2 == 0:
        stop = np.ceil(stop / rng.choice([1, 3, 7]))  # heavy ties
    event = (rng.random(n) < 0.7).astype(float)
    strata = rng.integers(0, int(rng.integers(1, 20)), n)
    strata[event == 0] = np.where(rng.random((event == 0).sum()) < 0.1, 999, strata[event == 0])
    entry = None
    if seed % 3 == 0:
        entry = stop * rng.uniform(0, 0.5, n) + 0.01 * rng.random(n)  # fractional: no ties
    for ties in ("breslow", "efron"):
        ours = fit_coxph(entry, stop, event, x, strata=strata, ties=ties)
        ref = PHReg(stop, x, status=event, entry=entry, strata=strata, ties=ties).fit()
        np.testing.assert_allclose(ours.coef, ref.params, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(np.sqrt(np.diag(ours.variance)), ref.bse, rtol=1e-8)
