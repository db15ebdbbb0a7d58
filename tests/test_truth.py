"""Defined truths: stored for both presets x their analyses x {preset effect, null, reduced,
reduced null}, current (fingerprints match the presets), reproducible by an independent reduced
recomputation, and used by run_replicates; scenario versions checked against closed forms."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from reawaken import truth as tr
from reawaken.cli import main
from reawaken.errors import AnalysisError
from reawaken.evaluate import run_replicates
from reawaken.methods_check import EXEMPT
from reawaken.scenario import list_presets, load_scenario
from reawaken.simulate.effects import EffectProfile
from reawaken.simulate.hazards import Exponential, Weibull
from reawaken.study.analyses import STUDY_MEASURES, logistic_or_test_negative

#: A correct recomputation with K cohorts differs from the stored truth by more than
#: t_{K-1}(1 - 0.5e-4) combined MCSEs with probability < 1e-4.
FAIL_PROBABILITY = 1e-4


def _stored(name: str):
    return tr.read_truths(tr.truths_path(name))


@pytest.mark.parametrize("name", list_presets())
def test_stored_truths_are_current(name):
    """Every applicable analysis x version has a stored truth whose fingerprint is the current
    preset's; a stale one fails naming the command that recomputes it."""
    problems = tr.stale_truths(name)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", list_presets())
def test_stored_truths_are_complete_and_precise(name):
    """Stored rows: the right measure, the causal effect of the version, and an MCSE at most
    4% of the SE of one cohort of the version's size (SE_m * sqrt(m) / 25)."""
    table = _stored(name)
    preset = load_scenario(name)
    for r in table.itertuples():
        assert r.measure == STUDY_MEASURES[r.analysis]
        assert r.failed <= 0.05 * r.cohorts
        assert r.mcse <= r.mean_se * math.sqrt(r.multiplier) / 25, r
        _, text = tr.causal_effect(tr.scenario_version(preset, r.version))
        assert r.causal_effect == text
        if r.version.endswith("null"):
            assert r.causal_log_hr == 0.0


@pytest.mark.parametrize("name", list_presets())
def test_null_truths(name):
    """Under the null (full and reduced size) the null-preserving analyses have truth 0 within
    3.9 MCSE; the analyses the methods check exempts as not null-preserving do not, and the
    published-style matched OR errs upwards."""
    table = _stored(name)
    null = table[table["version"].isin(["null", "reduced-null"])]
    assert len(null) == 2 * len(tr.applicable_analyses(load_scenario(name)))
    for r in null.itertuples():
        z = r.log_truth / r.mcse
        assert (abs(z) > 3.9) == (r.analysis in EXEMPT), r
        if r.analysis == "matched_or":
            assert z > 3.9, r


def test_ukb_or_design_has_its_own_truth():
    """The UK Biobank design's truth is an OR truth, not the simulator's windowed HR."""
    sc = load_scenario("ukb_cancer_mortality")
    found = tr.stored_truth(sc, "matched_or")
    assert found is not None and found.measure == "OR"
    assert math.isnan(found.causal_log_hr)
    assert found.causal_effect == sc.effect.describe()


# reduced recomputation: independent seed, a few cohorts, cheap cells
CELLS = [
    ("ukb_cancer_mortality", "preset", "test_negative_logistic", 40, 2),
    ("flatiron_lung_mets", "reduced", "time_varying_cox", 40, 2),
    ("ukb_cancer_mortality", "reduced-null", "matched_or", 30, 2),
]


@pytest.mark.parametrize(("name", "version", "analysis", "cohorts", "multiplier"), CELLS)
def test_reduced_recomputation_agrees(name, version, analysis, cohorts, multiplier):
    """K cohorts of m x n persons from another seed: |new - stored| <= t quantile x
    sqrt(MCSE_new^2 + MCSE_stored^2), a bound a correct truth exceeds with probability < 1e-4.
    (Smaller m moves the truth by the O(1/(m n)) small-sample bias only, far below the MCSE.)"""
    sc = tr.scenario_version(load_scenario(name), version)
    stored = tr.stored_truth(sc, analysis)
    new = tr.compute_truth(
        sc,
        analysis,
        version=version,
        cohorts=cohorts,
        multiplier=multiplier,
        seed=tr.TRUTH_SEED + 1,
        executor="serial",
    )
    bound = stats.t.isf(FAIL_PROBABILITY / 2, cohorts - 1)
    z = (new.log_truth - stored.log_truth) / math.hypot(new.mcse, stored.mcse)
    assert abs(z) <= bound, (new, stored)
    assert new.fingerprint == stored.fingerprint


