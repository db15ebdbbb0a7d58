"""Calibration knobs scale exactly what they claim to scale (before the writer rounds)."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.scenario import _parse_baseline
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
    baseline = _parse_baseline(table, "outcome.baseline")
    scaled = _parse_baseline({**table, **scaled_baseline(table, 0.37, "t")}, "outcome.baseline")
    np.testing.assert_allclose(scaled.cumulative(T), 0.37 * baseline.cumulative(T), rtol=1e-12)


def test_scale_log_hazard_ratios_keeps_shape():
    hrs = scale_log_hazard_ratios((4.0, 2.0), 0.5)
    np.testing.assert_allclose(hrs, (2.0, np.sqrt(2.0)), rtol=1e-12)
