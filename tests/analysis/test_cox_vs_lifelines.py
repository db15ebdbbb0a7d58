"""``fit_time_varying_cox`` (reawaken engine, R risk-set rule) against references.

References: lifelines ``CoxTimeVaryingFitter`` (Efron ties, R survival's risk sets: a row
``(start, stop]`` is at risk at ``t`` when ``start < t <= stop``) and, for both Efron and
Breslow ties, a partial likelihood written out in this file and maximized by Newton's method.
``split_at_exposure`` is checked on a hand-worked example and against lifelines'
``add_covariate_to_timeline``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxTimeVaryingFitter
from lifelines.utils import add_covariate_to_timeline
from statsmodels.duration.hazard_regression import PHReg

from reawaken import schema
from reawaken.analysis.cox import fit_time_varying_cox
from reawaken.design.episodes import split_at_exposure
from reawaken.errors import AnalysisError
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort

# ------------------------------------------------------- reference partial likelihood


def reference_cox(
    start: np.ndarray,
    stop: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    *,
    ties: str,
    entry_at_risk: bool = False,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Maximize the Cox partial likelihood on (start, stop] rows by Newton's method.

    Risk set at an event time t: rows with ``start < t <= stop`` (R survival, lifelines), or
    ``start <= t <= stop`` with ``entry_at_risk`` (statsmodels' raw convention).
    Returns (coef, se, log-likelihood at the maximum).
    """
    x = np.asarray(x, dtype=float)
    p = x.shape[1]
    times = np.unique(stop[event == 1])

    def parts(beta):
        eta = x @ beta
        w = np.exp(eta)
        ll, grad, hess = 0.0, np.zeros(p), np.zeros((p, p))
        for t in times:
            at_risk = (start <= t if entry_at_risk else start < t) & (t <= stop)
            dead = at_risk & (stop == t) & (event == 1)
            d = int(dead.sum())
            xr, wr = x[at_risk], w[at_risk]
            xd, wd = x[dead], w[dead]
            s0, s1 = wr.sum(), wr @ xr
            s2 = (xr * wr[:, None]).T @ xr
            d0, d1 = wd.sum(), wd @ xd
            d2 = (xd * wd[:, None]).T @ xd
            ll += eta[dead].sum()
            grad += xd.sum(axis=0)
            for ell in range(d):
                f = ell / d if ties == "efron" else 0.0
                a0, a1, a2 = s0 - f * d0, s1 - f * d1, s2 - f * d2
                ll -= np.log(a0)
                grad -= a1 / a0
                hess -= a2 / a0 - np.outer(a1, a1) / a0**2
        return ll, grad, hess

    beta = np.zeros(p)
    for _ in range(100):
        ll, grad, hess = parts(beta)
        step = np.linalg.solve(hess, grad)
        beta = beta - step
        if np.max(np.abs(step)) < 1e-13:
            break
    else:  # pragma: no cover - the small tables converge in a few steps
        raise AssertionError("reference Newton did not converge")
    ll, _, hess = parts(beta)
    se = np.sqrt(np.diag(np.linalg.inv(-hess)))
    return beta, se, ll


def _lifelines_ctv(episodes: pd.DataFrame, covariates: list[str]) -> CoxTimeVaryingFitter:
    ctv = CoxTimeVaryingFitter()
    ctv.fit(
        episodes[["id", "start", "stop", "event", *covariates]],
        id_col="id",
        event_col="event",
        start_col="start",
        stop_col="stop",
        show_progress=False,
    )
    return ctv


def _assert_rel(actual, expected, rtol, what):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    rel = np.abs(actual - expected) / np.abs(expected)
    assert np.all(rel <= rtol), (what, actual, expected, rel)


# ------------------------------------------------------------- (a) simulated cohort


