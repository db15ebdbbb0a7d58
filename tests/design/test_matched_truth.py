"""Matched-set Cox on simulated cohorts with a known true HR recovers it, and its default
(shared-members) SE matches the empirical SE, each within 3.9 Monte Carlo SEs.

Every infection documented (no misclassification), infection independent of the covariates
that affect the outcome except those matched on exactly, constant true HR 1.6. The default run
uses a reduced number of replicates; the slow test uses 200.
"""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.evaluate import run_replicates
from reawaken.performance import performance
from reawaken.scenario import parse_scenario_text
from reawaken.study.analyses import matched_cox_hr

SCENARIO = """
name = "truth"
n = 20000
[followup]
end_day = 1200
time_resolution = "day"
[[covariates]]
name = "stage"
kind = "categorical"
levels = [1, 2, 3]
probs = [0.5, 0.3, 0.2]
[outcome]
baseline = { family = "weibull", shape = 0.9, scale_years = 60.0 }
log_hr = { stage = [0.0, 0.7, 1.4] }
[effect]
hazard_ratio = [1.6]
[infection]
monthly_rate_per_year = [0.2, 0.4, 0.3, 0.1]
log_hr = { stage = [0.0, 0.3, 0.6] }
[death]
baseline = { family = "exponential", rate_per_year = 0.02 }
[design]
analysis = "matched_cox"
controls = 4
exact = ["stage"]
"""


#: |z| bound that a correct estimator exceeds with probability < 1e-4 (two-sided normal).
Z_BOUND = 3.9


def _check(reps: int, seed: int) -> None:
    sc = parse_scenario_text(SCENARIO)
    table = run_replicates(sc, matched_cox_hr, reps=reps, seed=seed, executor="serial").data
    assert table["error"].isna().all()
    perf = performance(table, true_log_effect=np.log(1.6))
    bias, bias_mcse = perf.estimate("bias"), perf.mcse("bias")
    assert abs(bias) < Z_BOUND * bias_mcse, (bias, bias_mcse)
    # the shared-members SE tracks the empirical SE: RMS SE / empirical SE (Morris et al.
    # 2019) within Z_BOUND Monte Carlo SEs of 1
    ratio, ratio_mcse = perf.se_ratio
    assert abs(ratio - 1) < Z_BOUND * ratio_mcse, (ratio, ratio_mcse)


def test_matched_cox_recovers_true_hr_reduced():
    _check(reps=12, seed=3)


@pytest.mark.slow
def test_matched_cox_recovers_true_hr():
    _check(reps=200, seed=4)
