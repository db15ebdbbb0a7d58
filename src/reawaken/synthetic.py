"""Regenerate ``synthetic_data/``: one cohort per preset, its scenario file and a manifest.

The determinism promise, and what the manifest records to check it:

* **Same platform, same bytes.** A seed fixes every draw, so on one machine a rerun gives the
  same floats bit for bit (tested in process with :func:`reawaken.io.frame_sha256`).
* **Across CPUs, integers exact and floats within** :data:`FLOAT_RTOL`. NumPy's SIMD
  transcendental functions (``log``, ``exp``, ...) may round the last bit differently on
  another CPU (seen: ``true_infection_day`` off by 1e-12 days on an AVX2 machine against the
  AVX-512 machine that wrote the files). So the manifest never hashes raw float bits: it
  hashes the exact part of the table (:func:`exact_part_sha256`: column names and dtypes,
  integer columns, and where the float columns are missing) and keeps, per float column, its
  sum and count; the committed Parquet file is the reference for the float values, compared
  with a relative tolerance (:func:`float_differences`).

Run as ``python -m reawaken.synthetic DIR`` (``make synthetic-data``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__, schema
from .io import write_table, write_text_atomic
from .scenario import list_presets, load_scenario, preset_text
from .simulate.cohort import DEFAULT_SEED, simulate_cohort

MANIFEST = "manifest.json"
#: Relative tolerance for float columns regenerated on another CPU (observed differences:
#: <= 1e-15 relative; a day count of 1e3 off by 1e-12).
FLOAT_RTOL = 1e-9
_EXACT_HASH_VERSION = b"reawaken-exact-part-sha256-v1"


def exact_part_sha256(data: pd.DataFrame) -> str:
    """SHA-256 of what must agree bit for bit on every machine.

    Covers column names and dtypes, the values of every non-float column (as little-endian
    int64 or text) and the missing-value pattern of every float column; float values are left
    out (see the module docstring).
    """
    h = hashlib.sha256(_EXACT_HASH_VERSION)
    for name in data.columns:
        col = data[name]
        h.update(f"{name}:{col.dtype}\n".encode())
        if pd.api.types.is_float_dtype(col.dtype):
            h.update(np.packbits(col.isna().to_numpy()).tobytes())
        elif pd.api.types.is_numeric_dtype(col.dtype):
            h.update(col.to_numpy().astype("<i8").tobytes())
        else:
            h.update("\x1f".join(col.astype(str)).encode())
    return h.hexdigest()


def float_summary(data: pd.DataFrame) -> dict[str, dict[str, float | int]]:
    """Per float column: the sum of its non-missing values and their count."""
    return {
        str(name): {"sum": float(data[name].sum()), "count": int(data[name].notna().sum())}
        for name in data.columns
        if pd.api.types.is_float_dtype(data[name].dtype)
    }


def float_differences(
    expected: pd.DataFrame, actual: pd.DataFrame, rtol: float = FLOAT_RTOL
) -> list[str]:
    """Float columns where ``actual`` and ``expected`` differ beyond ``rtol`` (relative to
    ``max(|expected|, 1)``) or in their missing values; one line per column."""
    problems = []
    for name in expected.columns:
        if not pd.api.types.is_float_dtype(expected[name].dtype):
            continue
        a, e = actual[name].to_numpy(dtype=float), expected[name].to_numpy(dtype=float)
        if not np.array_equal(np.isnan(a), np.isnan(e)):
            problems.append(f"{name}: missing values differ")
            continue
        ok = ~np.isnan(e)
        scaled = np.abs(a[ok] - e[ok]) / np.maximum(np.abs(e[ok]), 1.0)
        worst = float(scaled.max()) if scaled.size else 0.0
        if worst > rtol:
            problems.append(f"{name}: largest relative difference {worst:.3g} > {rtol:g}")
    return problems


def build_entry(name: str, seed: int = DEFAULT_SEED) -> tuple[dict, pd.DataFrame]:
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
        "exact_part_sha256": exact_part_sha256(cohort.data),
        "float_rtol": FLOAT_RTOL,
        "float_columns": float_summary(cohort.data),
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
