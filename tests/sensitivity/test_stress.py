"""The bias battery: each mechanism moves the estimate the way theory predicts, strength 0 is
unbiased, the confounding bias respects the Ding–VanderWeele bound, tipping points interpolate.

Reduced sizes (Flatiron preset at n = 20,000, 10 replicates per cell, serial executor); the
CLI runs the full battery.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reawaken.findings import load_finding
from reawaken.scenario import load_scenario
from reawaken.sensitivity.evalue import bias_factor
from reawaken.sensitivity.stress import _tipping, run_battery

OPTS = {"reps": 10, "seed": 3, "executor": "serial", "n": 20_000}


@pytest.fixture(scope="module")
def battery():
    strengths = {
        "immortal_time": (0.0, 1.0),
        "misclassification": (0.0, 0.7),
        "unmeasured_confounding": (0.0, 1.2),
        "death_misattribution": (0.0, 0.25),
    }
    return run_battery(
        load_scenario("flatiron_lung_mets"),
        load_finding("flatiron_lung_mets"),
        mechanisms=list(strengths),
        strengths=strengths,
        **OPTS,
    )


def _cell(battery, mechanism, strength, truth):
    t = battery.table
    row = t[
        (t["mechanism"] == mechanism)
        & (t["strength"] == strength)
        & np.isclose(t["true_effect"], truth)
    ]
    assert len(row) == 1
    return row.iloc[0]


@pytest.mark.parametrize(
    "mechanism",
    ["immortal_time", "misclassification", "unmeasured_confounding", "death_misattribution"],
)
def test_strength_zero_unbiased(battery, mechanism):
    for truth in (1.44, 1.0):
        row = _cell(battery, mechanism, 0.0, truth)
        assert abs(row["bias"]) < 4 * row["bias_mcse"] + 0.05, row.to_dict()


def test_immortal_time_toward_protection(battery):
    row = _cell(battery, "immortal_time", 1.0, 1.0)
    assert row["mean_log_estimate"] < -4 * row["mean_log_estimate_mcse"]


def test_misclassification_toward_null(battery):
    clean = _cell(battery, "misclassification", 0.0, 1.44)["mean_log_estimate"]
    mis = _cell(battery, "misclassification", 0.7, 1.44)
    assert 0 < mis["mean_log_estimate"] < clean


def test_confounding_away_from_null_within_bound(battery):
    row = _cell(battery, "unmeasured_confounding", 1.2, 1.0)
    assert row["mean_log_estimate"] > 4 * row["mean_log_estimate_mcse"]
    # Ding & VanderWeele (2016): observed / true <= B(RR_EU, RR_UD) with RR_EU, RR_UD <= e^1.2
    assert row["mean_estimate"] <= bias_factor(np.exp(1.2), np.exp(1.2))
    assert row["negative_control_estimate"] > 1.2  # the negative control flags it


def test_misattribution_inflates_and_sets_a_tipping_point(battery):
    row = _cell(battery, "death_misattribution", 0.25, 1.0)
    assert row["mean_log_estimate"] > np.log(1.44)
    tip = battery.tipping_points.set_index("mechanism").loc["death_misattribution"]
    assert 0 < tip["tipping_point"] < 0.25
    assert abs(row["negative_control_estimate"] - 1) < 0.3  # not a confounding path


def test_tipping_interpolation():
    rows = pd.DataFrame({"strength": [0, 1, 2], "mean_log_estimate": [0.0, 0.2, 0.6]})
    assert _tipping(rows, 0.4) == pytest.approx(1.5)
    assert np.isnan(_tipping(rows, 1.0))


def test_cli_stress_writes_tables_and_figure(tmp_path, capsys):
    import json

    from reawaken.cli import main

    assert (
        main(
            [
                "stress",
                "--finding",
                "flatiron_lung_mets",
                "--reps",
                "3",
                "--n",
                "8000",
                "--mechanisms",
                "misclassification",
                "--executor",
                "serial",
                "--no-progress",
                "--out",
                str(tmp_path),
                "--json",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["evalue"]["evalue_point"] > 1
    for name in (
        "stress_battery.csv",
        "tipping_points.csv",
        "stress.json",
        "stress.png",
        "stress.svg",
    ):
        assert (tmp_path / name).exists()
    assert (
        main(
            [
                "stress",
                "--finding",
                "flatiron_lung_mets",
                "--mechanisms",
                "gremlins",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert not (tmp_path / "x").exists()


def test_effect_shape_single_hr_averages_a_transient_effect():
    """A transient effect (full HR for 90 days, none after) is diluted by a single HR."""
    res = run_battery(
        load_scenario("flatiron_lung_mets"),
        load_finding("flatiron_lung_mets"),
        mechanisms=["effect_shape"],
        strengths={"effect_shape": (0.0, 1.0)},
        **OPTS,
    )
    sustained = _cell(res, "effect_shape", 0.0, 1.44)["mean_log_estimate"]
    transient = _cell(res, "effect_shape", 1.0, 1.44)
    assert transient["mean_log_estimate"] < sustained - 2 * transient["mean_log_estimate_mcse"]
    assert np.isnan(res.tipping_points["tipping_point"].iloc[0])  # the null has no effect


def test_test_negative_selection_enriches_negatives_in_frailty():
    """Testing driven by a latent frailty: test-negative persons carry more of it than
    test-positive ones (the selection the UK Biobank comparison is exposed to); off at 0."""
    from reawaken.sensitivity.stress import apply_mechanism, clean_scenario
    from reawaken.simulate.cohort import simulate_cohort
    from reawaken.study.analyses import study_analysis

    base = clean_scenario(load_scenario("ukb_cancer_mortality"), 1.0)
    shares = {}
    for strength in (0.0, 1.5):
        sc, _ = apply_mechanism(base, "test_negative_selection", strength, study_analysis(base))
        d = simulate_cohort(sc, np.random.default_rng(9), n=40_000).data
        negative = d["exposure_day"].isna()
        shares[strength] = (
            d.loc[negative, "true_frailty"].mean(),
            d.loc[~negative, "true_frailty"].mean(),
        )
    neg0, pos0 = shares[0.0]
    neg1, pos1 = shares[1.5]
    assert abs(neg0 - pos0) < 0.02
    assert neg1 - pos1 > 0.05


# --- failed and separated replicates -------------------------------------------------------


NULL_REF = (0.0, 0.0, "defined truth (test)")


def _replicates(estimates, ses=None, errors=None):
    from types import SimpleNamespace

    est = np.asarray(estimates, dtype=float)
    se = np.full(est.size, 0.2) if ses is None else np.asarray(ses, dtype=float)
    data = pd.DataFrame(
        {
            "log_estimate": est,
            "se": np.where(np.isnan(est), np.nan, se),
            "p_value": 0.5,
            "error": errors if errors is not None else [None] * est.size,
        }
    )
    return SimpleNamespace(data=data)


def test_separated_replicates_are_counted_and_left_out_of_the_mean():
    from reawaken.sensitivity.stress import _row

    # 19 informative replicates around log 0.5, one "separated" (log OR 19.6, SE 18,000)
    est = [0.5 + 0.01 * (i - 9) for i in range(19)] + [19.6]
    se = [0.2] * 19 + [18_000.0]
    row = _row("immortal_time", 1.0, 1.0, NULL_REF, _replicates(est, se), None)
    assert row["separated"] == 1 and row["failed"] == 0 and row["reps"] == 20
    assert row["usable"]  # 1 of 20 = 5% is tolerated
    assert row["mean_log_estimate"] == pytest.approx(0.5, abs=1e-12)


def test_cells_with_failed_replicates_are_flagged():
    from reawaken.sensitivity.stress import _row

    est = [0.1, np.nan, np.nan, 0.2, 0.15, 0.12, 0.11, 0.09, 0.13, 0.1]
    errors = [None, "AnalysisError: monotone", "AnalysisError: monotone"] + [None] * 7
    row = _row("immortal_time", 1.0, 1.0, NULL_REF, _replicates(est, errors=errors), None)
    assert row["failed"] == 2 and not row["usable"]
    assert "monotone" in row["note"]
    failing = _replicates([np.nan] * 3, errors=["x"] * 3)
    all_failed = _row("immortal_time", 1.0, 1.0, NULL_REF, failing, None)
    assert not all_failed["usable"] and np.isnan(all_failed["mean_log_estimate"])


def test_tipping_point_is_not_interpolated_into_a_flagged_cell():
    """The tester's UKB immortal-time cell: log OR 19.6 at strength 1.0 (separated
    replicates). Interpolating to it gave a tipping point of ~0.53; it must be undetermined
    beyond the last usable strength instead."""
    from reawaken.sensitivity.stress import _tipping_row

    means = {0.0: -0.004, 0.25: -0.35, 0.5: -0.48, 1.0: 19.6}
    rows = [
        {
            "mechanism": "immortal_time",
            "strength": s,
            "true_effect": 1.0,
            "mean_log_estimate": m,
            "usable": s < 1.0,
            "reps": 10,
            "failed": 0,
            "separated": 0 if s < 1.0 else 9,
            "note": "" if s < 1.0 else "9 replicate(s) separated",
        }
        for s, m in means.items()
    ]
    naive = _tipping(pd.DataFrame(rows).drop(columns="usable"), np.log(1.85))
    assert 0.5 < naive < 1.0  # what the battery used to report
    tip = _tipping_row("immortal_time", rows, np.log(1.85))
    assert np.isnan(tip["tipping_point"]) and tip["status"] == "undetermined"
    assert tip["max_strength"] == 0.5 and "strength 1: 9 of 10" in tip["note"]
    rows[-1]["usable"] = True
    rows[-1]["mean_log_estimate"] = 0.0
    tip = _tipping_row("immortal_time", rows, np.log(1.85))
    assert tip["status"] == "not reached" and tip["max_strength"] == 1.0


def test_test_negative_selection_needs_testing():
    from reawaken.errors import AnalysisError

    with pytest.raises(AnalysisError, match=r"test_negative_selection needs a scenario.*fix"):
        run_battery(
            load_scenario("flatiron_lung_mets"),
            load_finding("flatiron_lung_mets"),
            mechanisms=["test_negative_selection"],
            **OPTS,
        )


def test_cells_are_judged_against_the_defined_truth_of_the_clean_scenario(battery):
    """The reference is the time-varying Cox model's limit in the clean scenario (every infection
    documented, constant HR): consistent for the causal HR, so within 3.9 MCSE of it."""
    for truth in (1.44, 1.0):
        row = _cell(battery, "misclassification", 0.0, truth)
        assert row["reference"] == "defined truth of time_varying_cox in the clean scenario"
        gap = row["reference_log_effect"] - np.log(truth)
        assert abs(gap) < 3.9 * row["reference_mcse"], row.to_dict()
        assert row["bias"] == pytest.approx(row["mean_log_estimate"] - row["reference_log_effect"])
