"""Benchmark: simulating 1,000,000 persons of the Flatiron preset (target: < 30 s on 2 cores).

Run with ``make bench``; excluded from ``make test``. Prints seconds and rows per second, and
the previous simulator's time (``tests/simulate/_simulate_legacy.py``, same cohort); no timing
is asserted (performance is measured, not asserted). Recorded for the README table.
"""

from __future__ import annotations

import time

import numpy as np

from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort

from . import _previous
from ._timing import record

PERSONS = 1_000_000


def test_bench_simulate_flatiron_million():
    scenario = load_scenario("flatiron_lung_mets").with_n(PERSONS)
    simulate_cohort(scenario.with_n(10_000), np.random.default_rng(0))  # warm-up
    t0 = time.perf_counter()
    cohort = simulate_cohort(scenario, np.random.default_rng(1), progress=True)
    seconds = time.perf_counter() - t0
    assert len(cohort.data) == PERSONS
    t0 = time.perf_counter()
    previous = _previous.LEGACY_SIM.legacy_simulate_cohort(scenario, np.random.default_rng(1))
    old_seconds = time.perf_counter() - t0
    assert previous.equals(cohort.data)
    print(
        f"\nsimulate flatiron_lung_mets, {PERSONS:,} persons: {seconds:.2f} s, "
        f"{PERSONS / seconds:,.0f} rows/s (target < 30 s); previous {old_seconds:.2f} s "
        f"(x{old_seconds / seconds:.2f}), same cohort"
    )
    record(
        "simulate_million",
        task=f"simulate {PERSONS:,} Flatiron persons",
        reawaken=f"{seconds:.2f} s",
        previous=f"{old_seconds:.2f} s (x{old_seconds / seconds:.2f})",
    )
