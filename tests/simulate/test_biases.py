"""Bias mechanisms move the estimate the way theory says, and vanish at strength 0."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from reawaken.scenario import BiasSpec, parse_scenario_text
from reawaken.simulate.biases import credit_immortal_time
from reawaken.simulate.cohort import simulate_cohort
from reawaken.study.analyses import time_varying_cox_hr

BASE = """
name = "bias_toy"
n = 60000
[followup]
end_day = 1000
loss_rate_per_year = 0.05
time_resolution = "exact"
[[covariates]]
name = "frailty"
kind = "binary"
p = 0.3
observed = OBSERVED
[outcome]
baseline = { family = "exponential", rate_per_year = 0.02 }
log_hr = { frailty = FRAIL_OUT }
[effect]
hazard_ratio = [1.0]
[infection]
monthly_rate_per_year = [0.3]
log_hr = { frailty = FRAIL_INF }
[death]
baseline = { family = "exponential", rate_per_year = 0.03 }
after_infection = { window_start_days = [0, 30], hazard_ratio = [5.0, 1.0] }
[negative_control]
label = "bone metastasis"
baseline = { family = "exponential", rate_per_year = 0.02 }
log_hr = { frailty = FRAIL_OUT }
"""


def _scenario(observed="true", frail_out=0.0, frail_inf=0.0, **bias):
    text = (
        BASE.replace("OBSERVED", observed)
        .replace("FRAIL_OUT", str(frail_out))
        .replace("FRAIL_INF", str(frail_inf))
    )
    sc = parse_scenario_text(text)
    return replace(sc, biases=BiasSpec(**bias)) if bias else sc


def _log_hr(sc, seed=1, cohort_fn=None):
    data = simulate_cohort(sc, np.random.default_rng(seed)).data
    if cohort_fn is not None:
        data = cohort_fn(data)
    est = time_varying_cox_hr(data, sc)
    return est.log_estimate, est.se


def _nc_log_hr(sc, seed=1):
    data = simulate_cohort(sc, np.random.default_rng(seed)).data
    nc = data.assign(event_day=data["nc_event_day"], event=data["nc_event"])
    nc.loc[nc["exposure_day"] >= nc["event_day"], "exposure_day"] = np.nan
    est = time_varying_cox_hr(nc, sc)
    return est.log_estimate, est.se


def test_strength_zero_is_unbiased():
    est, se = _log_hr(_scenario())
    assert abs(est) < 4 * se


def test_unmeasured_confounding_biases_away_from_null():
    est, se = _log_hr(_scenario(observed="false", frail_out=1.2, frail_inf=1.2))
    assert est > 4 * se
    # Ding & VanderWeele bound: observed RR <= B(RR_EU, RR_UD) with a binary confounder
    measured, _ = _log_hr(_scenario(observed="true", frail_out=1.2, frail_inf=1.2))
    assert abs(measured) < 0.1  # adjusting for it removes the bias


def test_detection_bias_creates_an_early_excess():
    """Null true effect: imaging after infection pulls detections forward — a large HR in the
    first 90 days, a deficit after (the same events, earlier)."""
    from reawaken.analysis.cox import hr_by_window

    sc = _scenario(detection_probability=0.8, detection_lead_days=365)
    data = simulate_cohort(sc, np.random.default_rng(1)).data
    windows = hr_by_window(data, window_start_days=[0, 90])
    early = windows.table.set_index("term").loc["window_0_90"]
    late = windows.table.set_index("term").loc["window_90_plus"]
    assert early["coef"] > 4 * early["robust_se"]
    assert late["coef"] < 0
    nc_est, nc_se = _nc_log_hr(_scenario(detection_probability=0.8, detection_lead_days=365))
    assert nc_est > 4 * nc_se  # the negative control flags it


def test_negative_control_is_null_without_bias():
    est, se = _nc_log_hr(_scenario())
    assert abs(est) < 4 * se


def test_misattribution_of_covid_deaths_inflates_the_outcome():
    est, se = _log_hr(_scenario(death_to_outcome=1.0))
    assert est > 4 * se


def test_informative_censoring_leaves_a_cause_specific_hr_unbiased_when_independent():
    """Loss that depends on observed exposure only is non-informative for the hazard."""
    est, se = _log_hr(_scenario(loss_hr_after_infection=3.0))
    assert abs(est) < 4 * se


def test_immortal_time_biases_toward_protection():
    sc = _scenario()
    naive, se = _log_hr(sc, cohort_fn=lambda d: credit_immortal_time(d, 1.0))
    half, _ = _log_hr(sc, cohort_fn=lambda d: credit_immortal_time(d, 0.5))
    assert naive < half < 0 and naive < -4 * se


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_immortal_time_share_checked(share):
    from reawaken.errors import AnalysisError

    with pytest.raises(AnalysisError):
        credit_immortal_time(
            simulate_cohort(_scenario(), np.random.default_rng(0), n=10).data, share
        )
