"""Kaplan–Meier and log-rank: hand-worked values, published textbook values, other engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines.datasets import load_leukemia
from lifelines.statistics import logrank_test, multivariate_logrank_test
from scipy import stats
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from reawaken.analysis.km import (
    TABLE_COLUMNS,
    KaplanMeierResult,
    LogrankResult,
    default_at_risk_times,
    kaplan_meier,
    logrank,
)
from reawaken.errors import AnalysisError

# Freireich et al., Blood 1963 (as analysed by Gehan, Biometrika 1965): weeks in remission.
# Tabulated in Kleinbaum & Klein, Survival Analysis: A Self-Learning Text (ch. 2) and Klein &
# Moeschberger, Survival Analysis (2003), section 4.2. (time, 1 = relapse / 0 = censored)
SIX_MP = [
    (6, 1), (6, 1), (6, 1), (6, 0), (7, 1), (9, 0), (10, 1), (10, 0), (11, 0), (13, 1), (16, 1),
    (17, 0), (19, 0), (20, 0), (22, 1), (23, 1), (25, 0), (32, 0), (32, 0), (34, 0), (35, 0),
]  # fmt: skip
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
# Published 6-MP product-limit estimates and Greenwood SEs (Klein & Moeschberger, Table 4.1B;
# the survival column also in Kleinbaum & Klein, ch. 2).
PUBLISHED_TIMES = [6, 7, 10, 13, 16, 22, 23]
PUBLISHED_SURVIVAL = [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448]
PUBLISHED_SE = [0.0764, 0.0869, 0.0963, 0.1068, 0.1141, 0.1282, 0.1346]


@pytest.fixture(scope="module")
def freireich() -> pd.DataFrame:
    six = pd.DataFrame(SIX_MP, columns=["weeks", "relapse"]).assign(arm="6-MP")
    pla = pd.DataFrame({"weeks": PLACEBO, "relapse": 1, "arm": "placebo"})
    return pd.concat([six, pla], ignore_index=True)


def _random_cohort(seed: int, n: int = 400, k: int = 2) -> pd.DataFrame:
    """Integer times (many ties), codes 0/1/2, k groups with different hazards."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, k, n)
    t = np.ceil(rng.exponential(30 / (1 + 0.5 * g))).astype(int)
    c = np.ceil(rng.uniform(5, 60, n)).astype(int)
    code = np.where(t <= c, rng.choice([1, 2], n, p=[0.7, 0.3]), 0)
    return pd.DataFrame({"time": np.minimum(t, c), "code": code, "arm": g})


# --- Kaplan–Meier ------------------------------------------------------------------------------


def test_hand_worked_six_persons():
    # t=2 event; t=3 two events and one censored at the event time (counted at risk); t=5
    # censored; t=8 event in the last person at risk.
    df = pd.DataFrame({"t": [3, 2, 3, 8, 3, 5], "e": [1, 1, 0, 1, 1, 0]})
    res = kaplan_meier(df, duration="t", event="e")
    tab = res.table
    assert list(tab.columns) == list(TABLE_COLUMNS)
    assert tab["group"].eq("all").all()
    assert tab["time"].tolist() == [0, 2, 3, 5, 8]
    assert tab["n_at_risk"].tolist() == [6, 6, 5, 2, 1]
    assert tab["events"].tolist() == [0, 1, 2, 0, 1]
    assert tab["censored"].tolist() == [0, 0, 1, 1, 0]
    np.testing.assert_allclose(tab["survival"], [1, 5 / 6, 1 / 2, 1 / 2, 0], rtol=0, atol=1e-15)
    # Greenwood: S^2 * sum d / (n (n - d))
    se2 = np.sqrt((5 / 6) ** 2 / 30)
    se3 = np.sqrt(0.25 * (1 / 30 + 2 / 15))
    np.testing.assert_allclose(tab["se"].iloc[:4], [0, se2, se3, se3], rtol=1e-12)
    assert tab.iloc[4][["se", "ci_low", "ci_high"]].isna().all()  # S = 0: undefined
    # median: first time with S <= 0.5 (lifelines' convention; R would give 5.5)
    assert res.medians.loc[0, "median"] == 3
    assert isinstance(res, KaplanMeierResult)
    assert "median 3" in res.summary()


