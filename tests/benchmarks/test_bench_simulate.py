"""Benchmark: simulating 1,000,000 persons of the Flatiron preset (target: < 30 s on 2 cores).

Run with ``make bench``; excluded from ``make test``. Prints seconds and rows per second; no
timing is asserted (performance is measured, not asserted).
"""

from __future__ import annotations

import time

import numpy as np

from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort

PERSONS = 1_000_000


def test_bench_simulate_flatiron_million():
    scenario = load_scenario("flatiron_lung_mets").with_n(PERSONS)
    simulate_cohort(scenario.with_n(10_000), np.random.default_rng(0))  # warm-up
    t0 = time.perf_counter()
    cohort = simulate_cohort(scenario, np.random.default_rng(1), progress=True)
    seconds = time.perf_counter() - t0
    assert len(cohort.data) == PERSONS
    print(
        f"\nsimulate flatiron_lung_mets, {PERSONS:,} persons: {seconds:.2f} s, "
        f"{PERSONS / seconds:,.0f} rows/s (target < 30 s)"
    )
