"""Schoenfeld / Freedman power and events: worked values, lifelines, round trips, reported CIs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from lifelines.statistics import power_under_cph, sample_size_necessary_under_cph
from scipy import stats

from reawaken import load_finding, parse_scenario_text
from reawaken.errors import AnalysisError, ReawakenError
from reawaken.power.analytic import (
    PowerResult,
    event_probability_exponential,
    event_probability_from_scenario,
    exposed_share_for_matching,
    freedman,
    matching_efficiency,
    minimum_detectable_hr,
    persons_for_events,
    schoenfeld,
)

Z975 = stats.norm.ppf(0.975)


# --- published worked values -------------------------------------------------------------------


def test_schoenfeld_worked_example_hr_07_needs_247_events():
    res = schoenfeld(hr=0.7, power=0.8)
    expected = (Z975 + stats.norm.ppf(0.8)) ** 2 / (0.25 * math.log(0.7) ** 2)
    assert res.events == pytest.approx(expected, rel=1e-12)
    assert res.events == pytest.approx(246.79, abs=0.01)
    assert res.required_events == 247
    assert (res.method, res.solved_for, res.sided, res.exposed_share) == (
        "schoenfeld",
        "events",
        2,
        0.5,
    )


LIFELINES_CASES = [
    # power, ratio n_exp/n_con, p_exp, p_con, HR, alpha
    (0.8, 1.0, 0.25, 0.35, 0.7, 0.05),  # lifelines' docstring example: (421, 421)
    (0.9, 0.25, 0.05, 0.03, 1.44, 0.05),
    (0.8, 2.0, 0.4, 0.2, 2.0, 0.01),
    (0.7, 0.5, 0.01, 0.012, 0.8, 0.1),
]


@pytest.mark.parametrize(("power", "ratio", "p_exp", "p_con", "hr", "alpha"), LIFELINES_CASES)
def test_freedman_persons_per_arm_match_lifelines(power, ratio, p_exp, p_con, hr, alpha):
    d = freedman(hr=hr, power=power, alpha=alpha, allocation_ratio=ratio).events
    # D events = n_exp p_exp + n_con p_con with n_exp = ratio n_con, so per arm:
    n_con = d / (ratio * p_exp + p_con)
    ours = (math.ceil(ratio * n_con), math.ceil(n_con))
    assert ours == sample_size_necessary_under_cph(power, ratio, p_exp, p_con, hr, alpha)


@pytest.mark.parametrize(("power", "ratio", "_pe", "_pc", "hr", "alpha"), LIFELINES_CASES)
def test_freedman_events_match_lifelines_to_1e8(power, ratio, _pe, _pc, hr, alpha):
    # lifelines rounds persons up; with a 1e-9 event probability the rounding is below 1e-10
    tiny = 1e-9
    n_exp, n_con = sample_size_necessary_under_cph(power, ratio, tiny, tiny, hr, alpha)
    lifelines_events = (n_exp + n_con) * tiny
    d = freedman(hr=hr, power=power, alpha=alpha, allocation_ratio=ratio).events
    assert d == pytest.approx(lifelines_events, rel=1e-8)


@pytest.mark.parametrize(
    ("n_exp", "n_con", "p_exp", "p_con", "hr", "alpha"),
    [
        (421, 421, 0.25, 0.35, 0.7, 0.05),
        (9000, 27845, 0.006, 0.005, 1.44, 0.05),
        (300, 150, 0.3, 0.2, 1.6, 0.01),
        (1000, 4000, 0.05, 0.05, 0.75, 0.05),
    ],
)
def test_freedman_power_matches_lifelines(n_exp, n_con, p_exp, p_con, hr, alpha):
    events = n_exp * p_exp + n_con * p_con
    ours = freedman(events=events, hr=hr, alpha=alpha, allocation_ratio=n_exp / n_con).power
    theirs = power_under_cph(n_exp, n_con, p_exp, p_con, hr, alpha)
    assert ours == pytest.approx(theirs, rel=1e-8)


def test_schoenfeld_and_freedman_agree_near_the_null_and_freedman_asks_more():
    s = schoenfeld(hr=1.05, power=0.8).events
    f = freedman(hr=1.05, power=0.8).events
    assert f == pytest.approx(s, rel=2e-3)
    assert freedman(hr=0.7, power=0.8).events > schoenfeld(hr=0.7, power=0.8).events


# --- round trips ------------------------------------------------------------------------------


def _solve(method, **kw):
    share = kw.pop("share")
    if method == "schoenfeld":
        return schoenfeld(exposed_share=share, **kw)
    return freedman(allocation_ratio=share / (1 - share), **kw)


@pytest.mark.parametrize("method", ["schoenfeld", "freedman"])
@pytest.mark.parametrize("sided", [1, 2])
@pytest.mark.parametrize("share", [0.5, 0.2, 0.7])
@pytest.mark.parametrize("hr", [0.6, 1.44, 1.85])
def test_round_trips(method, sided, share, hr):
    common = {"sided": sided, "share": share, "alpha": 0.05}
    d = _solve(method, hr=hr, power=0.8, **common).events
    pw = _solve(method, events=d, hr=hr, **common).power
    assert pw == pytest.approx(0.8, rel=1e-12)
    events = 300.0
    pw = _solve(method, events=events, hr=hr, **common).power
    assert _solve(method, hr=hr, power=pw, **common).events == pytest.approx(events, rel=1e-12)
    direction = "increase" if hr > 1 else "decrease"
    back = _solve(method, events=events, power=pw, direction=direction, **common).hr
    assert back == pytest.approx(hr, rel=1e-12)


def test_hr_both_directions():
    up = schoenfeld(events=200, power=0.8)
    down = schoenfeld(events=200, power=0.8, direction="decrease")
    assert up.hr > 1 > down.hr
    assert up.hr * down.hr == pytest.approx(1.0, rel=1e-12)  # symmetric on the log scale
    f_up = freedman(events=200, power=0.8, allocation_ratio=0.25)
    f_down = freedman(events=200, power=0.8, allocation_ratio=0.25, direction="decrease")
    assert f_up.hr > 1 > f_down.hr
    assert minimum_detectable_hr(200) == pytest.approx(up.hr, rel=1e-15)
    assert minimum_detectable_hr(200, method="freedman", exposed_share=0.2) == pytest.approx(
        f_up.hr, rel=1e-12
    )


# --- the reported findings: what their CIs imply (SE, information, power) -------------------


@pytest.mark.parametrize(
    ("name", "expected_power"), [("flatiron_lung_mets", 0.52), ("ukb_cancer_mortality", 0.70)]
)
@pytest.mark.parametrize("share", [0.5, 0.2, 0.05])
def test_power_at_the_reported_effect_and_precision(name, expected_power, share):
    f = load_finding(name)
    events = 1.0 / (f.implied_se**2 * share * (1 - share))  # information D p(1-p) = 1/SE^2
    res = schoenfeld(events=events, hr=f.estimate, exposed_share=share)
    assert res.information == pytest.approx(1 / f.implied_se**2, rel=1e-12)
    assert res.power == pytest.approx(expected_power, abs=0.01)


def test_flatiron_information_is_about_31():
    f = load_finding("flatiron_lung_mets")
    assert 1 / f.implied_se**2 == pytest.approx(31, abs=1)


# --- sidedness and matching -------------------------------------------------------------------


def test_one_sided_vs_two_sided():
    two = schoenfeld(hr=1.44, power=0.8)
    one = schoenfeld(hr=1.44, power=0.8, sided=1)
    assert one.events < two.events
    expected = (stats.norm.ppf(0.95) + stats.norm.ppf(0.8)) ** 2 / (0.25 * math.log(1.44) ** 2)
    assert one.events == pytest.approx(expected, rel=1e-12)
    same = schoenfeld(hr=1.44, power=0.8, sided=1, alpha=0.025)
    assert same.events == pytest.approx(two.events, rel=1e-12)
    assert schoenfeld(events=100, hr=1.44, sided=1).power > schoenfeld(events=100, hr=1.44).power


def test_matched_1_to_4():
    p = exposed_share_for_matching(4)
    assert p == pytest.approx(0.2)
    assert matching_efficiency(4) == pytest.approx(0.8)
    assert matching_efficiency(1) == pytest.approx(0.5)
    res = schoenfeld(hr=1.44, power=0.8, exposed_share=p)
    # 1:4 needs 0.25 / 0.16 times the events of 1:1
    ratio = res.events / schoenfeld(hr=1.44, power=0.8).events
    assert ratio == pytest.approx(0.25 / 0.16, rel=1e-12)
    # information per exposed event is k/(k+1) = 0.8 (the full-cohort limit p -> 0 gives 1)
    exposed_events = p * res.events
    assert res.information / exposed_events == pytest.approx(matching_efficiency(4), rel=1e-12)
    tiny = 1e-6
    full = schoenfeld(hr=1.44, power=0.8, exposed_share=tiny)
    assert full.information / (tiny * full.events) == pytest.approx(1.0, abs=1e-5)
    assert res.allocation_ratio == pytest.approx(0.25)
    assert freedman(hr=1.44, power=0.8, allocation_ratio=0.25).exposed_share == pytest.approx(p)


# --- events -> persons ------------------------------------------------------------------------


def test_persons_for_events():
    assert persons_for_events(247, event_probability=0.25) == 988
    assert persons_for_events(246.5, event_probability=0.5) == 493
    res = schoenfeld(hr=0.7, power=0.8, event_probability=0.25)
    assert res.persons == math.ceil(res.events / 0.25)
    assert "persons" in res.summary()


def test_event_probability_exponential_closed_form():
    lam, mu, f = 0.1, 0.05, 3.0
    p0 = event_probability_exponential(lam, f, loss_rate_per_year=mu)
    assert p0 == pytest.approx(lam / (lam + mu) * (1 - math.exp(-(lam + mu) * f)), rel=1e-12)
    assert event_probability_exponential(lam, f) == pytest.approx(1 - math.exp(-lam * f))
    # accrual -> 0 is continuous; accrual lowers the probability (shorter mean follow-up)
    assert event_probability_exponential(
        lam, f, accrual_years=1e-7, loss_rate_per_year=mu
    ) == pytest.approx(p0, rel=1e-6)
    pa = event_probability_exponential(lam, f, accrual_years=2.0, loss_rate_per_year=mu)
    assert pa > p0  # total follow-up is f + a: uniform on [f, f + a]
    # average over the uniform potential follow-up, by quadrature
    grid = np.linspace(f, f + 2.0, 20001)
    curve = lam / (lam + mu) * (1 - np.exp(-(lam + mu) * grid))
    assert pa == pytest.approx(np.trapezoid(curve, grid) / 2.0, rel=1e-8)


SCENARIO = """
name = "exp_check"
n = 1000
[followup]
end_day = 1461
accrual_days = 730
loss_rate_per_year = 0.03
time_resolution = "exact"
[outcome]
baseline = { family = "exponential", rate_per_year = 0.08 }
[effect]
hazard_ratio = [1.0]
[infection]
monthly_rate_per_year = [0.0]
[death]
baseline = { family = "exponential", rate_per_year = 0.02 }
"""


def test_event_probability_from_scenario_matches_closed_form():
    scenario = parse_scenario_text(SCENARIO)
    n = 100_000
    sim = event_probability_from_scenario(scenario, n=n, seed=3)
    # entry uniform on [0, 730) days, end at day 1461: follow-up >= 731 days after accrual
    closed = event_probability_exponential(
        0.08, (1461 - 730) / 365.25, accrual_years=730 / 365.25, loss_rate_per_year=0.05
    )
    mcse = math.sqrt(closed * (1 - closed) / n)
    assert abs(sim - closed) < 4 * mcse
    assert event_probability_from_scenario(scenario, n=2000, seed=3) == (
        event_probability_from_scenario(scenario, n=2000, seed=3)
    )


# --- result object ----------------------------------------------------------------------------


def test_result_summary_and_to_dict():
    res = freedman(events=250, hr=1.44, allocation_ratio=0.25)
    assert isinstance(res, PowerResult)
    d = res.to_dict()
    assert d["method"] == "freedman" and d["solved_for"] == "power"
    assert d["required_events"] == 250 and d["persons"] is None
    assert d["information"] == pytest.approx(250 * 0.2 * 0.8)
    text = res.summary()
    assert "Freedman" in text and "HR 1.440" in text and "1:4.00" in text
    with pytest.raises(AttributeError):
        res.events = 3  # frozen


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"events": 100, "hr": 1.0}, "hr = 1"),
        ({"hr": 1.0, "power": 0.8}, "hr = 1"),
        ({"hr": 1.44, "power": 0.05}, "alpha"),
        ({"hr": 1.44, "power": 0.01}, r"\(alpha, 1\)"),
        ({"hr": 1.44, "power": 1.0}, "power"),
        ({"hr": 1.44}, "exactly one"),
        ({"events": 100, "hr": 1.44, "power": 0.8}, "exactly one"),
        ({"events": -5, "hr": 1.44}, "events"),
        ({"events": 100, "hr": -1.0}, "positive"),
        ({"events": 100, "hr": 1.44, "alpha": 0.0}, "alpha"),
        ({"events": 100, "hr": 1.44, "sided": 3}, "sided"),
        ({"events": 100, "power": 0.8, "direction": "up"}, "direction"),
    ],
)
@pytest.mark.parametrize("fn", [schoenfeld, freedman])
def test_bad_inputs_raise(fn, kwargs, match):
    with pytest.raises(AnalysisError, match=match) as info:
        fn(**kwargs)
    assert isinstance(info.value, ReawakenError)
    assert "fix:" in str(info.value)


def test_bad_allocation_raises():
    with pytest.raises(AnalysisError, match="exposed_share"):
        schoenfeld(hr=1.44, power=0.8, exposed_share=1.0)
    with pytest.raises(AnalysisError, match="allocation_ratio"):
        freedman(hr=1.44, power=0.8, allocation_ratio=0.0)
    with pytest.raises(AnalysisError, match="controls"):
        exposed_share_for_matching(0)
    with pytest.raises(AnalysisError, match="method"):
        minimum_detectable_hr(100, method="lakatos")


def test_freedman_unattainable_hr_raises():
    # phi = 4: delta <= sqrt(D / phi) = 2.5 < z + z_0.8 = 2.80 for any HR > 1
    with pytest.raises(AnalysisError, match="no HR above 1"):
        freedman(events=25, power=0.8, allocation_ratio=4.0)
    assert freedman(events=25, power=0.8, allocation_ratio=4.0, direction="decrease").hr < 1


def test_bad_event_probability_inputs_raise():
    with pytest.raises(AnalysisError, match="event_probability"):
        persons_for_events(100, event_probability=0.0)
    with pytest.raises(AnalysisError, match="events"):
        persons_for_events(0, event_probability=0.5)
    with pytest.raises(AnalysisError, match="rate_per_year"):
        event_probability_exponential(-0.1, 2.0)
    with pytest.raises(AnalysisError, match="loss_rate_per_year"):
        event_probability_exponential(0.1, 2.0, loss_rate_per_year=-1)
    with pytest.raises(AnalysisError, match="followup_years"):
        event_probability_exponential(0.1, 0.0)