def test_survival_and_greenwood_se_match_statsmodels():
    df = _random_cohort(1, k=3)
    res = kaplan_meier(df, duration="time", event="code", group="arm")
    for g in range(3):
        sub = df[df["arm"] == g]
        sm = SurvfuncRight(sub["time"], (sub["code"] > 0).astype(int))
        ours = res.table[res.table["group"] == g].set_index("time").loc[sm.surv_times]
        np.testing.assert_allclose(ours["survival"], sm.surv_prob, rtol=1e-6)
        np.testing.assert_allclose(ours["n_at_risk"], sm.n_risk)
        ok = np.isfinite(sm.surv_prob_se)
        np.testing.assert_allclose(ours["se"][ok], sm.surv_prob_se[ok], rtol=1e-4)
        assert np.array_equal(np.isfinite(ours["se"]), ok)


def test_ci_is_the_log_minus_log_band():
    df = _random_cohort(2)
    for level in (0.95, 0.9):
        tab = kaplan_meier(df, duration="time", event="code", group="arm", level=level).table
        inside = tab[(tab["survival"] > 0) & (tab["survival"] < 1)]
        s, se = inside["survival"].to_numpy(), inside["se"].to_numpy()
        z = stats.norm.ppf(0.5 + level / 2)
        half = z * (se / s) / np.abs(np.log(s))
        np.testing.assert_allclose(inside["ci_low"], s ** np.exp(half), rtol=1e-9)
        np.testing.assert_allclose(inside["ci_high"], s ** np.exp(-half), rtol=1e-9)
        top = tab[tab["survival"] == 1]
        assert (top["ci_low"] == 1).all() and (top["ci_high"] == 1).all()


def test_freireich_data_are_lifelines_anderson_data(freireich):
    bundled = load_leukemia()  # Kleinbaum & Klein's "anderson" data; Rx 0 = 6-MP, 1 = placebo
    for arm, rx in (("6-MP", 0), ("placebo", 1)):
        ours = freireich[freireich["arm"] == arm].sort_values(["weeks", "relapse"])
        theirs = bundled[bundled["Rx"] == rx].sort_values(["t", "status"])
        assert ours["weeks"].tolist() == theirs["t"].tolist()
        assert ours["relapse"].tolist() == theirs["status"].tolist()


def test_freireich_published_values(freireich):
    res = kaplan_meier(freireich, duration="weeks", event="relapse", group="arm")
    at = res.survival_at(PUBLISHED_TIMES)
    six = at[at["group"] == "6-MP"]
    np.testing.assert_allclose(six["survival"], PUBLISHED_SURVIVAL, atol=5e-4)
    np.testing.assert_allclose(six["se"], PUBLISHED_SE, atol=5e-5)
    # medians: 23 weeks (6-MP) and 8 weeks (placebo), Kleinbaum & Klein ch. 2
    med = res.medians.set_index("group")["median"]
    assert med["6-MP"] == 23 and med["placebo"] == 8
    # median CI: first times the log(-log) band reaches 0.5; 6-MP upper limit not reached
    ci = res.medians.set_index("group")
    assert ci.loc["6-MP", "ci_low"] == 13 and np.isnan(ci.loc["6-MP", "ci_high"])
    assert (ci.loc["placebo", "ci_low"], ci.loc["placebo", "ci_high"]) == (4, 11)
    # log-rank chi-square 16.79 on 1 df; O/E 9/19.25 and 21/10.75 (Kleinbaum & Klein, ch. 2)
    lr = logrank(freireich, duration="weeks", event="relapse", group="arm")
    assert lr.statistic == pytest.approx(16.79, abs=5e-3) and lr.df == 1
    tab = lr.table.set_index("group")
    np.testing.assert_allclose(tab["observed"], [9, 21])
    np.testing.assert_allclose(tab["expected"], [19.25, 10.75], atol=5e-3)
    assert tab["n"].tolist() == [21, 21]