@pytest.fixture(scope="module")
def flatiron_episodes() -> pd.DataFrame:
    scenario = load_scenario("flatiron_lung_mets")
    data = simulate_cohort(scenario, np.random.default_rng(5000), n=5000).data
    return split_at_exposure(data, covariates=["age", "her2", "comorbidity"])


COVS = ["exposed", "age", "her2", "comorbidity"]


def test_flatiron_episodes_have_entry_event_ties(flatiron_episodes):
    """The comparison below is only informative if rows enter on days with events."""
    ep = flatiron_episodes
    event_days = set(ep.loc[ep["event"] == 1, "stop"])
    late_entries = ep.loc[ep["start"] > 0, "start"]
    assert late_entries.isin(event_days).sum() > 0
    assert ep["event"].sum() >= 20


def test_efron_matches_lifelines_on_simulated_cohort(flatiron_episodes):
    ep = flatiron_episodes
    fit = fit_time_varying_cox(ep, covariates=COVS)
    ctv = _lifelines_ctv(ep, COVS)
    coef = fit.table.set_index("term").loc[COVS]
    _assert_rel(coef["coef"], ctv.params_[COVS], 1e-6, "coef")
    _assert_rel(coef["se"], ctv.standard_errors_[COVS], 1e-4, "se")
    assert fit.events == int(ep["event"].sum())
    assert fit.n == len(ep)


def test_efron_matches_reference_on_simulated_cohort(flatiron_episodes):
    ep = flatiron_episodes
    fit = fit_time_varying_cox(ep, covariates=COVS)
    coef, se, _ = reference_cox(
        ep["start"].to_numpy(float),
        ep["stop"].to_numpy(float),
        ep["event"].to_numpy(),
        ep[COVS].to_numpy(float),
        ties="efron",
    )
    _assert_rel(fit.table["coef"], coef, 1e-6, "coef")
    _assert_rel(fit.table["se"], se, 1e-6, "se")


# ----------------------------------------------------------- (b) hand-built table


def hand_table() -> pd.DataFrame:
    """Start-stop rows with tied events (t = 5: three events, t = 12: two) and rows entering
    exactly at event times (starts at 5, 8 and 12), incl. a person split at an event day."""
    rows = [
        # id, start, stop, event, x, z
        (1, 0, 5, 1, 0.5, 0),
        (2, 0, 5, 1, -1.2, 1),
        (3, 0, 5, 1, 0.3, 1),
        (4, 0, 5, 0, 1.1, 0),
        (4, 5, 12, 1, 1.1, 1),  # split at t = 5: enters the exposed row at an event time
        (5, 5, 8, 0, -0.4, 0),  # late entry at an event time
        (5, 8, 20, 1, -0.4, 1),
        (6, 0, 8, 1, 0.9, 0),
        (7, 2, 12, 1, -0.7, 0),
        (8, 8, 15, 0, 0.2, 1),  # enters at the event time 8
        (9, 12, 18, 1, 1.5, 0),  # enters at the event time 12
        (10, 0, 25, 0, -1.0, 0),
        (11, 3, 9, 0, 0.0, 1),
        (11, 9, 15, 1, 0.0, 0),
        (12, 0, 12, 0, 0.8, 1),
        (13, 1, 18, 0, -0.2, 0),
        (14, 0, 30, 1, 0.4, 1),
    ]
    return pd.DataFrame(rows, columns=["id", "start", "stop", "event", "x", "z"]).astype(
        {"start": float, "stop": float}
    )


def _ref(df: pd.DataFrame, ties: str, entry_at_risk: bool = False):
    return reference_cox(
        df["start"].to_numpy(float),
        df["stop"].to_numpy(float),
        df["event"].to_numpy(),
        df[["x", "z"]].to_numpy(float),
        ties=ties,
        entry_at_risk=entry_at_risk,
    )


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_hand_table_matches_reference(ties):
    df = hand_table()
    fit = fit_time_varying_cox(df, covariates=["x", "z"], ties=ties)
    coef, se, _ = _ref(df, ties)
    _assert_rel(fit.table["coef"], coef, 1e-6, "coef")
    _assert_rel(fit.table["se"], se, 1e-6, "se")
    assert ties in fit.method
    # Teeth: counting entering rows at risk at their entry time moves the estimate
    # well beyond the tolerance, and the Efron and Breslow answers differ too.
    wrong, _, _ = _ref(df, ties, entry_at_risk=True)
    assert np.max(np.abs(wrong - coef)) > 1e-3
    other, _, _ = _ref(df, "breslow" if ties == "efron" else "efron")
    assert np.max(np.abs(other - coef)) > 1e-3


