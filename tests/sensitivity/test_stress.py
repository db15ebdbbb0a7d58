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

    base = clean_scenario(load_scenario("ukb_cancer_mortality"), 1.0)
    shares = {}
    for strength in (0.0, 1.5):
        sc, _ = apply_mechanism(base, "test_negative_selection", strength, None)
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
