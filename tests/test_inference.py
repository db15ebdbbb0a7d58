"""check_inference on replicate tables whose sampling law is known: a correct SE gives SE ratio
1 and coverage 0.95, an SE half as large gives 0.5 and about 0.68, within 3.9 MCSE."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reawaken.findings import load_finding
from reawaken.inference import check_inference
from reawaken.truth import Truth

Z = 3.9  # a correct implementation exceeds 3.9 MCSE with probability < 1e-4
SD = 0.25


def _table(theta: float, reps: int, rng: np.random.Generator, fail: int = 0) -> pd.DataFrame:
    est = rng.normal(theta, SD, reps)
    se = np.full(reps, SD)
    table = pd.DataFrame(
        {
            "log_estimate": est,
            "se": se,
            "se_model": se / 2,
            "se_robust": np.nan,
            "p_value": 2 * stats.norm.sf(np.abs(est) / se),
            "variance": "shared-members",
            "error": None,
        }
    )
    table.loc[: fail - 1, ["log_estimate", "se", "se_model", "p_value"]] = np.nan
    table.loc[: fail - 1, "error"] = "AnalysisError: did not converge"
    return table


def _truth(log_truth: float) -> Truth:
    return Truth(
        scenario="s", version="preset", analysis="matched_or", measure="OR",
        log_truth=log_truth, mcse=0.0, cohorts=1, multiplier=1, n=1, seed=0, failed=0,
        mean_se=SD, causal_log_hr=log_truth, causal_effect="HR", fingerprint="x",
    )


def test_correct_and_too_small_se_are_told_apart():
    rng = np.random.default_rng(11)
    theta = math.log(1.85)
    check = check_inference(
        _table(theta, 4000, rng, fail=40),
        _table(0.0, 4000, rng),
        analysis="matched_or",
        measure="OR",
        finding=load_finding("ukb_cancer_mortality"),
        truth=_truth(theta),
        null_truth=_truth(0.0),
    )
    valid, model = check.variances
    assert (valid.label, model.label) == ("shared-members SE", "model SE")
    for v, ratio, coverage in ((valid, 1.0, 0.95), (model, 0.5, 2 * stats.norm.cdf(0.98) - 1)):
        assert abs(v.se_ratio - ratio) < Z * v.se_ratio_mcse
        assert abs(v.coverage - coverage) < Z * v.coverage_mcse
    assert abs(valid.null_rejection - 0.05) < Z * valid.null_rejection_mcse
    # power over all replicates, failed = not rejected: P(|N(theta, SD)| > 1.96 SD) x 0.99
    expected = 0.99 * (stats.norm.sf(1.96 - theta / SD) + stats.norm.cdf(-1.96 - theta / SD))
    assert abs(valid.power - expected) < Z * valid.power_mcse
    assert check.failed == 40 and check.reps == 4000
    assert check.implied_power == pytest.approx(0.697, abs=0.001)  # reported CI 1.14-3.02
    assert check.null_bias == 0.0
