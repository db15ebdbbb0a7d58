"""Regenerate ``synthetic_data/``: one cohort per preset, its scenario file and a manifest.

The manifest records, per preset, the seed, the package version, the row and event counts, the
Parquet file's sha256 and a content hash (:func:`reawaken.io.frame_sha256`) that does not depend
on the Parquet writer's version. A test regenerates each cohort and compares the content hash.

Run as ``python -m reawaken.synthetic DIR`` (``make synthetic-data``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from . import __version__, schema
from .io import frame_sha256, write_table, write_text_atomic
from .scenario import list_presets, load_scenario, preset_text
from .simulate.cohort import DEFAULT_SEED, simulate_cohort

MANIFEST = "manifest.json"


def build_entry(name: str, seed: int = DEFAULT_SEED) -> tuple[dict, object]:
    """Simulate preset ``name`` and return its manifest entry (without file hash) and data."""
    cohort = simulate_cohort(load_scenario(name), np.random.default_rng(seed))
    counts = cohort.data[schema.EVENT].value_counts()
    entry = {
        "name": name,
        "seed": seed,
        "package_version": __version__,
        "cohort_file": f"{name}.parquet",
        "scenario_file": f"{name}.toml",
        "rows": len(cohort.data),
        "exposed": int(cohort.data[schema.EXPOSURE_DAY].notna().sum()),
        "events": {str(code): int(counts.get(code, 0)) for code in sorted(schema.EVENT_CODES)},
        "content_sha256": frame_sha256(cohort.data),
    }
    return entry, cohort.data


def write_synthetic_data(directory: str | Path, seed: int = DEFAULT_SEED) -> dict:
    """Write every preset's cohort, scenario and the manifest into ``directory``."""
    out = Path(directory)
    entries = []
    for name in list_presets():
        entry, data = build_entry(name, seed)
        path = write_table(data, out / entry["cohort_file"])
        write_text_atomic(out / entry["scenario_file"], preset_text(name))
        entry["file_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        entries.append(entry)
    manifest = {"generator": "python -m reawaken.synthetic", "cohorts": entries}
    write_text_atomic(out / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = args[0] if args else "synthetic_data"
    manifest = write_synthetic_data(directory)
    for e in manifest["cohorts"]:
        print(f"{e['name']}: {e['rows']:,} rows, events {e['events']} -> {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