def test_hand_table_efron_matches_lifelines():
    df = hand_table()
    fit = fit_time_varying_cox(df, covariates=["x", "z"])
    ctv = _lifelines_ctv(df, ["x", "z"])
    _assert_rel(fit.table["coef"], ctv.params_[["x", "z"]], 1e-6, "coef")
    _assert_rel(fit.table["se"], ctv.standard_errors_[["x", "z"]], 1e-4, "se")
    # The reference agrees with lifelines' log partial likelihood at the optimum.
    _, _, ll = _ref(df, "efron")
    assert ll == pytest.approx(ctv.log_likelihood_, rel=1e-8)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_without_entry_ties_equals_raw_statsmodels(ties):
    """With no entry/event ties the half-gap shift changes nothing: identical to PHReg."""
    df = hand_table()
    event_times = set(df.loc[df["event"] == 1, "stop"])
    df = df.assign(start=np.where(df["start"].isin(event_times), df["start"] - 0.5, df["start"]))
    df.loc[df["start"] < 0, "start"] = 0.0
    assert not df["start"].isin(event_times).any()
    fit = fit_time_varying_cox(df, covariates=["x", "z"], ties=ties)
    raw = PHReg(
        df["stop"].to_numpy(),
        df[["x", "z"]].to_numpy(),
        status=df["event"].to_numpy(),
        entry=df["start"].to_numpy(),
        ties=ties,
    ).fit(disp=False)
    np.testing.assert_allclose(fit.table["coef"], raw.params, rtol=1e-8)
    np.testing.assert_allclose(fit.table["se"], raw.bse, rtol=1e-8)
    coef, se, _ = _ref(df, ties)
    _assert_rel(fit.table["coef"], coef, 1e-6, "coef")
    _assert_rel(fit.table["se"], se, 1e-6, "se")


def test_fractional_times_and_small_gaps():
    """Times with a 0.01-day gap: the shift (half the smallest gap) must not reorder rows."""
    df = hand_table()
    df["start"] = df["start"] / 100.0 + 3.0
    df["stop"] = df["stop"] / 100.0 + 3.0
    fit = fit_time_varying_cox(df, covariates=["x", "z"])
    coef, se, _ = _ref(df, "efron")
    _assert_rel(fit.table["coef"], coef, 1e-6, "coef")
    _assert_rel(fit.table["se"], se, 1e-6, "se")


def test_input_errors():
    df = hand_table()
    with pytest.raises(AnalysisError, match="ties"):
        fit_time_varying_cox(df, covariates=["x"], ties="exact")
    with pytest.raises(AnalysisError, match="start >= stop"):
        fit_time_varying_cox(df.assign(stop=df["start"]), covariates=["x"])
    with pytest.raises(AnalysisError, match="no events"):
        fit_time_varying_cox(df.assign(event=0), covariates=["x"])


# ------------------------------------------------------------ (c) split_at_exposure


