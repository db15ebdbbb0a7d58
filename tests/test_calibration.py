"""Calibration knobs scale exactly what they claim to scale."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.calibration import scale_baseline, scale_log_effect
from reawaken.scenario import HazardModel
from reawaken.simulate.effects import EffectProfile
from reawaken.simulate.hazards import Exponential, Gompertz, PiecewiseConstant, Weibull

T = np.array([0.5, 10.0, 100.0, 1000.0])


@pytest.mark.parametrize(
    "baseline",
    [
        Exponential(0.001),
        Weibull(0.9, 5000.0),
        Gompertz(0.0002, 0.001),
        PiecewiseConstant((0.0, 100.0), (0.001, 0.0005)),
    ],
)
def test_scale_baseline_multiplies_cumulative_hazard(baseline):
    scaled = scale_baseline(HazardModel(baseline), 0.37).baseline
    np.testing.assert_allclose(scaled.cumulative(T), 0.37 * baseline.cumulative(T), rtol=1e-12)


def test_scale_log_effect_keeps_shape():
    prof = scale_log_effect(EffectProfile((0.0, 90.0), (4.0, 2.0)), 0.5)
    np.testing.assert_allclose(prof.hazard_ratios, (2.0, np.sqrt(2.0)), rtol=1e-12)
    assert prof.window_start_days == (0.0, 90.0)