def test_at_risk_counts_and_default_times(freireich):
    res = kaplan_meier(freireich, duration="weeks", event="relapse", group="arm")
    times = default_at_risk_times(35)
    assert times[0] == 0 and times[-1] <= 35 and 5 <= len(times) <= 8
    for g, sub in freireich.groupby("arm"):
        ar = res.at_risk[res.at_risk["group"] == g]
        np.testing.assert_array_equal(ar["time"], times)
        expected = [(sub["weeks"] >= t).sum() for t in times]
        assert ar["n_at_risk"].tolist() == expected
    custom = kaplan_meier(freireich, duration="weeks", event="relapse", times=[0, 7.5, 40])
    assert custom.at_risk["n_at_risk"].tolist() == [42, 28, 0]


def test_survival_at_is_a_right_continuous_step(freireich):
    res = kaplan_meier(freireich, duration="weeks", event="relapse", group="arm")
    at = res.survival_at([0, 5.9, 6, 6.5, 35, 36]).set_index(["group", "time"])
    assert at.loc[("6-MP", 5.9), "survival"] == 1
    assert at.loc[("6-MP", 6.0), "survival"] == pytest.approx(18 / 21)
    assert at.loc[("6-MP", 6.5), "survival"] == at.loc[("6-MP", 6.0), "survival"]
    assert at.loc[("6-MP", 6.5), "n_at_risk"] == 17
    assert np.isnan(at.loc[("6-MP", 36.0), "survival"])  # beyond follow-up, S > 0: undefined
    assert at.loc[("placebo", 36.0), "survival"] == 0  # S reached 0 at 23 weeks
    with pytest.raises(AnalysisError, match="times"):
        res.survival_at([-1])


def test_cause_censors_other_codes():
    df = _random_cohort(3)
    res = kaplan_meier(df, duration="time", event="code", group="arm", cause=1)
    recoded = df.assign(code=(df["code"] == 1).astype(int))
    ref = kaplan_meier(recoded, duration="time", event="code", group="arm")
    pd.testing.assert_frame_equal(res.table, ref.table)
    assert "cause 1" in res.method and res.cause == 1
    anyev = kaplan_meier(df, duration="time", event="code", group="arm")
    assert anyev.table["events"].sum() == (df["code"] > 0).sum()


def test_group_order_categorical_and_single_curve():
    df = _random_cohort(4).assign(arm=lambda d: d["arm"].map({0: "b", 1: "a"}))
    assert kaplan_meier(df, duration="time", event="code", group="arm").medians[
        "group"
    ].tolist() == [
        "a",
        "b",
    ]
    cat = df.assign(arm=pd.Categorical(df["arm"], categories=["b", "a", "unused"]))
    res = kaplan_meier(cat, duration="time", event="code", group="arm")
    assert res.groups == ["b", "a"]


# --- log-rank ----------------------------------------------------------------------------------


def test_logrank_two_groups_matches_lifelines_and_statsmodels():
    df = _random_cohort(5)
    d = (df["code"] > 0).astype(int)
    res = logrank(df, duration="time", event="code", group="arm", cause="any")
    a, b = df["arm"] == 0, df["arm"] == 1
    ll = logrank_test(df["time"][a], df["time"][b], d[a], d[b])
    sm_stat, sm_p = survdiff(df["time"], d, df["arm"])
    assert res.statistic == pytest.approx(ll.test_statistic, rel=1e-6)
    assert res.statistic == pytest.approx(sm_stat, rel=1e-6)
    assert res.p_value == pytest.approx(sm_p, rel=1e-6)
    assert isinstance(res, LogrankResult) and res.df == 1 and "log-rank" in res.summary()


def test_logrank_k_groups_matches_multivariate():
    df = _random_cohort(6, n=600, k=4)
    d = (df["code"] == 1).astype(int)
    res = logrank(df, duration="time", event="code", group="arm", cause=1)
    ll = multivariate_logrank_test(df["time"], df["arm"], d)
    sm_stat, _ = survdiff(df["time"], d, df["arm"])
    assert res.df == 3
    assert res.statistic == pytest.approx(ll.test_statistic, rel=1e-6)
    assert res.statistic == pytest.approx(sm_stat, rel=1e-6)
    assert res.table["observed"].sum() == d.sum()
    assert res.table["expected"].sum() == pytest.approx(d.sum())