def test_run_replicates_uses_the_defined_truth():
    """A preset (or its null) run without true_effect is judged against its stored truth with
    its MCSE; another size has none; an explicit true_effect wins."""
    for version in ("preset", "null"):
        sc = tr.scenario_version(load_scenario("ukb_cancer_mortality"), version)
        table = run_replicates(sc, logistic_or_test_negative, reps=2, seed=1, executor="serial")
        stored = tr.stored_truth(sc, "test_negative_logistic")
        assert table.true_log_effect == stored.log_truth
        assert table.true_log_effect_mcse == stored.mcse
        assert (table.data["true_log_effect"] == stored.log_truth).all()
        exact = table.performance(true_log_effect=stored.log_truth)  # truth taken as exact
        assert table.performance().mcse("bias") == pytest.approx(
            math.hypot(exact.mcse("bias"), stored.mcse), rel=1e-12
        )
    other = run_replicates(sc, logistic_or_test_negative, reps=2, seed=1, executor="serial", n=900)
    assert math.isnan(other.true_log_effect)
    given = run_replicates(
        sc, logistic_or_test_negative, reps=2, seed=1, executor="serial", true_effect=1.5
    )
    assert given.true_log_effect == math.log(1.5) and given.true_log_effect_mcse == 0.0


def test_stale_truth_is_reported(monkeypatch):
    """A preset changed after its truths were stored: no stored truth, and the check names the
    command to run."""
    sc = load_scenario("flatiron_lung_mets")
    changed = sc.with_effect(EffectProfile.constant(2.0))
    assert tr.stored_truth(changed, "time_varying_cox") is None
    assert tr.stored_truth(sc.with_n(sc.n + 1), "time_varying_cox") is None
    monkeypatch.setattr("reawaken.scenario.load_scenario", lambda name: changed)
    problems = tr.stale_truths("flatiron_lung_mets")
    assert problems and all(
        "reawaken truth --scenario flatiron_lung_mets --write" in p for p in problems
    )
    assert any("(preset) is stale" in p for p in problems)


def test_fingerprint_ignores_labels_only():
    sc = load_scenario("ukb_cancer_mortality")
    relabelled = replace(sc, name="copy", description="x", calibration=None, finding=None)
    assert tr.scenario_fingerprint(relabelled) == tr.scenario_fingerprint(sc)
    assert tr.scenario_fingerprint(sc.with_n(100)) != tr.scenario_fingerprint(sc)


def test_null_and_reduced_versions():
    sc = load_scenario("ukb_cancer_mortality")
    null = tr.null_scenario(sc)
    assert null.effect.window_start_days == sc.effect.window_start_days
    assert set(null.effect.hazard_ratios) == {1.0}
    assert null.death_after_infection == sc.death_after_infection
    assert tr.causal_effect(null) == (0.0, "constant HR 1")
    red = tr.scenario_version(sc, "reduced-null")
    assert red.n == round(sc.n / tr.REDUCTION) and red.name == "ukb_cancer_mortality:reduced-null"
    assert red.outcome.baseline.factor == pytest.approx(sc.n / red.n)
    assert set(red.effect.hazard_ratios) == {1.0}
    assert tr.applicable_analyses(sc) == ("matched_or", "matched_cox", "test_negative_logistic")
    assert tr.applicable_analyses(load_scenario("flatiron_lung_mets")) == (
        "time_varying_cox",
        "matched_cox",
    )
    with pytest.raises(AnalysisError, match="fix"):
        tr.scenario_version(sc, "bogus")
    with pytest.raises(AnalysisError, match="fix"):
        tr.reduced_scenario(sc, sc.n + 1)


def test_scaled_baseline_closed_forms():
    """c x Weibull(k, s) is Weibull(k, s c^(-1/k)); c x Exponential(r) is Exponential(c r)."""
    t = np.array([0.0, 1.0, 30.0, 400.0, 2000.0])
    w = tr.ScaledBaseline(Weibull(0.9, 5000.0), 6.0)
    ref = Weibull(0.9, 5000.0 * 6.0 ** (-1 / 0.9))
    np.testing.assert_allclose(w.cumulative(t), ref.cumulative(t), rtol=1e-12)
    np.testing.assert_allclose(w.hazard(t[1:]), ref.hazard(t[1:]), rtol=1e-12)
    h = np.array([0.0, 0.01, 0.5, 3.0])
    np.testing.assert_allclose(w.inverse_cumulative(h), ref.inverse_cumulative(h), rtol=1e-12)
    e = tr.ScaledBaseline(Exponential(0.002), 3.0)
    np.testing.assert_allclose(e.cumulative(t), Exponential(0.006).cumulative(t), rtol=1e-15)


def test_truth_cli(tmp_path, capsys):
    assert main(["truth", "--scenario", "flatiron_lung_mets", "--check"]) == 0
    capsys.readouterr()
    out = tmp_path / "t.json"
    args = ["truth", "--scenario", "ukb_cancer_mortality", "--versions", "reduced"]
    args += ["--analyses", "test_negative_logistic", "--cohorts", "3", "--multiplier", "1"]
    args += ["--executor", "serial", "--no-progress", "--json", "--out", str(out)]
    assert main(args) == 0
    payload = json.loads(capsys.readouterr().out)
    (row,) = payload["truths"]
    assert row["cohorts"] == 3 and row["stored_log_truth"] is not None
    assert tr.read_truths(out)["analysis"].tolist() == ["test_negative_logistic"]
    assert main(["truth", "--scenario", "ukb_cancer_mortality", "--analyses", "nope"]) == 2
    assert "fix" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["truth", "--help"])
