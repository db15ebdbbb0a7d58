"""synthetic_data/ is reproducible: regenerating each cohort gives the manifest's content hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from reawaken.io import frame_sha256
from reawaken.scenario import list_presets, preset_text
from reawaken.synthetic import build_entry

DATA = Path(__file__).resolve().parents[1] / "synthetic_data"
MANIFEST = json.loads((DATA / "manifest.json").read_text())
ENTRIES = {e["name"]: e for e in MANIFEST["cohorts"]}


def test_every_preset_has_an_entry():
    assert sorted(ENTRIES) == list_presets()


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_regenerated_cohort_matches_manifest(name):
    entry = ENTRIES[name]
    fresh, data = build_entry(name, entry["seed"])
    assert fresh["content_sha256"] == entry["content_sha256"], (
        "simulation output changed: run `make synthetic-data` and commit if intended"
    )
    assert fresh["rows"] == entry["rows"] and fresh["events"] == entry["events"]
    stored = pd.read_parquet(DATA / entry["cohort_file"])
    assert frame_sha256(stored) == entry["content_sha256"]
    pd.testing.assert_frame_equal(stored, data)


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_files_match_manifest_and_presets(name):
    entry = ENTRIES[name]
    raw = (DATA / entry["cohort_file"]).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == entry["file_sha256"]
    assert (DATA / entry["scenario_file"]).read_text() == preset_text(name)
