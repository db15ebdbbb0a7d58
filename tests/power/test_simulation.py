"""Simulation-based power: agrees with the analytic power the study's information implies,
and the sample-size search recovers a size whose simulated power hits the target."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from reawaken.errors import AnalysisError
from reawaken.estimate import Estimate
from reawaken.power.simulation import sample_size_for_power, simulate_power
from reawaken.scenario import parse_scenario_text

SCENARIO = """
name = "power_toy"
n = 4000
[followup]
end_day = 720
time_resolution = "exact"
[outcome]
baseline = { family = "exponential", rate_per_year = 0.08 }
[effect]
hazard_ratio = [1.5]
[infection]
monthly_rate_per_year = [0.5]
[death]
baseline = { family = "exponential", rate_per_year = 0.001 }
[design]
analysis = "time_varying_cox"
"""


@pytest.fixture(scope="module")
def scenario():
    return parse_scenario_text(SCENARIO)


def test_simulated_power_matches_information(scenario):
    """With the Wald test, power = Phi(|log HR| / SE - z): simulated power within 4 MCSE of the
    power implied by the replicates' own mean SE."""
    curve = simulate_power(scenario, hr_grid=[1.0, 1.5], reps=120, seed=3, executor="serial")
    null, alt = curve.table.iloc[0], curve.table.iloc[1]
    assert abs(null["power"] - 0.05) < 4 * np.sqrt(0.05 * 0.95 / null["reps"])
    implied = stats.norm.cdf(np.log(1.5) / alt["mean_se"] - stats.norm.ppf(0.975))
    assert abs(alt["power"] - implied) < 4 * alt["mcse"] + 0.02


def test_common_random_numbers_make_power_monotone(scenario):
    curve = simulate_power(scenario, n_grid=[1500, 3000, 6000], reps=60, seed=5, executor="serial")
    assert curve.table["power"].is_monotonic_increasing
    assert curve.table["mean_events"].is_monotonic_increasing


def test_sample_size_search(scenario):
    res = sample_size_for_power(
        scenario, n_grid=[1000, 2000, 4000], target=0.8, reps=60, seed=7, executor="serial"
    )
    assert 1000 < res.n_required < 8000
    assert res.predicted_power([res.n_required])[0] == pytest.approx(0.8, abs=0.01)


def test_bad_inputs(scenario):
    with pytest.raises(AnalysisError, match="two different cohort sizes"):
        sample_size_for_power(scenario, n_grid=[1000], reps=5, seed=1, executor="serial")
    with pytest.raises(AnalysisError, match="alpha"):
        simulate_power(scenario, reps=5, seed=1, alpha=2, executor="serial")
    with pytest.raises(AnalysisError, match="> 0"):
        simulate_power(scenario, hr_grid=[-1], reps=5, seed=1, executor="serial")


class HalfFailing:
    """An analysis that fails on about half of the replicates (AnalysisError) and otherwise
    returns an estimate far from the null (p < 1e-20): power = share of replicates that did not
    fail, in closed form (serial executor, so no pickling needed)."""

    def __call__(self, cohort, scenario, rng):
        if rng.random() < 0.5:
            raise AnalysisError("too few events in this replicate")
        return Estimate.from_log("HR", "always rejects", 10.0, 1.0, n=len(cohort), events=1)


def test_failed_replicates_count_as_non_rejections(scenario):
    curve = simulate_power(scenario, reps=40, seed=11, analysis=HalfFailing(), executor="serial")
    row = curve.table.iloc[0]
    assert row["reps"] == 40 and 0 < row["failed"] < 40
    assert row["power"] == pytest.approx(1 - row["failed"] / 40, abs=1e-15)
    assert row["mcse"] == pytest.approx(np.sqrt(row["power"] * (1 - row["power"]) / 40))
    assert row["variance"] == "model"
    assert f"{row['failed']} failed, counted as non-rejections" in curve.summary()


def test_all_failed_is_zero_power(scenario):
    class AlwaysFailing:
        def __call__(self, cohort, scenario, rng):
            raise AnalysisError("no events")

    row = simulate_power(
        scenario, reps=5, seed=1, analysis=AlwaysFailing(), executor="serial"
    ).table.iloc[0]
    assert (row["reps"], row["failed"], row["power"], row["mcse"]) == (5, 5, 0.0, 0.0)
    assert row["variance"] == "none"
