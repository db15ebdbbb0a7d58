"""E-values (VanderWeele & Ding, Ann Intern Med 2017) and the bounding factor (Ding & VanderWeele,
Epidemiology 2016), checked against published worked values and formulas written out here."""

from __future__ import annotations

import dataclasses
import math

import pytest

from reawaken.errors import AnalysisError
from reawaken.findings import ReportedFinding, load_finding
from reawaken.sensitivity.evalue import (
    EValue,
    bias_factor,
    evalue,
    evalue_for_finding,
    evalue_rr,
    to_risk_ratio,
)


def _e(rr: float) -> float:
    """E-value written out independently: RR + sqrt(RR (RR - 1)) on the side of RR >= 1."""
    r = rr if rr >= 1 else 1 / rr
    return r + math.sqrt(r * r - r)


def _hr_common(hr: float) -> float:
    """VanderWeele's common-outcome HR -> RR conversion, written out independently."""
    return (1 - 2 ** (-(hr**0.5))) / (1 - 2 ** (-((1 / hr) ** 0.5)))


def test_vanderweele_ding_breastfeeding_example():
    # VanderWeele & Ding 2017: RR 3.9 (95% CI 1.8-8.7) -> E-values 7.26 and 3.0.
    assert 3.9 + math.sqrt(3.9 * 2.9) == pytest.approx(7.26, abs=0.005)
    assert 1.8 + math.sqrt(1.8 * 0.8) == pytest.approx(3.0, abs=1e-12)
    res = evalue(3.9, 1.8, 8.7, measure="RR")
    assert res.evalue_point == pytest.approx(7.26, abs=0.005)
    assert res.evalue_point == pytest.approx(_e(3.9), rel=1e-12)
    assert res.evalue_ci == pytest.approx(3.0, rel=1e-12)
    assert res.ci_limit == 1.8
    assert res.rr_point == 3.9
    assert evalue_rr(3.9) == pytest.approx(7.26, abs=0.005)


def test_rr_ignores_rare_outcome_flag():
    a = evalue(3.9, 1.8, 8.7, measure="RR", rare_outcome=True)
    b = evalue(3.9, 1.8, 8.7, measure="RR", rare_outcome=False)
    assert (a.evalue_point, a.evalue_ci) == (b.evalue_point, b.evalue_ci)


def test_odds_ratio_common_outcome_uses_square_root():
    # OR 2.25 (1.21-4.00), common outcome: RR ~ sqrt(OR) = 1.5 (1.1-2.0).
    res = evalue(2.25, 1.21, 4.0, measure="OR", rare_outcome=False)
    assert res.rr_point == pytest.approx(1.5, rel=1e-12)
    assert res.rr_ci_limit == pytest.approx(1.1, rel=1e-12)
    assert res.evalue_point == pytest.approx(1.5 + math.sqrt(1.5 * 0.5), rel=1e-12)
    assert res.evalue_point == pytest.approx(2.366, abs=5e-4)
    assert res.evalue_ci == pytest.approx(1.1 + math.sqrt(1.1 * 0.1), rel=1e-12)
    assert res.evalue_ci == pytest.approx(1.432, abs=5e-4)
    rare = evalue(2.25, 1.21, 4.0, measure="OR", rare_outcome=True)
    assert rare.evalue_point == pytest.approx(_e(2.25), rel=1e-12)


def test_hazard_ratio_common_outcome_conversion():
    # HR 2: RR = (1 - 0.5^sqrt(2)) / (1 - 0.5^sqrt(0.5)) = 1.6125...
    rr = _hr_common(2.0)
    assert rr == pytest.approx(1.6125, abs=1e-4)
    assert to_risk_ratio(2.0, "HR", rare_outcome=False) == pytest.approx(rr, rel=1e-12)
    res = evalue(2.0, 1.5, 2.7, measure="HR", rare_outcome=False)
    assert res.rr_point == pytest.approx(rr, rel=1e-12)
    assert res.evalue_point == pytest.approx(_e(rr), rel=1e-12)
    assert res.evalue_point == pytest.approx(2.606, abs=5e-4)
    assert res.evalue_ci == pytest.approx(_e(_hr_common(1.5)), rel=1e-12)
    assert evalue(2.0, measure="HR", rare_outcome=True).evalue_point == pytest.approx(_e(2.0))


