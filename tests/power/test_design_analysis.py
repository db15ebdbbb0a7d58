"""Design analysis (Gelman & Carlin 2014): worked example, simulation check, reported CIs, plot."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
from scipy import stats

from reawaken import load_finding
from reawaken.errors import AnalysisError
from reawaken.power.analytic import schoenfeld
from reawaken.power.design_analysis import (
    ADDITIVE_COLUMNS,
    TABLE_COLUMNS,
    DesignAnalysis,
    design_analysis,
    design_analysis_additive,
    design_analysis_of_finding,
)
from reawaken.report.exaggeration_plot import plot_exaggeration
from reawaken.report.figures import PUBLICATION_RC, save_figure

matplotlib.use("Agg")
Z975 = stats.norm.ppf(0.975)


def test_gelman_carlin_beauty_and_sex_ratio():
    # True difference 0.1 percentage points, SE 3.3 (Gelman & Carlin 2014): power 0.05 and an
    # exaggeration ratio of about 77; exactly, P(wrong sign | significant) = 0.46 here.
    row = design_analysis_additive(0.1, 3.3).iloc[0]
    assert row["power"] == pytest.approx(0.05, abs=0.001)
    assert row["type_s"] == pytest.approx(0.46, abs=0.01)
    assert row["exaggeration"] == pytest.approx(77, abs=1)
    # at a true difference of 0.3 the type S error rate is the "40%" of the paper's summary
    row3 = design_analysis_additive(0.3, 3.3).iloc[0]
    assert row3["power"] == pytest.approx(0.05, abs=0.002)
    assert row3["type_s"] == pytest.approx(0.40, abs=0.01)
    assert row3["exaggeration"] == pytest.approx(25.7, abs=0.1)


def test_additive_table_columns_and_formulas():
    effects = np.array([0.1, -0.5, 2.0, 8.0])
    t = design_analysis_additive(effects, 2.0, alpha=0.1)
    assert tuple(t.columns) == ADDITIVE_COLUMNS
    z = stats.norm.ppf(0.95)
    m = np.abs(effects) / 2.0
    power = stats.norm.cdf(-z - m) + 1 - stats.norm.cdf(z - m)
    np.testing.assert_allclose(t["power"], power, rtol=1e-12)
    np.testing.assert_allclose(t["type_s"], stats.norm.cdf(-z - m) / power, rtol=1e-12)
    assert t["exaggeration_sim"].isna().all() and t["exaggeration_sim_mcse"].isna().all()
    assert (np.sign(t["expected_significant_estimate"]) == np.sign(effects)).all()


@pytest.mark.parametrize("effect", [0.1, 1.0, 3.0, 10.0])
def test_exaggeration_equals_truncated_normal_moments(effect):
    se = 2.5
    row = design_analysis_additive(effect, se).iloc[0]
    c = Z975 * se
    # |est| over the two rejection regions: upper tail E[X | X > c], lower tail E[-X | X < -c]
    up = stats.truncnorm((c - effect) / se, np.inf, loc=effect, scale=se)
    low = stats.truncnorm(-np.inf, (-c - effect) / se, loc=effect, scale=se)
    p_up = stats.norm.sf(c, effect, se)
    p_low = stats.norm.cdf(-c, effect, se)
    mean_abs = (p_up * up.mean() - p_low * low.mean()) / (p_up + p_low)
    assert row["exaggeration"] == pytest.approx(mean_abs / effect, rel=1e-10)


def test_closed_form_matches_simulation_within_4_mcse():
    effects = [0.1, 0.3, 1.0, 4.0, 8.0]
    t = design_analysis_additive(effects, 3.3, n_sims=1_000_000, rng=np.random.default_rng(2014))
    diff = (t["exaggeration_sim"] - t["exaggeration"]).abs()
    assert (diff < 4 * t["exaggeration_sim_mcse"]).all(), t
    assert (t["exaggeration_sim_mcse"] > 0).all()


def test_simulation_is_reproducible_with_the_seed():
    kw = {"true_effects": (1.2, 1.44), "ci": (1.01, 2.05), "n_sims": 10_000}
    a = design_analysis(**kw, rng=np.random.default_rng(5)).table
    b = design_analysis(**kw, rng=np.random.default_rng(5)).table
    assert a.equals(b)


@pytest.mark.parametrize(
    ("name", "se", "power"),
    [("flatiron_lung_mets", 0.181, 0.52), ("ukb_cancer_mortality", 0.249, 0.70)],
)
def test_reported_findings_imply_se_and_power(name, se, power):
    f = load_finding(name)
    res = design_analysis_of_finding(f, true_effects=(1.1, 1.2, f.estimate))
    assert isinstance(res, DesignAnalysis)
    assert res.se == pytest.approx(se, abs=5e-4)
    assert res.se == pytest.approx(f.implied_se, rel=1e-12)
    assert res.information == pytest.approx(1 / f.implied_se**2, rel=1e-12)
    assert tuple(res.table.columns) == TABLE_COLUMNS
    at_reported = res.table.iloc[-1]
    assert at_reported["power"] == pytest.approx(power, abs=0.01)
    # Schoenfeld's one-tail power differs only by the wrong-direction rejections
    delta = math.log(f.estimate) / res.se
    one_tail = schoenfeld(events=res.information / 0.25, hr=f.estimate).power
    assert at_reported["power"] - one_tail == pytest.approx(stats.norm.cdf(-Z975 - delta))
    # a significant estimate exaggerates a true effect of the reported size
    assert at_reported["expected_significant_ratio"] > f.estimate
    assert res.estimate == f.estimate and res.ci == (f.ci_low, f.ci_high)


def test_power_monotone_and_errors_shrink_with_the_true_effect():
    ratios = np.geomspace(1.02, 3.0, 25)
    t = design_analysis(ci=(1.01, 2.05), true_effects=ratios).table
    assert (np.diff(t["power"]) > 0).all()
    assert (np.diff(t["type_s"]) < 0).all()
    assert (np.diff(t["exaggeration"]) < 0).all()
    assert (t["exaggeration"] > 1).all()


def test_ratios_below_one_mirror_those_above():
    up = design_analysis(se=0.2, true_effects=(1.3,)).table.iloc[0]
    down = design_analysis(se=0.2, true_effects=(1 / 1.3,)).table.iloc[0]
    for col in ("power", "type_s", "exaggeration"):
        assert up[col] == pytest.approx(down[col], rel=1e-12)
    assert up["expected_significant_ratio"] * down["expected_significant_ratio"] == pytest.approx(1)


def test_summary_lists_every_true_ratio():
    res = design_analysis(
        estimate=1.44,
        ci=(1.01, 2.05),
        true_effects=(1.1, 1.44),
        n_sims=2000,
        rng=np.random.default_rng(1),
    )
    text = res.summary()
    assert "SE(log ratio) 0.181" in text and "reported 1.44" in text
    assert "true 1.1:" in text and "true 1.44:" in text and "simulated" in text


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"true_effects": (1.2,)}, "exactly one of ci"),
        ({"ci": (1.0, 2.0), "se": 0.2, "true_effects": (1.2,)}, "exactly one of ci"),
        ({"ci": (2.0, 1.0), "true_effects": (1.2,)}, "low < high"),
        ({"ci": (1.1, 2.0), "estimate": 3.0, "true_effects": (1.2,)}, "outside its CI"),
        ({"se": 0.2, "true_effects": (1.0, 1.2)}, "ratio of 1"),
        ({"se": 0.2, "true_effects": (-1.2,)}, "positive ratios"),
        ({"se": 0.2, "true_effects": (1.2,), "n_sims": 100}, "rng="),
        ({"se": 0.2, "true_effects": (1.2,), "alpha": 1.5}, "alpha"),
        ({"se": -0.2, "true_effects": (1.2,)}, "se"),
    ],
)
def test_bad_inputs_raise(kwargs, match):
    with pytest.raises(AnalysisError, match=match) as info:
        design_analysis(**kwargs)
    assert "fix:" in str(info.value)


def test_additive_rejects_a_zero_effect():
    with pytest.raises(AnalysisError, match="non-zero"):
        design_analysis_additive([0.0, 1.0], 1.0)


def test_plot_renders_and_saves(tmp_path):
    res = design_analysis(
        estimate=1.44,
        ci=(1.01, 2.05),
        true_effects=np.geomspace(1.05, 2.5, 12),
        n_sims=5000,
        rng=np.random.default_rng(3),
    )
    fig = plot_exaggeration(res, title="Flatiron")
    top, bottom = fig.axes
    assert top.get_yscale() == "log" and bottom.get_xscale() == "log"
    assert top.get_ylabel() == "Exaggeration ratio (type M)"
    assert bottom.get_ylabel() == "Probability"
    reported = [ln for ln in bottom.get_lines() if list(ln.get_xdata()) == [1.44, 1.44]]
    assert reported  # the reported estimate is marked
    labels = [t.get_text() for t in bottom.get_legend().get_texts()]
    assert labels == ["power", "type S error rate", "alpha = 0.05"]
    with matplotlib.rc_context(PUBLICATION_RC):
        paths = save_figure(fig, tmp_path / "exaggeration")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_plot_from_a_table():
    res = design_analysis(ci=(1.14, 3.02), true_effects=(1.1, 1.2, 1.85))
    fig = plot_exaggeration(res.table, reported=1.85)
    top, _ = fig.axes
    assert top.get_legend() is None  # no simulation column values to show
    with pytest.raises(AnalysisError, match="exaggeration"):
        plot_exaggeration(res.table.drop(columns="exaggeration"))
