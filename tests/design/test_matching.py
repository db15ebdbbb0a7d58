"""Exposure-density and propensity-score matching: hand-worked sets, properties, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from reawaken.design.matching import (
    MatchedCohort,
    match_exposure_density,
    match_propensity,
    standardized_mean_difference,
)
from reawaken.errors import AnalysisError, CohortError
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort

NAN = np.nan

# id, grp, age, entry_day, exposure_day, test_day, event_day, event
_HAND = [
    (1, 0, 50.0, 0.0, 10.0, NAN, 100.0, 1),  # exposed day 10
    (2, 0, 51.0, 0.0, NAN, 12.0, 50.0, 1),  # never exposed, at risk until 50
    (3, 0, 50.0, 20.0, NAN, 31.0, 90.0, 0),  # enters on day 20
    (4, 0, 50.0, 0.0, NAN, NAN, 10.0, 1),  # event on day 10 (index day of id 1)
    (5, 0, 49.0, 0.0, 30.0, 20.0, 80.0, 1),  # exposed later (day 30)
    (6, 0, 50.0, 0.0, 5.0, NAN, 70.0, 0),  # exposed early (day 5)
    (7, 1, 50.0, 0.0, NAN, NAN, 100.0, 0),  # other exact group
    (8, 0, 60.0, 0.0, NAN, NAN, 100.0, 0),  # outside the age caliper
    (9, 0, 52.0, 10.0, NAN, 11.0, 200.0, 0),  # enters on day 10
    (10, 0, 48.0, 0.0, 40.0, NAN, 40.0, 2),  # exposed on its event day
]


@pytest.fixture
def hand() -> pd.DataFrame:
    cols = ["id", "grp", "age", "entry_day", "exposure_day", "test_day", "event_day", "event"]
    return pd.DataFrame(_HAND, columns=cols)


def _sets(m: MatchedCohort) -> dict[int, set[int]]:
    """Exposed id -> set of control ids."""
    d = m.data
    out = {}
    for _, g in d.groupby("set_id"):
        exposed = g.loc[g["exposed"] == 1, "id"]
        assert len(exposed) == 1
        out[int(exposed.iloc[0])] = set(g.loc[g["exposed"] == 0, "id"].astype(int))
    return out


def _match_hand(hand, **kw):
    kw.setdefault("controls", 5)
    return match_exposure_density(hand, rng=np.random.default_rng(0), **kw)


def test_hand_worked_sets(hand):
    m = _match_hand(hand, exact=["grp"], caliper={"age": 5})
    # id 6 (day 5): 1 and 5 not yet exposed, 4 still at risk (event on 10), 3 and 9 not entered
    # id 1 (day 10): 4 has its event on the index day, 6 already exposed, 9 enters on day 10
    # id 5 (day 30): 3 has entered; 2, 9, 10 still at risk and unexposed
    assert _sets(m) == {6: {1, 2, 4, 5, 10}, 1: {2, 5, 9, 10}, 5: {2, 3, 9, 10}}
    d = m.data
    assert list(d.columns[:7]) == [
        "set_id",
        "id",
        "exposed",
        "index_day",
        "time",
        "event",
        "stop_day",
    ]
    assert d["set_id"].tolist() == [1] * 6 + [2] * 5 + [3] * 5  # order: exposure day, then id
    rows = {(r.set_id, r.id): (r.index_day, r.stop_day, r.time, r.event) for r in d.itertuples()}
    assert rows[(1, 6)] == (5.0, 70.0, 65.0, 0)
    assert rows[(1, 1)] == (5.0, 10.0, 5.0, 0)  # control exposed later: censored on day 10
    assert rows[(1, 4)] == (5.0, 10.0, 5.0, 1)
    assert rows[(1, 10)] == (5.0, 40.0, 35.0, 2)  # exposure on its event day: keeps the event
    assert rows[(2, 1)] == (10.0, 100.0, 90.0, 1)  # ... and id 1 opens its own set on day 10
    assert rows[(2, 5)] == (10.0, 30.0, 20.0, 0)
    assert rows[(2, 9)] == (10.0, 200.0, 190.0, 0)
    assert rows[(3, 5)] == (30.0, 80.0, 50.0, 1)
    assert rows[(3, 3)] == (30.0, 90.0, 60.0, 0)
    assert (d["time"] > 0).all()
    assert d.loc[d["id"] == 9, "age"].tolist() == [52.0, 52.0]  # covariates copied

    r = m.report
    assert (r.n_exposed, r.n_matched, r.n_partially_matched) == (4, 3, 2)
    assert (r.n_unmatched_no_control, r.n_unmatched_exposure_on_event_day) == (0, 1)
    assert r.unmatched.to_dict("records") == [
        {"id": 10, "exposure_day": 40.0, "reason": "exposure on event day"}
    ]
    assert r.controls_per_set["n_sets"].tolist() == [0, 0, 0, 2, 1]
    assert (r.n_control_rows, r.n_distinct_controls, r.n_controls_reused) == (13, 7, 4)
    assert (r.n_controls_censored_at_exposure, r.n_controls_also_exposed) == (3, 3)
    assert "1 exposure on event day" in m.summary()


def test_hand_exact_and_caliper_each_matter(hand):
    assert _sets(_match_hand(hand, controls=10))[1] == {2, 5, 7, 8, 9, 10}
    assert _sets(_match_hand(hand, exact=["grp"]))[1] == {2, 5, 8, 9, 10}
    assert _sets(_match_hand(hand, caliper={"age": 5}))[1] == {2, 5, 7, 9, 10}
    # the caliper is inclusive: |51 - 50| = |49 - 50| = 1
    assert _sets(_match_hand(hand, exact=["grp"], caliper={"age": 1}))[1] == {2, 5}


def test_hand_test_window(hand):
    m = _match_hand(hand, exact=["grp"], caliper={"age": 5}, test_window_days=3)
    # day 10: tests on 12 (id 2) and 11 (id 9) are within 3 days; day 30: id 3 tested on 31
    assert _sets(m) == {1: {2, 9}, 5: {3}}
    assert m.report.n_unmatched_no_control == 1  # id 6: nobody tested within 3 days of day 5
    assert m.report.unmatched.set_index("id")["reason"].to_dict() == {
        6: "no eligible control",
        10: "exposure on event day",
    }


def test_hand_random_subset_is_reproducible(hand):
    full = _sets(_match_hand(hand, controls=10))
    a = match_exposure_density(hand, rng=np.random.default_rng(3), controls=2)
    b = match_exposure_density(hand, rng=np.random.default_rng(3), controls=2)
    pd.testing.assert_frame_equal(a.data, b.data)
    for exposed, chosen in _sets(a).items():
        assert len(chosen) == 2 and chosen <= full[exposed]


def test_smd_formula_by_hand():
    # continuous: m1 = 2.5, s1^2 = 5/3; m0 = 4, s0^2 = 4
    assert standardized_mean_difference([1, 2, 3, 4], [2, 4, 6]) == pytest.approx(
        -1.5 / math.sqrt((5 / 3 + 4) / 2)
    )
    # binary: p1 = 0.5, p0 = 0.25, variances p(1 - p)
    assert standardized_mean_difference([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(
        0.25 / math.sqrt((0.25 + 0.1875) / 2)
    )
    assert standardized_mean_difference([3, 3], [3, 3, 3]) == 0.0
    assert math.isnan(standardized_mean_difference([], [1.0]))


def test_balance_table_matches_formula(hand):
    m = _match_hand(hand, exact=["grp"], caliper={"age": 5})
    bal = m.report.balance.set_index("covariate")
    assert list(m.report.balance.columns[:6]) == [
        "covariate",
        "smd_before",
        "smd_after",
        "mean_exposed",
        "mean_control_before",
        "mean_control_after",
    ]
    d = m.data
    age_after = standardized_mean_difference(
        d.loc[d.exposed == 1, "age"], d.loc[d.exposed == 0, "age"]
    )
    assert bal.loc["age", "smd_after"] == pytest.approx(age_after)
    ever = hand["exposure_day"].notna()
    assert bal.loc["age", "smd_before"] == pytest.approx(
        standardized_mean_difference(hand.loc[ever, "age"], hand.loc[~ever, "age"])
    )
    assert bal.loc["age", "mean_control_after"] == pytest.approx(
        d.loc[d.exposed == 0, "age"].mean()
    )
    assert bal.loc["grp", "smd_after"] == 0.0


@pytest.fixture(scope="module")
def flatiron() -> pd.DataFrame:
    scenario = load_scenario("flatiron_lung_mets")
    return simulate_cohort(scenario, np.random.default_rng(11), n=20_000).data


@pytest.fixture(scope="module")
def flatiron_matched(flatiron) -> MatchedCohort:
    return match_exposure_density(
        flatiron,
        rng=np.random.default_rng(5),
        controls=4,
        exact=["stage", "her2"],
        caliper={"age": 2.0},
    )


def _with_cohort(m: MatchedCohort, cohort: pd.DataFrame) -> pd.DataFrame:
    """Matched rows joined to the person's cohort row and to the set's exposed person."""
    d = m.data.merge(cohort, on="id", suffixes=("", "_c"), validate="many_to_one")
    ex = d.loc[d.exposed == 1].set_index("set_id")
    return d.join(ex[["stage", "her2", "age"]], on="set_id", rsuffix="_x")


def test_flatiron_properties(flatiron, flatiron_matched):
    m = flatiron_matched
    d = _with_cohort(m, flatiron)
    ctl, exp = d[d.exposed == 0], d[d.exposed == 1]
    assert (ctl.entry_day <= ctl.index_day).all() and (ctl.event_day > ctl.index_day).all()
    assert (ctl.exposure_day.isna() | (ctl.exposure_day > ctl.index_day)).all()
    assert (ctl.stage == ctl.stage_x).all() and (ctl.her2 == ctl.her2_x).all()
    assert ((ctl.age - ctl.age_x).abs() <= 2.0).all()
    assert (exp.index_day == exp.exposure_day).all()
    sizes = d.groupby("set_id")["exposed"].agg(["sum", "size"])
    assert (sizes["sum"] == 1).all() and (sizes["size"].between(2, 5)).all()
    assert (d.time > 0).all()
    np.testing.assert_array_equal(d.time, d.stop_day - d.index_day)
    censored = (d.exposed == 0) & (d.exposure_day < d.event_day)
    np.testing.assert_array_equal(d.stop_day, np.where(censored, d.exposure_day, d.event_day))
    np.testing.assert_array_equal(d.event, np.where(censored, 0, d.event_c))
    rep = m.report
    assert rep.n_matched + rep.n_unmatched == rep.n_exposed == flatiron.exposure_day.notna().sum()
    assert rep.controls_per_set["n_sets"].sum() == rep.n_matched == d.set_id.nunique()
    bal = rep.balance.set_index("covariate")
    assert abs(bal.loc["age", "smd_after"]) < 0.1
    # exact columns: equal within full sets; partial sets weigh rows unevenly, hence not 0
    assert abs(bal.loc["stage", "smd_after"]) < 0.01 and abs(bal.loc["her2", "smd_after"]) < 0.01
    assert "max |SMD| after" in m.summary()


def test_flatiron_reproducible(flatiron, flatiron_matched):
    kw = {"controls": 4, "exact": ["stage", "her2"], "caliper": {"age": 2.0}}
    again = match_exposure_density(flatiron, rng=np.random.default_rng(5), **kw)
    pd.testing.assert_frame_equal(again.data, flatiron_matched.data)
    other = match_exposure_density(flatiron, rng=np.random.default_rng(6), **kw)
    assert not other.data["id"].equals(flatiron_matched.data["id"])


def test_ukb_test_window():
    cohort = simulate_cohort(
        load_scenario("ukb_cancer_mortality"), np.random.default_rng(3), n=2000
    ).data
    m = match_exposure_density(
        cohort, rng=np.random.default_rng(1), controls=2, exact=["female"], test_window_days=7
    )
    d = m.data.merge(cohort[["id", "test_day"]], on="id")
    ctl = d[d.exposed == 0]
    assert ((ctl.test_day - ctl.index_day).abs() <= 7).all()


def test_propensity_matching(flatiron):
    cohort = flatiron.iloc[:4000]
    names = ["age", "stage", "her2", "comorbidity"]
    m = match_propensity(cohort, rng=np.random.default_rng(2), covariates=names, controls=2)
    x = sm.add_constant(cohort[names].astype(float))
    direct = sm.Logit(cohort.exposure_day.notna().astype(float), x).fit(disp=0)
    prop = m.report.propensity.set_index("term")
    np.testing.assert_allclose(prop["coef"], direct.params[prop.index], rtol=1e-8)
    np.testing.assert_allclose(prop["se"], direct.bse[prop.index], rtol=1e-8)
    logit = x.to_numpy() @ direct.params.to_numpy()
    caliper = 0.2 * np.std(logit, ddof=1)
    d = _with_cohort(m, cohort)
    d = d.join(d.loc[d.exposed == 1].set_index("set_id")["ps_logit"], on="set_id", rsuffix="_x")
    ctl = d[d.exposed == 0]
    assert ((ctl.ps_logit - ctl.ps_logit_x).abs() <= caliper).all()
    assert (ctl.entry_day <= ctl.index_day).all() and (ctl.event_day > ctl.index_day).all()
    assert (ctl.exposure_day.isna() | (ctl.exposure_day > ctl.index_day)).all()
    assert d.groupby("set_id").size().max() <= 3
    # greedy nearest: no eligible person is strictly closer than the farthest chosen control
    ps = pd.Series(logit, index=cohort["id"])
    ent, end = cohort.entry_day.to_numpy(), cohort.event_day.to_numpy()
    expo = cohort.exposure_day.fillna(np.inf).to_numpy()
    for _, g in list(d.groupby("set_id"))[:200]:
        day, px = g.index_day.iloc[0], g.ps_logit_x.iloc[0]
        eligible = (ent <= day) & (end > day) & (expo > day)
        dist = np.abs(ps.to_numpy()[eligible] - px)
        farthest = (g.loc[g.exposed == 0, "ps_logit"] - px).abs().max()
        n_closer = int((dist < farthest - 1e-12).sum())
        assert n_closer <= (g.exposed == 0).sum() - 1
    assert "ps_logit" in set(m.report.balance["covariate"])
    assert abs(m.report.balance.set_index("covariate").loc["ps_logit", "smd_after"]) < 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exact": ["nope"]}, "unknown column"),
        ({"caliper": {"nope": 1.0}}, "unknown column"),
        ({"controls": 0}, "positive integer"),
        ({"controls": -2}, "positive integer"),
        ({"controls": 2.5}, "positive integer"),
        ({"caliper": {"age": -1.0}}, "must be a number >= 0"),
        ({"test_window_days": -3}, "must be a number >= 0"),
        ({"exact": ["event"]}, "contract column"),
        ({"covariates": ["nope"]}, "unknown column"),
    ],
)
def test_bad_arguments(hand, kwargs, message):
    with pytest.raises(AnalysisError, match=message):
        match_exposure_density(hand, rng=np.random.default_rng(0), **kwargs)


def test_bad_cohorts(hand):
    rng = np.random.default_rng(0)
    with pytest.raises(AnalysisError, match="nothing to match"):
        match_exposure_density(hand.assign(exposure_day=NAN), rng=rng)
    broken = hand.assign(event_day=hand["event_day"].where(hand["id"] != 2, -1.0))
    with pytest.raises(CohortError, match="event_day before entry_day"):
        match_exposure_density(broken, rng=rng)
    with pytest.raises(AnalysisError, match="test_day"):
        match_exposure_density(hand.drop(columns="test_day"), rng=rng, test_window_days=3)
    with pytest.raises(AnalysisError, match="DataFrame"):
        match_exposure_density([1, 2], rng=rng)
    with pytest.raises(AnalysisError, match="none of the 1 exposed persons has an eligible"):
        match_exposure_density(hand[hand["id"].isin([1, 7])], rng=rng, exact=["grp"])


def test_bad_propensity_inputs(hand):
    rng = np.random.default_rng(0)
    with pytest.raises(AnalysisError, match="caliper_sd"):
        match_propensity(hand, rng=rng, covariates=["age"], caliper_sd=-0.2)
    with pytest.raises(AnalysisError, match="unknown column"):
        match_propensity(hand, rng=rng, covariates=["nope"])
    with pytest.raises(AnalysisError, match="empty"):
        match_propensity(hand, rng=rng, covariates=[])
    with pytest.raises(AnalysisError, match="every person is exposed"):
        match_propensity(hand.assign(exposure_day=hand["entry_day"]), rng=rng, covariates=["age"])


def test_flatiron_identical_to_previous_implementation(flatiron, flatiron_matched):
    """The vectorised matcher draws the same sets as the per-person loop it replaced."""
    from _matching_legacy import legacy_match_exposure_density

    kw = {"controls": 4, "exact": ["stage", "her2"], "caliper": {"age": 2.0}}
    old = legacy_match_exposure_density(flatiron, rng=np.random.default_rng(5), **kw)
    pd.testing.assert_frame_equal(flatiron_matched.data, old.data)
    pd.testing.assert_frame_equal(flatiron_matched.report.balance, old.report.balance)
    assert flatiron_matched.summary() == old.summary()


def test_ukb_identical_to_previous_implementation():
    from _matching_legacy import legacy_match_exposure_density

    scenario = load_scenario("ukb_cancer_mortality")
    cohort = simulate_cohort(scenario, np.random.default_rng(8)).data
    kw = {"controls": 4, "exact": ["female"], "caliper": {"age": 5.0}, "test_window_days": 14}
    new_rng, old_rng = np.random.default_rng(9), np.random.default_rng(9)
    new = match_exposure_density(cohort, rng=new_rng, **kw)
    old = legacy_match_exposure_density(cohort, rng=old_rng, **kw)
    pd.testing.assert_frame_equal(new.data, old.data)
    assert new.summary() == old.summary()
    assert new_rng.bit_generator.state == old_rng.bit_generator.state


class _Bar:
    """Stands in for a tqdm bar."""

    def __init__(self):
        self.done = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        self.done += n


@pytest.mark.parametrize(
    ("progress", "min_persons", "disable"),
    [(True, 0, None), (False, 0, True), (True, 10**9, True)],
)
def test_progress_bar_only_when_asked_and_large(monkeypatch, hand, progress, min_persons, disable):
    """A labelled bar counting sets; never for small cohorts; ``disable=None`` lets tqdm hide
    it when stderr is not a terminal."""
    from reawaken.design import sampling

    calls, bars = [], []

    def fake_tqdm(**kwargs):
        calls.append(kwargs)
        bars.append(_Bar())
        return bars[-1]

    monkeypatch.setattr(sampling, "tqdm", fake_tqdm)
    monkeypatch.setattr(sampling, "PROGRESS_MIN_PERSONS", min_persons)
    monkeypatch.setattr(sampling, "CHUNK", 2)
    m = _match_hand(hand, exact=["grp"], caliper={"age": 5}, progress=progress)
    (call,) = calls
    assert call["disable"] is disable and call["desc"] == "matching" and call["unit"] == "set"
    total = m.report.n_exposed - m.report.n_unmatched_exposure_on_event_day
    assert call["total"] == bars[0].done == total


def test_progress_bar_silent_off_terminal(hand, capsys, monkeypatch):
    from reawaken.design import sampling

    monkeypatch.setattr(sampling, "PROGRESS_MIN_PERSONS", 0)
    _match_hand(hand, progress=True)
    assert capsys.readouterr().err == ""  # pytest's captured stderr is not a terminal