def _matched_sets(seed: int, n_sets: int, k: int = 2) -> pd.DataFrame:
    """Sets of size 1-5 (first member exposed), ~half of the sets without any event."""
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 6, n_sets)
    set_id = np.repeat(np.arange(n_sets), size)
    member = np.concatenate([np.arange(m) for m in size])
    n = set_id.size
    arm = np.where(member == 0, k - 1, rng.integers(0, k - 1, n) if k > 2 else 0)
    event = (rng.random(n) < 0.35 + 0.1 * arm).astype(int)
    event[np.isin(set_id, np.flatnonzero(rng.random(n_sets) < 0.5))] = 0
    time = rng.integers(1, 20, n)
    return pd.DataFrame({"set_id": set_id, "arm": arm, "time": time, "event": event})


@pytest.mark.parametrize(("seed", "k"), [(7, 2), (8, 2), (9, 3)])
def test_stratified_logrank_matches_statsmodels(seed, k):
    df = _matched_sets(seed, 400, k)
    assert df.groupby("set_id")["event"].sum().eq(0).any()
    assert df.groupby("set_id").size().eq(1).any()
    res = logrank(df, duration="time", event="event", group="arm", strata="set_id")
    sm_stat, sm_p = survdiff(df["time"], df["event"], df["arm"], strata=df["set_id"])
    assert res.statistic == pytest.approx(sm_stat, rel=1e-6)
    assert res.p_value == pytest.approx(sm_p, rel=1e-6)
    assert res.df == k - 1 and "400 strata" in res.method


def test_stratified_with_one_stratum_equals_unstratified():
    df = _random_cohort(10).assign(s="x")
    a = logrank(df, duration="time", event="code", group="arm", strata="s", cause="any")
    b = logrank(df, duration="time", event="code", group="arm", cause="any")
    assert a.statistic == pytest.approx(b.statistic, rel=1e-12)


def test_stratified_without_shared_risk_sets_raises():
    df = pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 1, 1, 1], "g": [0, 0, 1, 1], "s": [1, 1, 2, 2]})
    with pytest.raises(AnalysisError, match="cannot be compared"):
        logrank(df, duration="t", event="e", group="g", strata="s")


# --- bad input ---------------------------------------------------------------------------------


def _base() -> pd.DataFrame:
    return pd.DataFrame({"t": [1.0, 2, 3, 4], "e": [1, 0, 2, 1], "g": ["a", "a", "b", "b"]})


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (None, {"duration": "time"}, "unknown column.*'time'.*spelling"),
        (None, {"group": "arm"}, "unknown column.*'arm'"),
        (lambda d: d.assign(t=[1.0, -2, 3, 4]), {}, "negative time"),
        (lambda d: d.assign(t=[1.0, np.nan, 3, 4]), {}, "missing or infinite.*fix"),
        (lambda d: d.assign(e=0), {}, "no events"),
        (None, {"cause": 3}, "cause 3 does not occur.*present: 1, 2.*fix"),
        (None, {"cause": 0}, "non-zero"),
        (lambda d: d.assign(g=["a", None, "b", "b"]), {}, "missing value.*fix"),
        (lambda d: d.assign(e=[1, 0.5, 0, 0]), {}, "integer codes"),
        (None, {"level": 95}, "level must be in"),
        (None, {"times": [-1, 2]}, "times must be"),
    ],
)
def test_kaplan_meier_bad_input(change, kwargs, match):
    df = _base() if change is None else change(_base())
    args = {"duration": "t", "event": "e", "group": "g", **kwargs}
    with pytest.raises(AnalysisError, match=match):
        kaplan_meier(df, **args)


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (lambda d: d.assign(g="a"), {}, "only one group"),
        (None, {"strata": "set"}, "unknown column.*'set'"),
        (lambda d: d.assign(s=[1, np.nan, 2, 2]), {"strata": "s"}, "strata.*missing"),
        (lambda d: d.assign(e=0), {}, "no events"),
        (None, {"cause": 7}, "cause 7 does not occur"),
        (lambda d: d.assign(t=[-1.0, 2, 3, 4]), {}, "negative"),
    ],
)
def test_logrank_bad_input(change, kwargs, match):
    df = _base() if change is None else change(_base())
    with pytest.raises(AnalysisError, match=match):
        logrank(df, duration="t", event="e", group="g", **kwargs)


