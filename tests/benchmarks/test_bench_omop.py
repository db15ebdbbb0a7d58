"""Benchmark: extracting the Flatiron study from a 1,000,000-person OMOP CDM in DuckDB
(target: under 30 s and under 2 GB on 2 cores).

Run with ``make bench``; excluded from ``make test``. The CDM is written once (simulate,
``write_omop``), then ``extract_cohort`` runs in a fresh Python process so its wall time and
peak resident memory (``ru_maxrss``, DuckDB included) are its own. Nothing is asserted about
time or memory: they are measured, printed and recorded for the README table.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np

from reawaken.omop import day_rounded, load_study, write_omop
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort

from ._timing import record

PERSONS = 1_000_000
STUDY = "flatiron_lung_mets"

_CHILD = """
import json, resource, sys, time
t0 = time.perf_counter()
from reawaken.omop import extract_cohort
built = extract_cohort(sys.argv[1], sys.argv[2])
seconds = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "persons": len(built.data),
                  "exposed": int(built.data["exposure_day"].notna().sum())}))
"""


def test_bench_omop_extract_million(tmp_path):
    scenario = load_scenario(STUDY).with_n(PERSONS)
    cohort = day_rounded(simulate_cohort(scenario, np.random.default_rng(1)).data)
    path = tmp_path / "cdm.duckdb"
    t0 = time.perf_counter()
    rows = write_omop(cohort, load_study(STUDY), str(path))
    write_seconds = time.perf_counter() - t0
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), STUDY],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["persons"] == PERSONS
    assert result["exposed"] == int(cohort["exposure_day"].notna().sum())
    print(
        f"\nOMOP CDM in DuckDB, {PERSONS:,} persons ({sum(rows.values()):,} rows, "
        f"{path.stat().st_size / 2**20:,.0f} MiB, written in {write_seconds:.1f} s): extract "
        f"{result['seconds']:.1f} s, peak memory {result['peak_mb']:,.0f} MB "
        "(target < 30 s, < 2 GB)"
    )
    record(
        "omop_million",
        task=f"OMOP extraction of a {PERSONS:,}-person CDM (DuckDB)",
        reawaken=f"{result['seconds']:.1f} s, peak {result['peak_mb'] / 1024:.2f} GB",
    )
