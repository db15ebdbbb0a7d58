"""synthetic_data/ is reproducible on any machine: regenerating each cohort gives the manifest's
exact part (integers, event codes, missing values) bit for bit and the committed floats within
the stated relative tolerance; on one machine, the same seed gives the same bytes."""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reawaken.io import frame_sha256
from reawaken.scenario import list_presets, load_scenario, preset_text
from reawaken.simulate.cohort import simulate_cohort
from reawaken.synthetic import (
    FLOAT_RTOL,
    build_entry,
    exact_part_sha256,
    float_differences,
    float_summary,
)

DATA = Path(__file__).resolve().parents[1] / "synthetic_data"
MANIFEST = json.loads((DATA / "manifest.json").read_text())
ENTRIES = {e["name"]: e for e in MANIFEST["cohorts"]}
MACHINE = f"{platform.machine()}, numpy {np.__version__}"
ADVICE = (
    "If you changed the simulator on purpose, run `make synthetic-data` and commit the result. "
    f"If you did not, this machine ({MACHINE}) simulates differently from the one that wrote "
    "synthetic_data/: please report it with the lines above."
)


def test_every_preset_has_an_entry():
    assert sorted(ENTRIES) == list_presets()


@pytest.fixture(scope="module", params=sorted(ENTRIES))
def regenerated(request):
    entry = ENTRIES[request.param]
    fresh, data = build_entry(request.param, entry["seed"])
    return entry, fresh, data


def test_regenerated_counts_and_exact_part_match_manifest(regenerated):
    entry, fresh, _ = regenerated
    for key in ("rows", "exposed", "events", "exact_part_sha256"):
        assert fresh[key] == entry[key], (
            f"{entry['name']}: {key} of the regenerated cohort is {fresh[key]!r}, the manifest "
            f"says {entry[key]!r}. {ADVICE}"
        )


def test_regenerated_floats_match_committed_file_within_tolerance(regenerated):
    entry, _, data = regenerated
    assert entry["float_rtol"] == FLOAT_RTOL
    stored = pd.read_parquet(DATA / entry["cohort_file"])
    assert list(stored.columns) == list(data.columns)
    problems = float_differences(stored, data, FLOAT_RTOL)
    assert not problems, f"{entry['name']}: " + "; ".join(problems) + f". {ADVICE}"
    for name, summary in entry["float_columns"].items():
        assert summary["count"] == int(data[name].notna().sum())
        assert summary["sum"] == pytest.approx(float(data[name].sum()), rel=FLOAT_RTOL)


def test_committed_file_matches_its_manifest_entry():
    for entry in ENTRIES.values():
        stored = pd.read_parquet(DATA / entry["cohort_file"])
        assert exact_part_sha256(stored) == entry["exact_part_sha256"]
        assert float_summary(stored).keys() == entry["float_columns"].keys()


def test_same_seed_same_bytes_on_this_machine():
    scenario = load_scenario("ukb_cancer_mortality")
    first = simulate_cohort(scenario, np.random.default_rng(7)).data
    second = simulate_cohort(scenario, np.random.default_rng(7)).data
    assert frame_sha256(first) == frame_sha256(second)


def test_float_differences_sees_a_shift_beyond_tolerance_and_ignores_rounding():
    base = pd.DataFrame({"id": [1, 2, 3], "day": [10.0, np.nan, 2000.0]})
    rounded = base.assign(day=[10.0 + 1e-12, np.nan, 2000.0 - 1e-12])
    assert float_differences(base, rounded) == []
    assert exact_part_sha256(base) == exact_part_sha256(rounded)
    shifted = base.assign(day=[10.0, np.nan, 2000.001])
    assert float_differences(base, shifted) == [
        "day: largest relative difference 5e-07 > 1e-09"
    ]
    missing = base.assign(day=[10.0, 3.0, 2000.0])
    assert float_differences(base, missing) == ["day: missing values differ"]
    assert exact_part_sha256(base) != exact_part_sha256(missing)
    assert exact_part_sha256(base) != exact_part_sha256(base.assign(id=[1, 2, 4]))


def test_files_match_manifest_and_presets():
    for entry in ENTRIES.values():
        raw = (DATA / entry["cohort_file"]).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == entry["file_sha256"]
        assert (DATA / entry["scenario_file"]).read_text() == preset_text(entry["name"])