def test_non_frame_and_empty_input():
    with pytest.raises(AnalysisError, match="DataFrame"):
        kaplan_meier([1, 2], duration="t", event="e")
    with pytest.raises(AnalysisError, match="no rows"):
        logrank(_base().iloc[:0], duration="t", event="e", group="g")


# --- Simon-Makuch and landmark curves -------------------------------------------------------

# Seven persons (days since entry). Person 7 becomes exposed on day 3, the day person 4 has the
# outcome while exposed: under the (start, stop] rule person 7 is not yet in the exposed risk
# set then. Person 5 is exposed at entry (entry day 1), person 6 dies of another cause.
SM_COHORT = pd.DataFrame(
    {
        "id": [1, 2, 3, 4, 5, 6, 7],
        "entry_day": [0.0, 0, 0, 0, 1, 0, 0],
        "event_day": [5.0, 2, 4, 3, 7, 6, 8],
        "event": [1, 1, 0, 1, 0, 2, 0],
        "exposure_day": [2.0, np.nan, np.nan, 1, 1, np.nan, 3],
    }
)


def test_simon_makuch_hand_computed():
    """By hand (and R survfit(Surv(start, stop, ev) ~ g) on the same rows): unexposed
    n = 6, 6, 5 at days 0, 1, 2 (person 4 left on day 1), one outcome on day 2: S = 4/5;
    exposed n(3) = 3 (persons 4, 5, 1; not 7, who enters on day 3): S(3) = 2/3, n(5) = 3
    (5, 1, 7): S(5) = 2/3 * 2/3 = 4/9; Greenwood 1/(3*2) + 1/(3*2) = 1/3."""
    from reawaken.analysis.exposure_curves import simon_makuch

    res = simon_makuch(SM_COHORT, cause=1, times=[0, 3, 5])
    un = res.table[res.table["group"] == "unexposed"].set_index("time")
    ex = res.table[res.table["group"] == "exposed"].set_index("time")
    assert un["n_at_risk"].to_dict() == {0: 6, 1: 6, 2: 5, 3: 3, 4: 2, 6: 1}
    assert un.loc[2, "events"] == 1 and un.loc[2, "survival"] == pytest.approx(0.8)
    assert un["censored"].to_dict() == {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 6: 1}  # moves are not
    assert ex["n_at_risk"].to_dict() == {0: 1, 1: 1, 2: 2, 3: 3, 5: 3, 6: 2, 8: 1}
    assert ex["entered"].to_dict() == {0: 1, 1: 1, 2: 1, 3: 1, 5: 0, 6: 0, 8: 0}
    assert ex.loc[3, "survival"] == pytest.approx(2 / 3)
    assert ex.loc[5, "survival"] == pytest.approx(4 / 9)
    assert ex.loc[5, "se"] == pytest.approx(4 / 9 * np.sqrt(1 / 3))
    assert ex.loc[0, "survival"] == 1.0 and ex.loc[0, "ci_low"] == 1.0
    at = res.survival_at([0, 3, 5]).set_index(["group", "time"])
    assert at.loc[("exposed", 5.0), "survival"] == pytest.approx(4 / 9)
    assert at.loc[("exposed", 4.0 + 1), "n_at_risk"] == 3
    assert "not the survival of a group" in res.caption


