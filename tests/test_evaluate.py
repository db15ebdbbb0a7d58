"""Replicate runner (seeding, executors, checkpoints) and ADEMP measures with MCSEs."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

import reawaken
from reawaken.errors import AnalysisError, InputFileError, ReawakenError
from reawaken.evaluate import (
    COLUMNS,
    MEASURES,
    ReplicateTable,
    performance,
    replicate_pool,
    reps_for_mcse,
    run_replicates,
)
from reawaken.scenario import parse_scenario_text
from reawaken.simulate.cohort import simulate_cohort
from reawaken.study.analyses import time_varying_cox_hr

# A small time-varying scenario with a known constant true HR of 1.6: every infection
# documented, stage confounds infection and outcome and is adjusted for.
TRUTH = """
name = "truth_tv"
n = 3000
[followup]
end_day = 1000
time_resolution = "day"
[[covariates]]
name = "stage"
kind = "categorical"
levels = [1, 2, 3]
probs = [0.5, 0.3, 0.2]
[outcome]
baseline = { family = "weibull", shape = 0.9, scale_years = 40.0 }
log_hr = { stage = [0.0, 0.7, 1.4] }
[effect]
hazard_ratio = [1.6]
[infection]
monthly_rate_per_year = [0.2, 0.4, 0.3, 0.1]
documented_probability = 1.0
log_hr = { stage = [0.0, 0.3, 0.6] }
[death]
baseline = { family = "exponential", rate_per_year = 0.02 }
[design]
analysis = "time_varying_cox"
"""


@pytest.fixture(scope="module")
def truth():
    return parse_scenario_text(TRUTH)


@pytest.fixture(scope="module")
def dask_scheduler():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


class CountingAnalysis:
    """Wraps the time-varying Cox analysis and counts its calls (serial executor only)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, cohort, scenario, rng):
        self.calls += 1
        return time_varying_cox_hr(cohort, scenario, rng)


# ------------------------------------------------------------------------- ADEMP by hand

THETA = 0.4
X = [0.2, 0.4, 0.4, 0.6, 0.6, 0.8]  # mean 0.5: bias 0.1
S = [0.1, 0.2, 0.2, 0.2, 0.2, 0.2]
P = [0.04, 0.3, 0.01, 0.2, 0.05, 0.001]  # p < 0.05 for 3 of 6 (0.05 itself is not < 0.05)


def _hand_table() -> pd.DataFrame:
    rows = [
        {"rep": i, "log_estimate": x, "se": s, "p_value": p, "error": None}
        for i, (x, s, p) in enumerate(zip(X, S, P, strict=True))
    ]
    rows.append(
        {"rep": 6, "log_estimate": np.nan, "se": np.nan, "p_value": np.nan, "error": "no events"}
    )
    return pd.DataFrame(rows)


def test_performance_by_hand():
    perf = performance(_hand_table(), true_log_effect=THETA)
    assert (perf.n_reps, perf.n_failed) == (6, 1)
    assert list(perf.table.columns) == ["measure", "estimate", "mcse"]
    assert tuple(perf.table["measure"]) == MEASURES
    n = 6
    # deviations from the mean 0.5: -0.3, -0.1, -0.1, 0.1, 0.1, 0.3
    var = (0.09 + 0.01 + 0.01 + 0.01 + 0.01 + 0.09) / (n - 1)  # 0.044
    # model variances 0.01, 0.04 x 5: mean 0.035, deviations -0.025, 0.005 x 5
    mean_v = 0.21 / n
    var_v = (0.025**2 + 5 * 0.005**2) / (n - 1)  # 0.00015
    # squared errors about theta: 0.04, 0, 0, 0.04, 0.04, 0.16
    mse = 0.28 / n
    sq_dev = 3 * (0.04 - mse) ** 2 + 2 * (0 - mse) ** 2 + (0.16 - mse) ** 2
    ratio = math.sqrt(mean_v) / math.sqrt(var)
    expected = {
        "mean_log_estimate": (0.5, math.sqrt(var / n)),
        "bias": (0.1, math.sqrt(var / n)),
        "relative_bias": (0.1 / 0.4, math.sqrt(var / n) / 0.4),
        "empirical_se": (math.sqrt(var), math.sqrt(var) / math.sqrt(2 * (n - 1))),
        "model_se": (math.sqrt(mean_v), math.sqrt(var_v / (4 * n * mean_v))),
        "relative_error_model_se": (
            100 * (ratio - 1),
            100 * ratio * math.sqrt(var_v / (4 * n * mean_v**2) + 1 / (2 * (n - 1))),
        ),
        "mse": (mse, math.sqrt(sq_dev / (n * (n - 1)))),
        # 95% CIs x +/- 1.96 s: rep 0 [0.004, 0.396] misses 0.4 and 0.5; rep 5 [0.408, 1.192]
        # misses 0.4 but covers the mean 0.5
        "coverage": (4 / 6, math.sqrt(4 / 6 * 2 / 6 / n)),
        "bias_eliminated_coverage": (5 / 6, math.sqrt(5 / 6 * 1 / 6 / n)),
        "rejection_rate": (0.5, math.sqrt(0.25 / n)),
    }
    for measure, (est, mcse) in expected.items():
        assert perf.estimate(measure) == pytest.approx(est, rel=1e-12, abs=1e-15), measure
        assert perf.mcse(measure) == pytest.approx(mcse, rel=1e-12), measure
    assert "1 failed" in perf.summary()


