"""Calibration knobs scale exactly what they claim to scale (before the writer rounds)."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.scenario_sections import parse_baseline
from reawaken.scenario_toml import scale_log_hazard_ratios, scaled_baseline

T = np.array([0.5, 10.0, 100.0, 1000.0])


@pytest.mark.parametrize(
    "table",
    [
        {"family": "exponential", "rate_per_year": 0.365},
        {"family": "weibull", "shape": 0.9, "scale_years": 13.7},
        {"family": "gompertz", "rate_per_year": 0.073, "shape_per_year": 0.365},
        {"family": "piecewise", "breaks_years": [0.0, 0.27], "rate_per_year": [0.365, 0.18]},
    ],
)
def test_scaled_baseline_multiplies_cumulative_hazard(table):
    baseline = parse_baseline(table, "outcome.baseline")
    scaled = parse_baseline({**table, **scaled_baseline(table, 0.37, "t")}, "outcome.baseline")
    np.testing.assert_allclose(scaled.cumulative(T), 0.37 * baseline.cumulative(T), rtol=1e-12)


def test_scale_log_hazard_ratios_keeps_shape():
    hrs = scale_log_hazard_ratios((4.0, 2.0), 0.5)
    np.testing.assert_allclose(hrs, (2.0, np.sqrt(2.0)), rtol=1e-12)


def test_target_se_column_model_and_empirical():
    import pandas as pd

    from reawaken.calibration import target_se_column

    table = pd.DataFrame(
        {"log_estimate": [0.1, 0.3, 0.5, 0.7], "se": [9.0] * 4, "se_model": [0.2, 0.21, 0.19, 0.2]}
    )
    assert target_se_column(table, "model").tolist() == [0.2, 0.21, 0.19, 0.2]
    sd = float(np.std([0.1, 0.3, 0.5, 0.7], ddof=1))
    assert target_se_column(table, "empirical").tolist() == pytest.approx([sd] * 4, rel=1e-12)


def test_se_target_appears_in_command_and_header_only_when_empirical():
    from reawaken.calibration import canonical_command
    from reawaken.scenario_toml import se_label

    default = canonical_command("f", "t", reps=10, seed=1)
    assert "--se-target" not in default
    empirical = canonical_command("f", "t", reps=10, seed=1, se_target="empirical")
    assert "--se-target empirical" in empirical
    assert se_label({"se_target": "empirical"}) == "empirical SD of log estimates"
    assert se_label({}) == se_label({"se_target": "model"}) == "median model SE(log)"


def test_unknown_se_target_is_a_clear_error():
    from reawaken.calibration import calibrate_to_finding
    from reawaken.errors import ReawakenError
    from reawaken.findings import load_finding

    with pytest.raises(ReawakenError, match="se_target must be one of model, empirical"):
        calibrate_to_finding(
            "time_varying_cohort", load_finding("flatiron_lung_mets"), reps=8, se_target="robust"
        )


def test_presets_record_their_se_target():
    from reawaken.scenario import load_scenario

    for name in ("flatiron_lung_mets", "ukb_cancer_mortality"):
        assert load_scenario(name).calibration["se_target"] == "model"
