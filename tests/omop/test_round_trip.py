"""OMOP round trip: simulate -> ``omop write`` -> ``omop extract`` gives the day-rounded
simulated cohort, and the study estimate from it equals the estimate from the day-rounded
cohort to 1e-10, on DuckDB and on a real PostgreSQL server."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import reawaken as rw
from reawaken.omop import day_rounded, extract_cohort, load_study, write_omop

#: age returns from birth_datetime (microseconds): |error| <= 0.5 us / 365.25 d = 1.6e-14 y
AGE_ATOL = 1e-12
ESTIMATE_TOL = 1e-10


def _simulated(name: str, seed: int = 5, n: int | None = None):
    scenario = rw.load_scenario(name)
    cohort = rw.simulate_cohort(scenario, np.random.default_rng(seed), n=n).data
    return scenario, day_rounded(cohort)


def _check_round_trip(scenario, expected: pd.DataFrame, built) -> None:
    got = built.data
    assert built.flow["excluded"].sum() == 0
    assert int(built.flow["remaining"].iloc[-1]) == len(expected)
    contract = [
        c
        for c in ("id", "entry_day", "exposure_day", "test_day", "event_day", "event")
        if c in expected
    ]
    pd.testing.assert_frame_equal(
        got[contract], expected[contract].reset_index(drop=True), check_dtype=False
    )
    covariates = [c.name for c in scenario.observed_covariates]
    assert list(got.columns) == contract + covariates
    for name in covariates:
        np.testing.assert_allclose(
            got[name].to_numpy(float),
            expected[name].to_numpy(float),
            rtol=0,
            atol=AGE_ATOL if name == "age" else 0,
        )
    analysis = rw.study_analysis(scenario)
    a = analysis(expected, scenario, np.random.default_rng(1))
    b = analysis(got, scenario, np.random.default_rng(1))
    assert a.events == b.events and a.n == b.n
    for field in ("estimate", "se", "ci_low", "ci_high"):
        assert getattr(b, field) == pytest.approx(getattr(a, field), rel=ESTIMATE_TOL, abs=0)


@pytest.mark.parametrize("name", ["flatiron_lung_mets", "ukb_cancer_mortality"])
def test_round_trip_duckdb(name, tmp_path):
    scenario, cohort = _simulated(name)
    target = str(tmp_path / "synth.duckdb")
    counts = write_omop(cohort, load_study(name), target)
    assert counts["person"] == len(cohort)
    _check_round_trip(scenario, cohort, extract_cohort(target, name))


@pytest.mark.parametrize("name", ["flatiron_lung_mets", "ukb_cancer_mortality"])
def test_round_trip_postgres(name, postgres_url):
    scenario, cohort = _simulated(name, n=6000 if name == "flatiron_lung_mets" else None)
    schema = f"rt_{name}"
    write_omop(cohort, load_study(name), postgres_url, db_schema=schema, replace=True)
    _check_round_trip(scenario, cohort, extract_cohort(postgres_url, name, db_schema=schema))


def test_duckdb_and_postgres_give_the_same_cohort(tmp_path, postgres_url):
    _, cohort = _simulated("ukb_cancer_mortality", seed=9)
    study = load_study("ukb_cancer_mortality")
    write_omop(cohort, study, str(tmp_path / "a.duckdb"))
    write_omop(cohort, study, postgres_url, db_schema="same", replace=True)
    a = extract_cohort(str(tmp_path / "a.duckdb"), study)
    b = extract_cohort(postgres_url, study, db_schema="same")
    pd.testing.assert_frame_equal(a.data, b.data, check_dtype=False)
    pd.testing.assert_frame_equal(a.flow, b.flow, check_dtype=False)