def test_performance_level_alpha_and_unknown_truth():
    df = _hand_table()
    # at 50% (z = 0.674) only reps 1-2 cover 0.4 (|x - 0.4| <= 0.135 with s = 0.2)
    assert performance(df, true_log_effect=THETA, level=0.5).estimate("coverage") == 2 / 6
    assert performance(df, true_log_effect=THETA, alpha=0.1).estimate("rejection_rate") == 4 / 6
    perf = performance(df, true_log_effect=float("nan"))
    for m in ("bias", "relative_bias", "mse", "coverage"):
        assert np.isnan(perf.estimate(m)), m
    assert perf.estimate("empirical_se") == pytest.approx(math.sqrt(0.044))
    assert perf.estimate("rejection_rate") == 0.5
    assert np.isnan(performance(df, true_log_effect=0.0).estimate("relative_bias"))


def test_performance_errors():
    with pytest.raises(AnalysisError, match="at least 2"):
        performance(_hand_table().iloc[[0, 6]], true_log_effect=THETA)
    with pytest.raises(AnalysisError, match="p_value"):
        performance(_hand_table().drop(columns="p_value"), true_log_effect=THETA)
    with pytest.raises(ReawakenError, match="unknown measure"):
        performance(_hand_table(), true_log_effect=THETA).estimate("power")


# ------------------------------------------------------------------------- reps_for_mcse


def test_reps_for_mcse_hand_values():
    # Morris et al. 2019 section 5.3: (SD / MCSE)^2 for the bias, p (1 - p) / MCSE^2 for
    # coverage and power; an unknown proportion takes the worst case 0.5
    assert reps_for_mcse(target_mcse=0.01, measure="bias", empirical_se=0.2) == 400
    assert reps_for_mcse(target_mcse=0.07, measure="bias", empirical_se=0.3) == 19  # 18.37
    assert reps_for_mcse(target_mcse=0.01, measure="empirical_se", empirical_se=0.2) == 201
    assert reps_for_mcse(target_mcse=0.005, measure="coverage", coverage=0.95) == 1900
    assert reps_for_mcse(target_mcse=0.01, measure="coverage") == 2500
    assert reps_for_mcse(target_mcse=0.01, measure="power", power=0.8) == 1600
    assert reps_for_mcse(target_mcse=0.03, measure="rejection_rate", power=0.9) == 100
    with pytest.raises(ReawakenError, match="empirical_se"):
        reps_for_mcse(target_mcse=0.01, measure="bias")
    with pytest.raises(ReawakenError, match="unknown measure"):
        reps_for_mcse(target_mcse=0.01, measure="mse")
    with pytest.raises(ReawakenError, match="target_mcse"):
        reps_for_mcse(target_mcse=0.0, measure="coverage")


# ------------------------------------------------------------------------- runner


@pytest.fixture(scope="module")
def flatiron():
    return reawaken.load_scenario("flatiron_lung_mets")


@pytest.fixture(scope="module")
def serial_table(flatiron):
    # seed 5 at n = 3000 gives 3 failing replicates of 8 (no exposed events, divergence)
    return run_replicates(flatiron, reps=8, seed=5, n=3000, executor="serial")


def test_replicate_table_contract(flatiron, serial_table):
    df = serial_table.data
    assert tuple(df.columns) == COLUMNS
    assert df["rep"].tolist() == list(range(8))
    assert df["seed"].tolist() == [f"5/{i}" for i in range(8)]
    assert serial_table.computed == 8
    failed = df["error"].notna()
    assert serial_table.n_failed == int(failed.sum()) > 0
    assert df.loc[failed, ["estimate", "se", "p_value"]].isna().all().all()
    assert df.loc[failed, "error"].str.startswith("AnalysisError").all()
    assert df["true_log_effect"].isna().all()
    ok = df.loc[~failed]
    np.testing.assert_allclose(ok["log_estimate"], np.log(ok["estimate"]), rtol=1e-12)
    # replicate i is SeedSequence(seed).spawn(reps)[i]: simulate, then analyse, one generator
    sc = flatiron.with_n(3000)
    i = int(ok["rep"].iloc[0])
    rng = np.random.default_rng(np.random.SeedSequence(5).spawn(8)[i])
    direct = reawaken.study_analysis(sc)(simulate_cohort(sc, rng).data, sc, rng)
    assert ok["estimate"].iloc[0] == direct.estimate and ok["se"].iloc[0] == direct.se
    assert f"{serial_table.n_failed} failed" in serial_table.summary()


