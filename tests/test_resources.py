"""Memory guards (reawaken.resources): estimates, available memory and the one-line refusals."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from reawaken import resources
from reawaken.errors import AnalysisError
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import CHUNK_PERSONS, simulate_cohort


def test_available_memory_is_within_physical_memory():
    available = resources.available_memory()
    assert available is not None and available > 0
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert available <= total


def test_meminfo_and_cgroup_parsers(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  1000 kB\nMemFree:  10 kB\nMemAvailable:  500 kB\n")
    assert resources._meminfo_available(meminfo) == 500 * 1024
    meminfo.write_text("MemTotal: 1000 kB\n")
    assert resources._meminfo_available(meminfo) is None
    (tmp_path / "memory.max").write_text("3000\n")
    (tmp_path / "memory.current").write_text("1000\n")
    assert resources._cgroup_available(tmp_path) == 2000
    (tmp_path / "memory.max").write_text("max\n")
    assert resources._cgroup_available(tmp_path) is None


def test_check_memory_message_and_thresholds():
    with pytest.raises(
        AnalysisError,
        match=r"^step needs about 2 GB of memory but 1 GB is "
        r"available; fix: do less$",
    ):
        resources.check_memory(2e9, "step", "do less", available=10**9)
    resources.check_memory(2e9, "step", "do less", available=3 * 10**9)
    resources.check_memory(resources.SMALL - 1, "step", "do less", available=0)
    assert resources.format_bytes(999) == "999 B"
    assert resources.format_bytes(1.5e12) == "1.5 TB"


def test_simulation_estimate_bounds_the_measured_size():
    """The estimate is at least twice the finished table (the parts and their concatenation)."""
    scenario = load_scenario("flatiron_lung_mets")
    data = simulate_cohort(scenario, np.random.default_rng(1), n=20_000).data
    measured = data.memory_usage(deep=True).sum()
    estimate = resources.simulation_bytes(20_000, len(scenario.covariates), CHUNK_PERSONS)
    assert 2 * measured <= estimate <= 20 * measured


def test_simulate_refuses_an_impossible_cohort_at_once():
    scenario = load_scenario("flatiron_lung_mets")
    with pytest.raises(AnalysisError, match=r"simulating 1,000,000,000,000 persons needs"):
        simulate_cohort(scenario, np.random.default_rng(1), n=10**12)


@pytest.mark.parametrize(
    "argv, what",
    [
        (
            [
                "simulate",
                "--scenario",
                "ukb_cancer_mortality",
                "--n",
                "1000000000000",
                "--out",
                "x.parquet",
            ],
            "simulating 1,000,000,000,000 persons",
        ),
        (
            [
                "power",
                "design",
                "--estimate",
                "1.44",
                "--ci",
                "1.01",
                "2.05",
                "--sims",
                "100000000000",
            ],
            "--sims 100,000,000,000",
        ),
    ],
)
def test_cli_refuses_in_one_line_with_status_2(argv, what, tmp_path):
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "reawaken.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and what in lines[0] and "; fix: " in lines[0], lines
    assert time.monotonic() - start < 60
    assert list(tmp_path.iterdir()) == []


def test_matched_analysis_is_guarded_before_matching(monkeypatch):
    """The matched design estimates its memory (sets x controls x columns) before matching:
    with less memory available than that, one clear error and no work done."""
    import reawaken.resources as resources
    from reawaken.analyze import run_analysis
    from reawaken.errors import ReawakenError
    from reawaken.scenario import load_scenario
    from reawaken.simulate.cohort import simulate_cohort

    cohort = simulate_cohort(load_scenario("ukb_cancer_mortality"), np.random.default_rng(1), n=400)
    data = cohort.data.drop(columns=[c for c in cohort.data if c.startswith("true_")])
    exposed = int(data["exposure_day"].notna().sum())
    need = resources.matched_analysis_bytes(exposed, 100, len(data), data.shape[1])
    monkeypatch.setattr(resources, "available_memory", lambda: need // 2)
    monkeypatch.setattr(resources, "SMALL", 0)
    with pytest.raises(ReawakenError, match=r"matching .* exposed persons to 100 controls each"):
        run_analysis(data, design="matched_cox", rng=np.random.default_rng(0), controls=100)
