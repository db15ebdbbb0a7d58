"""Reported findings as data, and the figures their CIs imply (SE, power, information)."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from reawaken.errors import ScenarioError
from reawaken.findings import list_findings, load_finding


def test_both_findings_ship():
    assert list_findings() == ["flatiron_lung_mets", "ukb_cancer_mortality"]


@pytest.mark.parametrize(
    ("name", "se", "power"),
    [("ukb_cancer_mortality", 0.249, 0.70), ("flatiron_lung_mets", 0.181, 0.52)],
)
def test_implied_se_and_power_match_reference(name, se, power):
    """SE = (ln hi - ln lo)/3.92; power at the reported effect ~70% (UKB) / ~52% (Flatiron)."""
    f = load_finding(name)
    assert f.implied_se == pytest.approx(se, abs=0.0015)
    z = math.log(f.estimate) / f.implied_se
    assert stats.norm.cdf(z - stats.norm.ppf(0.975)) == pytest.approx(power, abs=0.02)


def test_flatiron_information_matches_schoenfeld_figure():
    """1/SE^2 = D p (1 - p) ~ 31 for the Flatiron CI (Schoenfeld 1983)."""
    assert 1 / load_finding("flatiron_lung_mets").implied_se ** 2 == pytest.approx(31, abs=1)


def test_unknown_finding():
    with pytest.raises(ScenarioError, match="available findings"):
        load_finding("nope")