@pytest.mark.parametrize(
    ("executor", "workers", "chunk_size"),
    [("processes", 2, 50), ("processes", 1, 50), ("processes", 2, 3)],
)
def test_processes_identical_to_serial(
    flatiron, serial_table, executor, workers, chunk_size, tmp_path
):
    out = tmp_path / "p.parquet"
    table = run_replicates(
        flatiron,
        reps=8,
        seed=5,
        n=3000,
        executor=executor,
        workers=workers,
        chunk_size=chunk_size,
        out=out,
    )
    pd.testing.assert_frame_equal(table.data, serial_table.data, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out), serial_table.data, check_exact=True)


def test_shared_pool_identical_to_serial_across_calls(flatiron, serial_table):
    """One replicate_pool serves several run_replicates calls with the same tables."""
    with replicate_pool("processes", 2) as pool:
        first = run_replicates(flatiron, reps=8, seed=5, n=3000, executor=pool, workers=2)
        again = run_replicates(flatiron, reps=8, seed=5, n=3000, executor=pool, workers=2)
    pd.testing.assert_frame_equal(first.data, serial_table.data, check_exact=True)
    pd.testing.assert_frame_equal(again.data, serial_table.data, check_exact=True)
    with replicate_pool("serial") as passthrough:
        assert passthrough == "serial"


def test_dask_identical_to_serial(flatiron, serial_table, dask_scheduler):
    table = run_replicates(
        flatiron, reps=8, seed=5, n=3000, executor="dask", scheduler=dask_scheduler
    )
    pd.testing.assert_frame_equal(table.data, serial_table.data, check_exact=True)


def test_dask_local_cluster_identical_to_serial(flatiron, serial_table):
    pytest.importorskip("distributed")
    table = run_replicates(flatiron, reps=3, seed=5, n=3000, executor="dask", workers=1)
    pd.testing.assert_frame_equal(table.data, serial_table.data.iloc[:3], check_exact=True)


def broken_analysis(cohort, scenario, rng):
    raise RuntimeError("a bug, not a data problem")


def test_only_reawaken_errors_are_recorded(truth):
    with pytest.raises(RuntimeError, match="a bug"):
        run_replicates(truth, broken_analysis, reps=2, seed=1, executor="serial")


def test_dask_missing_is_a_clear_error(flatiron, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ReawakenError, match=r"reawaken\[dask\]"):
        run_replicates(flatiron, reps=2, seed=1, n=500, executor="dask")


def test_invalid_arguments(flatiron):
    with pytest.raises(ReawakenError, match="reps"):
        run_replicates(flatiron, reps=0, seed=1)
    with pytest.raises(ReawakenError, match="seed"):
        run_replicates(flatiron, reps=2, seed=-1)
    with pytest.raises(ReawakenError, match="executor"):
        run_replicates(flatiron, reps=2, seed=1, executor="threads")
    with pytest.raises(InputFileError, match="parquet"):
        run_replicates(flatiron, reps=2, seed=1, out="x.csv")
    with pytest.raises(ReawakenError, match="scheduler"):
        run_replicates(flatiron, reps=2, seed=1, scheduler="tcp://localhost:8786")


def test_resume_computes_only_missing(truth, tmp_path):
    out = tmp_path / "x.parquet"
    counting = CountingAnalysis()
    first = run_replicates(truth, counting, reps=6, seed=11, executor="serial", out=out)
    assert (first.computed, counting.calls) == (6, 6)
    assert pd.read_parquet(out).attrs["reawaken_replicates"]["seed"] == 11

    counting = CountingAnalysis()
    table = run_replicates(
        truth, counting, reps=10, seed=11, executor="serial", out=out, progress=True
    )
    assert (table.computed, counting.calls) == (4, 4)
    fresh = run_replicates(truth, CountingAnalysis(), reps=10, seed=11, executor="serial")
    pd.testing.assert_frame_equal(table.data, fresh.data, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out), fresh.data, check_exact=True)

    # fewer replicates: read back, nothing computed; a known truth fills the column
    again = run_replicates(
        truth, CountingAnalysis(), reps=4, seed=11, executor="serial", out=out, true_effect=1.6
    )
    assert again.computed == 0
    pd.testing.assert_frame_equal(
        again.data.drop(columns="true_log_effect"),
        fresh.data.iloc[:4].drop(columns="true_log_effect"),
    )
    assert (again.data["true_log_effect"] == math.log(1.6)).all()


