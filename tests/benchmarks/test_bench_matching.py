"""Benchmark: exposure-density matching, vectorised vs the per-person loop it replaced (issue 12).

One run prints, for the design of each preset: matching one Flatiron-size cohort (36,845
persons, 1:4, exact stage/HER2, age ±2; target <= 0.15 s), one UK Biobank-size cohort (4,837
persons, 1:4, sex, age ±5, test day ±14 days; target <= 0.05 s) and a 1,000,000-person
Flatiron cohort (target <= 10 s and < 2 GB): wall time (best of 5; the 1M cohort once, with its
progress bar), the ratio to the previous implementation (``tests/design/_matching_legacy.py``;
for 1M persons extrapolated from runs on 1 and 10,000 of its exposed persons, labelled so) and
the peak RSS of a fresh process that loads the cohort and matches it. Run with ``make bench``;
excluded from ``make test``; no timing is asserted (performance is measured, not asserted).
The figures are recorded for the README table (``_timing.record``).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from reawaken.design.matching import match_exposure_density
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort

from ._timing import best_time, record

DESIGN_TESTS = Path(__file__).resolve().parents[1] / "design"
PERSONS = 1_000_000
SAMPLED = (1, 10_000)  # exposed persons kept to time the previous implementation on 1M


def _legacy():
    spec = importlib.util.spec_from_file_location(
        "_matching_legacy", DESIGN_TESTS / "_matching_legacy.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.legacy_match_exposure_density


def _design(name: str) -> tuple[object, dict]:
    scenario = load_scenario(name)
    d = scenario.design
    kwargs = {
        "controls": d.controls,
        "exact": list(d.exact),
        "caliper": dict(d.caliper),
        "test_window_days": d.test_window_days,
        "covariates": list(scenario.covariate_names),
    }
    return scenario, kwargs


_FRESH = """
import json, resource, sys, time
import numpy as np, pandas as pd
sys.path.insert(0, {design!r})
from reawaken.design.matching import match_exposure_density
from _matching_legacy import legacy_match_exposure_density
cohort = pd.read_parquet({path!r})
kwargs = json.loads({kwargs!r})
match = legacy_match_exposure_density if {legacy!r} else match_exposure_density
if not {legacy!r}:
    kwargs["progress"] = True
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
matched = match(cohort, rng=np.random.default_rng(0), **kwargs)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps([seconds, base, peak, len(matched.data)]))
"""


def _fresh_process(cohort: pd.DataFrame, kwargs: dict, legacy: bool) -> tuple[float, ...]:
    """Seconds, RSS (MB) with the cohort loaded, peak RSS (MB) after matching, rows; stderr
    (the progress bar) goes to the terminal."""
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/cohort.parquet"
        cohort.to_parquet(path)
        code = _FRESH.format(
            design=str(DESIGN_TESTS), path=path, kwargs=json.dumps(kwargs), legacy=legacy
        )
        out = subprocess.run(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, check=True
        )
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def _preset_row(name: str, legacy) -> tuple[str, dict[str, str]]:
    scenario, kwargs = _design(name)
    cohort = simulate_cohort(scenario, np.random.default_rng(1)).data
    new_s, new = best_time(
        lambda: match_exposure_density(cohort, rng=np.random.default_rng(0), **kwargs), 5
    )
    old_s, old = best_time(lambda: legacy(cohort, rng=np.random.default_rng(0), **kwargs), 5)
    pd.testing.assert_frame_equal(new.data, old.data)  # same sets, not only faster
    _, _, peak, _ = _fresh_process(cohort, kwargs, legacy=False)
    _, _, old_peak, _ = _fresh_process(cohort, kwargs, legacy=True)
    exposed = int(cohort["exposure_day"].notna().sum())
    line = (
        f"  {name:<22} {len(cohort):>9,} persons {exposed:>7,} exposed: {new_s:8.4f} s "
        f"(previous {old_s:7.4f} s, x{old_s / new_s:5.1f} faster; identical sets)   "
        f"peak RSS {peak:.0f} MB (previous {old_peak:.0f} MB)"
    )
    cells = {
        "reawaken": f"{new_s:.3f} s",
        "previous": f"{old_s:.3f} s (x{old_s / new_s:.1f}; same sets)",
    }
    return line, cells


def _legacy_extrapolated(cohort: pd.DataFrame, kwargs: dict, legacy) -> float:
    """Previous implementation with 1 and with 10,000 of the exposed persons kept (the others
    made never-exposed; each set scans the same slices), extrapolated linearly to all."""
    exposed = np.flatnonzero(cohort["exposure_day"].notna().to_numpy())
    keep = np.random.default_rng(3).permutation(exposed)
    times = []
    for m in SAMPLED:
        sub = cohort.copy()
        sub.loc[np.setdiff1d(exposed, keep[:m]), "exposure_day"] = np.nan
        seconds, _ = best_time(lambda s=sub: legacy(s, rng=np.random.default_rng(0), **kwargs), 2)
        times.append(seconds)
    slope = (times[1] - times[0]) / (SAMPLED[1] - SAMPLED[0])
    return times[0] + slope * (exposed.size - SAMPLED[0])


def test_bench_matching():
    legacy = _legacy()
    lines = ["\nexposure-density matching, vectorised vs the previous per-person loop"]
    tasks = {
        "flatiron_lung_mets": (
            "matching_flatiron",
            "exposure-density matching, Flatiron cohort (36,845 persons, 1:4, exact stage/HER2, "
            "age ±2)",
            "   (target <= 0.15 s)",
        ),
        "ukb_cancer_mortality": (
            "matching_ukb",
            "exposure-density matching, UK Biobank cohort (4,837 persons, test window ±14 days)",
            "   (target <= 0.05 s)",
        ),
    }
    for name, (key, task, target) in tasks.items():
        line, cells = _preset_row(name, legacy)
        lines.append(line + target)
        record(key, task=task, **cells)
    print("\n".join(lines), flush=True)
    scenario, kwargs = _design("flatiron_lung_mets")
    cohort = simulate_cohort(scenario.with_n(PERSONS), np.random.default_rng(1)).data
    seconds, base, peak, rows = _fresh_process(cohort, kwargs, legacy=False)
    old = _legacy_extrapolated(cohort, kwargs, legacy)
    exposed = int(cohort["exposure_day"].notna().sum())
    print(
        f"  flatiron_lung_mets x{PERSONS:,} persons {exposed:,} exposed: {seconds:.2f} s, "
        f"{rows:,} rows (previous ~{old:.0f} s, extrapolated from {SAMPLED[0]:,} and "
        f"{SAMPLED[1]:,} exposed persons; x{old / seconds:.0f} faster)   peak RSS {peak:.0f} MB, "
        f"{base:.0f} MB with the cohort loaded (targets <= 10 s, < 2 GB)"
    )
    record(
        "matching_million",
        task=f"exposure-density matching, {PERSONS:,} persons (Flatiron design)",
        reawaken=f"{seconds:.1f} s, peak {peak:.0f} MB",
        previous=f"~{old:.0f} s (extrapolated; x{old / seconds:.0f})",
    )
