"""The simulator and the exposure split after issue 12 give the same bits as before it
(tests/simulate/_simulate_legacy.py): same draws, same arithmetic, same tables (exact
comparison, tolerance 0), for the presets, several chunks, and scenarios with every bias,
a negative control, accrual and each baseline family."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reawaken.design.episodes import split_at_exposure
from reawaken.scenario import BiasSpec, load_scenario, parse_scenario_text
from reawaken.simulate import cohort as cohort_module
from reawaken.simulate.cohort import simulate_cohort
from reawaken.simulate.hazards import (
    Exponential,
    Gompertz,
    PiecewiseConstant,
    Weibull,
    invert_piecewise_cumulative_hazard,
)


def _load_legacy():
    spec = importlib.util.spec_from_file_location(
        "_simulate_legacy", Path(__file__).with_name("_simulate_legacy.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


legacy = _load_legacy()

TOY = """
name = "identity_toy"
n = 4000
[followup]
end_day = 1000
accrual_days = 300
loss_rate_per_year = 0.05
time_resolution = "RESOLUTION"
[[covariates]]
name = "frailty"
kind = "binary"
p = 0.3
observed = false
[[covariates]]
name = "age"
kind = "normal"
mean = 60.0
sd = 10.0
lower = 30.0
upper = 90.0
[outcome]
baseline = { family = "weibull", shape = 1.3, scale_years = 40.0 }
log_hr = { frailty = 0.5, age = 0.02 }
[effect]
window_start_days = [0, 90]
hazard_ratio = [2.5, 1.3]
[infection]
monthly_rate_per_year = [0.3, 0.6, 0.2]
log_hr = { frailty = 0.4 }
[death]
baseline = { family = "gompertz", rate_per_year = 0.01, shape_per_year = 0.2 }
after_infection = { window_start_days = [0, 30], hazard_ratio = [5.0, 1.0] }
[negative_control]
label = "bone metastasis"
baseline = { family = "piecewise", breaks_years = [0, 1, 2], rate_per_year = [0.01, 0.03, 0.0] }
log_hr = { frailty = 0.5 }
"""
BIASES = BiasSpec(
    detection_probability=0.5,
    detection_lead_days=90,
    death_to_outcome=0.3,
    outcome_to_death=0.1,
    loss_hr_after_infection=2.0,
)


def _scenarios():
    for resolution in ("exact", "day"):
        toy = parse_scenario_text(TOY.replace("RESOLUTION", resolution))
        yield toy
        yield replace(toy, biases=BIASES)
    for name in ("flatiron_lung_mets", "ukb_cancer_mortality"):  # UK Biobank selects the tested
        yield load_scenario(name).with_n(3000)


def _assert_same_table(new: pd.DataFrame, old: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    for name in old:
        a, b = new[name].to_numpy(), old[name].to_numpy()
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name


@pytest.mark.parametrize("chunk", [None, 700])
def test_cohorts_are_the_previous_cohorts(chunk, monkeypatch):
    if chunk is not None:  # several chunks (and, for UK Biobank, selection across them)
        monkeypatch.setattr(cohort_module, "CHUNK_PERSONS", chunk)
        monkeypatch.setattr(legacy, "CHUNK_PERSONS", chunk)
    for seed, scenario in enumerate(_scenarios()):
        new = simulate_cohort(scenario, np.random.default_rng(seed)).data
        old = legacy.legacy_simulate_cohort(scenario, np.random.default_rng(seed))
        _assert_same_table(new, old)


def test_piecewise_inversion_is_the_previous_one():
    """Every baseline family, 1-5 breaks, zero multipliers, never-infected (inf) breaks,
    infection at the origin, and odd targets (0, negative, NaN, inf)."""
    rng = np.random.default_rng(3)
    bases = [
        Exponential(0.01),
        Weibull(0.9, 3000.0),
        Weibull(2.5, 500.0),
        Gompertz(0.001, 0.002),
        Gompertz(0.002, -0.001),
        Gompertz(0.01, 0.0),
        PiecewiseConstant((0.0, 100.0, 300.0), (0.001, 0.0, 0.004)),
    ]
    with np.errstate(all="ignore"):
        for base in bases:
            for k in (1, 2, 3, 5):
                for trial in range(4):
                    n = int(rng.integers(1, 2000))
                    offset = np.where(rng.random(n) < 0.4, np.inf, rng.uniform(0, 800, n))
                    offset[: n // 5] = 0.0 if trial == 3 else offset[: n // 5]
                    starts = np.concatenate([[0.0], np.sort(rng.uniform(1, 400, k - 1))])
                    mult = np.concatenate([[1.0], rng.choice([0.0, 0.5, 1.7, 6.0], k)])
                    if trial % 2:
                        mult = np.broadcast_to(mult, (n, k + 1))
                    else:
                        mult = np.tile(mult, (n, 1)) * rng.uniform(0, 2, (n, 1))
                    target = rng.standard_exponential(n)
                    target[: min(n, 4)] = [0.0, -1.0, np.nan, np.inf][: min(n, 4)]
                    args = (
                        base,
                        target,
                        np.exp(rng.normal(0, 1, n)),
                        offset[:, None] + starts,
                        mult,
                    )
                    new = invert_piecewise_cumulative_hazard(*args)
                    old = legacy.legacy_invert_piecewise_cumulative_hazard(*args)
                    assert new.tobytes() == old.tobytes(), (base, k, trial)


def test_split_is_the_previous_split():
    rng = np.random.default_rng(4)
    for case in range(120):
        n = int(rng.integers(0, 60))
        entry = rng.integers(0, 5, n).astype(float)
        stop = entry + rng.integers(0, 10, n)
        expo = np.where(rng.random(n) < 0.5, np.nan, entry + rng.integers(-2, 12, n))
        data = pd.DataFrame(
            {
                "id": np.arange(1, n + 1, dtype=np.int32 if case % 2 else np.int64),
                "entry_day": entry,
                "exposure_day": expo,
                "event_day": stop,
                "event": rng.integers(0, 3, n),
                "age": rng.normal(size=n),
                "stage_2": rng.integers(0, 2, n),
            }
        )
        for covariates in ([], ["age", "stage_2"]):
            for cause in (1, 2):
                new = split_at_exposure(data, covariates=covariates, cause=cause)
                old = legacy.legacy_split_at_exposure(data, covariates=covariates, cause=cause)
                _assert_same_table(new, old)
                assert isinstance(new.index, pd.RangeIndex)