def test_resume_refuses_another_run(truth, tmp_path):
    out = tmp_path / "x.parquet"
    run_replicates(truth, CountingAnalysis(), reps=2, seed=11, executor="serial", out=out)
    with pytest.raises(InputFileError, match=r"seed 11 \(now 12\).*delete"):
        run_replicates(truth, CountingAnalysis(), reps=2, seed=12, executor="serial", out=out)
    with pytest.raises(InputFileError, match="scenario_sha256"):
        run_replicates(
            truth, CountingAnalysis(), reps=2, seed=11, n=2000, executor="serial", out=out
        )
    with pytest.raises(InputFileError, match="analysis"):
        run_replicates(truth, reps=2, seed=11, executor="serial", out=out)
    bad = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(bad)
    with pytest.raises(InputFileError, match="not a reawaken replicate checkpoint"):
        run_replicates(truth, reps=2, seed=11, executor="serial", out=bad)


def test_known_truth_bias_within_4_mcse(truth):
    table = run_replicates(truth, reps=20, seed=2024, executor="serial", true_effect=1.6)
    assert isinstance(table, ReplicateTable) and table.n_failed == 0
    perf = table.performance()
    assert perf.true_log_effect == pytest.approx(math.log(1.6))
    bias, mcse = perf.estimate("bias"), perf.mcse("bias")
    assert 0 < mcse < 0.1
    assert abs(bias) < 4 * mcse, (bias, mcse)
    # the model SE tracks the empirical SE within 4 MCSE of the relative error
    assert abs(perf.estimate("relative_error_model_se")) < 4 * perf.mcse("relative_error_model_se")
    assert "true log effect 0.4700" in perf.summary()


def _interrupt(folder) -> int:
    """Keep the first half of every checkpoint in ``folder`` (the rows an interrupted run had
    written); returns the rows removed."""
    from reawaken.io import write_table

    removed = 0
    for path in sorted(folder.glob("*.parquet")):
        table = pd.read_parquet(path)
        kept = table.iloc[: len(table) // 2].copy()
        kept.attrs = table.attrs
        write_table(kept, path)
        removed += len(table) - len(kept)
    return removed


def test_checkpoint_folder_names_one_file_per_call(truth, tmp_path):
    folder = tmp_path / "ckpt"
    first = run_replicates(truth, reps=4, seed=11, executor="serial", checkpoint=folder)
    run_replicates(truth, reps=4, seed=12, executor="serial", checkpoint=folder)
    run_replicates(truth, reps=4, seed=11, n=2000, executor="serial", checkpoint=folder)
    files = sorted(folder.glob("*.parquet"))
    assert len(files) == 3 and all(f.name.startswith("truth_tv-") for f in files)
    assert _interrupt(folder) == 6
    again = run_replicates(truth, reps=4, seed=11, executor="serial", checkpoint=folder)
    assert again.computed == 2
    pd.testing.assert_frame_equal(again.data, first.data, check_exact=True)
    with pytest.raises(ReawakenError, match="not both"):
        run_replicates(truth, reps=2, seed=1, out=tmp_path / "x.parquet", checkpoint=folder)
    with pytest.raises(InputFileError, match="is a file"):
        run_replicates(truth, reps=2, seed=1, executor="serial", checkpoint=files[0])


def test_power_simulate_resumes_from_checkpoints_to_identical_bytes(truth, tmp_path, monkeypatch):
    """An interrupted `power simulate --checkpoint DIR` rerun computes only the missing
    replicates and writes the same bytes as a run without checkpoints."""
    from reawaken import evaluate
    from reawaken.cli import main

    scenario = tmp_path / "truth.toml"
    scenario.write_text(TRUTH)
    calls = []
    one = evaluate._one
    monkeypatch.setattr(evaluate, "_one", lambda *a: calls.append(a[2]) or one(*a))
    base = ["power", "simulate", "--scenario", str(scenario), "--reps", "6", "--seed", "3"]
    base += ["--n", "2000,3000", "--executor", "serial", "--no-progress", "--out"]
    ckpt = ["--checkpoint", str(tmp_path / "ckpt")]
    assert main([*base, str(tmp_path / "plain")]) == 0
    assert main([*base, str(tmp_path / "first"), *ckpt]) == 0
    assert len(calls) == 24 and len(list((tmp_path / "ckpt").glob("*.parquet"))) == 2
    removed = _interrupt(tmp_path / "ckpt")
    calls.clear()
    assert main([*base, str(tmp_path / "resumed"), *ckpt]) == 0
    assert len(calls) == removed == 6
    for name in ("power_simulated.csv", "power.json"):
        plain = (tmp_path / "plain" / name).read_bytes()
        assert (tmp_path / "resumed" / name).read_bytes() == plain
        assert (tmp_path / "first" / name).read_bytes() == plain
