"""The calibrated presets reproduce the reported estimate and CI width on average.

Tolerances: the mean log estimate lies within 4 Monte Carlo SEs (plus 2% of the target, the
calibration's own precision) of the reported log estimate; the mean SE of the log estimate
lies within 5% of the SE implied by the reported CI. The full checks (200 replicates, also of
the matched Cox re-analysis for Flatiron) are slow; the default suite runs reduced versions,
whose tolerance widens with their larger MCSE.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from reawaken.calibration import check_calibration
from reawaken.findings import load_finding
from reawaken.scenario import load_scenario
from reawaken.study.analyses import study_analysis


def _check(name: str, reps: int, seed: int, analysis: str | None = None) -> None:
    finding = load_finding(name)
    scenario = load_scenario(name)
    if analysis is not None:
        scenario = replace(scenario, design=replace(scenario.design, analysis=analysis))
    check = check_calibration(scenario, study_analysis(scenario), reps=reps, seed=seed)
    target = math.log(finding.estimate)
    tolerance = 4 * check.mcse_log_estimate + 0.02 * target
    assert abs(check.mean_log_estimate - target) < tolerance, check.summary()
    se_tolerance = 0.05 * finding.implied_se + 4 * check.mcse_se
    assert abs(check.mean_se - finding.implied_se) < se_tolerance, check.summary()


def test_ukb_preset_reproduces_reported_or_reduced():
    """The published design: exposure-density matched OR (conditional logistic)."""
    _check("ukb_cancer_mortality", reps=40, seed=101)


@pytest.mark.slow
def test_ukb_preset_reproduces_reported_or():
    _check("ukb_cancer_mortality", reps=200, seed=104)


def test_flatiron_preset_reproduces_reported_hr_reduced():
    _check("flatiron_lung_mets", reps=12, seed=102)


@pytest.mark.slow
def test_flatiron_preset_reproduces_reported_hr():
    _check("flatiron_lung_mets", reps=200, seed=103)


@pytest.mark.slow
def test_flatiron_preset_matched_cox_reproduces_reported_hr():
    """The matched-cohort re-analysis (1:4 exposure-density matching, conditional Cox)."""
    _check("flatiron_lung_mets", reps=200, seed=105, analysis="matched_cox")