def test_split_at_exposure_hand_worked():
    cohort = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "entry_day": [0.0, 5.0, 0.0, 2.0, 1.0],
            # at entry, mid-follow-up, on the event day, never, mid with a competing death
            "exposure_day": [0.0, 8.0, 15.0, np.nan, 4.0],
            "event_day": [10.0, 20.0, 15.0, 30.0, 9.0],
            "event": [1, 1, 1, 0, 2],
            "age": [50.0, 61.5, 70.0, 45.0, 80.0],
        }
    )
    got = split_at_exposure(cohort, covariates=["age"])
    expected = pd.DataFrame(
        {
            "id": [1, 2, 2, 3, 4, 5, 5],
            "start": [0.0, 5.0, 8.0, 0.0, 2.0, 1.0, 4.0],
            "stop": [10.0, 8.0, 20.0, 15.0, 30.0, 4.0, 9.0],
            "event": [1, 0, 1, 1, 0, 0, 0],
            "exposed": [1, 0, 1, 0, 0, 0, 1],
            "age": [50.0, 61.5, 61.5, 70.0, 45.0, 80.0, 80.0],
        }
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got["id"].dtype.kind == "i"
    assert got["event"].dtype.kind == "i"
    assert got["exposed"].dtype.kind == "i"

    # The competing death becomes the event when asked for (cause-specific hazard of code 2).
    deaths = split_at_exposure(cohort, cause=2)
    assert deaths["event"].tolist() == [0, 0, 0, 0, 0, 0, 1]


def test_split_at_exposure_matches_lifelines_timeline():
    scenario = load_scenario("flatiron_lung_mets")
    data = simulate_cohort(scenario, np.random.default_rng(11), n=3000).data
    ours = split_at_exposure(data)

    long = pd.DataFrame(
        {
            "id": data["id"],
            "start": data["entry_day"],
            "stop": data["event_day"],
            "E": (data["event"] == 1).astype(int),
        }
    )
    expo = data["exposure_day"]
    at_entry = expo <= data["entry_day"]
    cv = pd.concat(
        [
            pd.DataFrame(
                {
                    "id": data.loc[~at_entry, "id"],
                    "t": data.loc[~at_entry, "entry_day"],
                    "exposed": 0,
                }
            ),
            pd.DataFrame(
                {"id": data.loc[expo.notna(), "id"], "t": expo[expo.notna()], "exposed": 1}
            ),
        ]
    )
    ref = add_covariate_to_timeline(
        long, cv, duration_col="t", id_col="id", event_col="E", start_col="start", stop_col="stop"
    )
    ref = (
        ref.rename(columns={"E": "event"})
        .astype({"exposed": int})[["id", "start", "stop", "event", "exposed"]]
        .sort_values(["id", "start"])
        .reset_index(drop=True)
    )
    assert (ours["exposed"] == 1).sum() > 300
    pd.testing.assert_frame_equal(
        ours[["id", "start", "stop", "event", "exposed"]], ref, check_dtype=False
    )


def test_split_preserves_person_time_and_events():
    scenario = load_scenario("flatiron_lung_mets")
    data = simulate_cohort(scenario, np.random.default_rng(3), n=5000).data
    ep = split_at_exposure(data)
    assert np.all(ep["stop"] > ep["start"])
    per_person = ep.groupby("id").agg(
        pt=("stop", "max"), first=("start", "min"), ev=("event", "sum")
    )
    np.testing.assert_array_equal(per_person["pt"].to_numpy(), data[schema.EVENT_DAY].to_numpy())
    np.testing.assert_array_equal(per_person["first"].to_numpy(), data[schema.ENTRY_DAY].to_numpy())
    np.testing.assert_array_equal(per_person["ev"].to_numpy(), (data[schema.EVENT] == 1).to_numpy())
    np.testing.assert_allclose(
        (ep["stop"] - ep["start"]).sum(), (data[schema.EVENT_DAY] - data[schema.ENTRY_DAY]).sum()
    )
    exposed_rows = ep[ep["exposed"] == 1].set_index("id")
    expo = data.set_index("id").loc[exposed_rows.index, schema.EXPOSURE_DAY]
    entry = data.set_index("id").loc[exposed_rows.index, schema.ENTRY_DAY]
    np.testing.assert_array_equal(exposed_rows["start"].to_numpy(), np.maximum(expo, entry))