def test_conversions_are_symmetric_and_fix_the_null():
    for measure in ("OR", "HR"):
        for rare in (True, False):
            assert to_risk_ratio(1.0, measure, rare_outcome=rare) == pytest.approx(1.0)
            up = to_risk_ratio(1.7, measure, rare_outcome=rare)
            down = to_risk_ratio(1 / 1.7, measure, rare_outcome=rare)
            assert up * down == pytest.approx(1.0, rel=1e-12)


def test_protective_estimate_by_symmetry():
    assert evalue_rr(0.8) == pytest.approx(evalue_rr(1.25), rel=1e-12)
    assert evalue_rr(0.8) == pytest.approx(1.25 + math.sqrt(1.25 * 0.25), rel=1e-12)
    res = evalue(0.8, 0.7, 0.9, measure="RR")
    assert res.evalue_point == pytest.approx(_e(1.25), rel=1e-12)
    assert res.ci_limit == 0.9  # the upper limit is the one closest to the null
    assert res.evalue_ci == pytest.approx(_e(1 / 0.9), rel=1e-12)
    hr = evalue(0.5, 0.3, 0.8, measure="HR", rare_outcome=False)
    assert hr.evalue_point == pytest.approx(
        evalue(2.0, measure="HR", rare_outcome=False).evalue_point
    )


def test_ci_including_null_gives_one():
    res = evalue(1.3, 0.9, 1.8, measure="RR")
    assert res.evalue_ci == 1.0
    assert res.ci_limit == 0.9
    assert res.evalue_point == pytest.approx(_e(1.3))
    assert "includes the null" in res.summary()
    prot = evalue(0.7, 0.4, 1.2, measure="OR")
    assert prot.evalue_ci == 1.0
    assert prot.ci_limit == 1.2
    at_null = evalue(1.0, 0.8, 1.25, measure="HR")
    assert (at_null.evalue_point, at_null.evalue_ci, at_null.ci_limit) == (1.0, 1.0, None)


def test_point_only_and_one_sided_ci():
    res = evalue(3.9, measure="RR")
    assert res.evalue_ci is None and res.ci_limit is None
    assert "no CI" in res.summary()
    assert evalue(3.9, 1.8, measure="RR").evalue_ci == pytest.approx(3.0)
    assert evalue(0.8, ci_high=0.9, measure="RR").evalue_ci == pytest.approx(_e(1 / 0.9))
    with pytest.raises(AnalysisError, match="ci_low"):
        evalue(3.9, ci_high=8.7, measure="RR")
    with pytest.raises(AnalysisError, match="ci_high"):
        evalue(0.8, ci_low=0.7, measure="RR")


@pytest.mark.parametrize("rr", [1.0, 1.01, 1.44, 1.85, 3.9, 25.0])
def test_bias_factor_at_evalue_equals_rr(rr):
    e = evalue_rr(rr)
    assert bias_factor(e, e) == pytest.approx(rr, rel=1e-12)
    assert bias_factor(e, e) == pytest.approx(e * e / (2 * e - 1), rel=1e-12)
    if rr > 1.0:  # a weaker confounder cannot explain the estimate away
        assert bias_factor(0.99 * e, 0.99 * e) < rr


def test_bias_factor_values_and_inputs():
    assert bias_factor(2.0, 3.0) == pytest.approx(6.0 / 4.0)
    assert bias_factor(1.0, 5.0) == pytest.approx(1.0)
    assert bias_factor(2.0, 3.0) == bias_factor(3.0, 2.0)
    with pytest.raises(AnalysisError, match="reciprocal"):
        bias_factor(0.5, 2.0)
    with pytest.raises(AnalysisError):
        bias_factor(2.0, float("nan"))


@pytest.mark.parametrize("bad", [0.0, -1.2, float("nan"), float("inf"), "x", None])
def test_non_positive_estimate_raises(bad):
    with pytest.raises(AnalysisError, match="fix:"):
        evalue(bad, measure="RR")
    if bad is not None:
        with pytest.raises(AnalysisError, match="fix:"):
            evalue_rr(bad)