def test_simon_makuch_matches_lifelines_with_entry_on_the_split_episodes():
    """Continuous times with competing events and staggered exposure: lifelines'
    KaplanMeierFitter(entry=start) per group on the split episodes gives the same curve and
    log(-log) CI to 1e-10 and the same risk sets at event times."""
    from lifelines import KaplanMeierFitter

    from reawaken.analysis.exposure_curves import simon_makuch
    from reawaken.design.episodes import split_at_exposure

    rng = np.random.default_rng(20250730)
    n = 400
    t = rng.exponential(300.0, n)
    expo = np.where(rng.random(n) < 0.5, rng.uniform(0, 400, n), np.nan)
    expo = np.where(expo < t, expo, np.nan)
    cohort = pd.DataFrame(
        {
            "id": np.arange(n),
            "entry_day": 0.0,
            "event_day": t,
            "event": rng.choice([0, 1, 2], n, p=[0.4, 0.45, 0.15]),
            "exposure_day": expo,
        }
    )
    res = simon_makuch(cohort, cause=1)
    ep = split_at_exposure(cohort, cause=1)
    for code, label in ((0, "unexposed"), (1, "exposed")):
        rows = ep[ep["exposed"] == code]
        kmf = KaplanMeierFitter().fit(rows["stop"], rows["event"], entry=rows["start"])
        ours = res.table[res.table["group"] == label].set_index("time")
        ref_s = kmf.survival_function_.iloc[:, 0]
        np.testing.assert_allclose(ours.loc[ref_s.index, "survival"], ref_s, rtol=1e-10)
        positive = ref_s.index[ref_s > 0]  # CIs are NaN where S = 0 (as kaplan_meier's)
        ref_ci = kmf.confidence_interval_.loc[positive]
        np.testing.assert_allclose(ours.loc[positive, "ci_low"], ref_ci.iloc[:, 0], rtol=1e-8)
        np.testing.assert_allclose(ours.loc[positive, "ci_high"], ref_ci.iloc[:, 1], rtol=1e-8)
        assert (ours["survival"] < 1).any() and ours["events"].sum() > 20
        at_events = kmf.event_table[kmf.event_table["observed"] > 0]
        np.testing.assert_array_equal(ours.loc[at_events.index, "n_at_risk"], at_events["at_risk"])


def test_simon_makuch_risk_set_excludes_entrants_at_their_entry_time():
    """lifelines' event table lists person 7 (entering the exposed curve on day 3) in
    ``at_risk`` on day 3 although its estimate leaves them out; the table reports the risk set
    the estimate used (3, as R's survfit), not lifelines' 4."""
    from lifelines import KaplanMeierFitter

    from reawaken.analysis.exposure_curves import simon_makuch

    ex = pd.DataFrame({"start": [2.0, 1, 0, 3], "stop": [5.0, 3, 6, 8], "event": [1, 1, 0, 0]})
    kmf = KaplanMeierFitter().fit(ex["stop"], ex["event"], entry=ex["start"])
    assert kmf.event_table.loc[3.0, "at_risk"] == 4
    res = simon_makuch(SM_COHORT, cause=1)
    day3 = res.table[(res.table["group"] == "exposed") & (res.table["time"] == 3)]
    assert day3["n_at_risk"].item() == 3


def test_landmark_curves_group_by_exposure_at_the_landmark():
    """Landmark day 2: persons 2 (outcome on day 2) is excluded (not followed beyond day 2);
    1 and 4 (exposed on days 2 and 1) are exposed by day 2; 7 (exposed on day 3) is not;
    5 (entry 1, exposed at entry) is; times restart at the landmark."""
    from reawaken.analysis.exposure_curves import landmark_curves

    res = landmark_curves(SM_COHORT, landmark=2, cause=1)
    first = res.table.groupby("group", sort=False)["n_at_risk"].first()
    assert first.to_dict() == {"not exposed by day 2": 3, "exposed by day 2": 3}
    ex = res.table[res.table["group"] == "exposed by day 2"].set_index("time")
    # persons 4 (outcome day 3 -> 1), 1 (day 5 -> 3), 5 (censored day 6 -> 4)
    assert ex.loc[1.0, "survival"] == pytest.approx(2 / 3)
    assert ex.loc[3.0, "survival"] == pytest.approx(1 / 3)
    assert "condition on survival to day 2" in res.caption
    with pytest.raises(AnalysisError, match="landmark must be a time >= 0"):
        landmark_curves(SM_COHORT, landmark=-1)
    with pytest.raises(AnalysisError, match="nobody is followed beyond"):
        landmark_curves(SM_COHORT, landmark=100)