@pytest.mark.parametrize(("low", "high"), [(2.0, 3.0), (0.5, 1.2), (-1.0, 2.0), (1.2, 0.0)])
def test_ci_not_containing_estimate_raises(low, high):
    with pytest.raises(AnalysisError, match="fix:"):
        evalue(1.5, low, high, measure="OR")


@pytest.mark.parametrize("measure", ["RD", "", "hazard", None, 1])
def test_unknown_measure_raises(measure):
    with pytest.raises(AnalysisError, match="unknown measure"):
        evalue(1.5, measure=measure)
    with pytest.raises(AnalysisError, match="unknown measure"):
        to_risk_ratio(1.5, measure)


def test_measure_is_case_insensitive():
    assert evalue(1.5, measure="hr").measure == "HR"


def test_reported_findings_give_finite_evalues_above_one():
    flatiron = load_finding("flatiron_lung_mets")
    ukb = load_finding("ukb_cancer_mortality")
    assert (flatiron.measure, flatiron.estimate, flatiron.ci_low) == ("HR", 1.44, 1.01)
    assert (ukb.measure, ukb.estimate, ukb.ci_low) == ("OR", 1.85, 1.14)

    hr = evalue_for_finding(flatiron)
    assert hr.evalue_point == pytest.approx(1.44 + math.sqrt(1.44 * 0.44), rel=1e-12)
    assert hr.evalue_point == pytest.approx(2.236, abs=5e-4)
    assert hr.evalue_ci == pytest.approx(1.01 + math.sqrt(1.01 * 0.01), rel=1e-12)
    assert hr.evalue_ci == pytest.approx(1.110, abs=5e-4)

    odds = evalue_for_finding(ukb)
    assert odds.evalue_point == pytest.approx(1.85 + math.sqrt(1.85 * 0.85), rel=1e-12)
    assert odds.evalue_point == pytest.approx(3.104, abs=5e-4)
    assert odds.evalue_ci == pytest.approx(1.14 + math.sqrt(1.14 * 0.14), rel=1e-12)
    assert odds.evalue_ci == pytest.approx(1.539, abs=5e-4)

    common_hr = evalue_for_finding(flatiron, rare_outcome=False)
    assert common_hr.evalue_point == pytest.approx(_e(_hr_common(1.44)), rel=1e-12)
    assert common_hr.evalue_ci == pytest.approx(_e(_hr_common(1.01)), rel=1e-12)
    common_or = evalue_for_finding(ukb, rare_outcome=False)
    assert common_or.evalue_point == pytest.approx(_e(math.sqrt(1.85)), rel=1e-12)
    assert common_or.evalue_ci == pytest.approx(_e(math.sqrt(1.14)), rel=1e-12)

    for res in (hr, odds, common_hr, common_or):
        assert math.isfinite(res.evalue_point) and res.evalue_point > 1
        assert math.isfinite(res.evalue_ci) and 1 < res.evalue_ci < res.evalue_point


def test_evalue_for_finding_rejects_other_objects_and_estimands():
    with pytest.raises(AnalysisError, match="ReportedFinding"):
        evalue_for_finding((1.44, 1.01, 2.05))
    odd = ReportedFinding("x", "x", "x", 10, 12.0, "RD", 0.1, 0.05, 0.2)
    with pytest.raises(AnalysisError, match="unknown measure"):
        evalue_for_finding(odd)


def test_evalue_dataclass_summary_and_dict():
    res = evalue(1.44, 1.01, 2.05, measure="HR")
    assert isinstance(res, EValue)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.evalue_point = 2.0
    text = res.summary()
    assert text.count(".") >= 1 and "\n" not in text
    assert "2.24" in text and "1.11" in text and "explain away" in text
    assert "HR 1.44" in text and "rare outcome" in text
    d = res.to_dict()
    assert d["measure"] == "HR" and d["ci_limit"] == 1.01
    assert d["evalue_point"] == res.evalue_point
    assert {
        "measure",
        "rare_outcome",
        "estimate",
        "rr_point",
        "evalue_point",
        "ci_limit",
        "evalue_ci",
    } <= set(d)
