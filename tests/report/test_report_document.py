"""The report's pieces: forest bars (closed form of a median of monotone limits), reproduced
E-values (closed form, VanderWeele & Ding 2017), the stress chart as small multiples, a zoomed
survival axis that says so and states the gap (checked against lifelines), and the tables and
documents of a small real report: every cell filled, human headers, assumed inputs marked,
code spans rendered."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from reawaken.analysis.km import kaplan_meier
from reawaken.certificate import _evalue_row
from reawaken.findings import load_finding
from reawaken.report import captions
from reawaken.report.forest import forest_figure, forest_rows
from reawaken.report.plots import plot_kaplan_meier, zoomed_bottom
from reawaken.report.stress_plots import plot_stress
from reawaken.report.tables import (
    _note,
    design_table,
    inference_table,
    overview_table,
    reproduction_table,
    tipping_table,
)

Z = 1.959963984540054


def _replicates(log_estimates, se=0.25, se_model=0.2, variance="shared-members"):
    n = len(log_estimates)
    return pd.DataFrame(
        {
            "log_estimate": log_estimates,
            "se": np.full(n, se),
            "se_model": np.full(n, se_model),
            "variance": [variance] * n,
            "error": [None] * n,
        }
    )


def test_forest_rows_are_medians_of_the_limits():
    """With one SE for all replicates, the median of exp(log est -+ z SE) is
    exp(median log est -+ z SE) exactly (a monotone map keeps the median)."""
    ukb = load_finding("ukb_cancer_mortality")
    logs = np.log(1.8) + np.linspace(-0.4, 0.4, 9)
    rows = forest_rows(ukb, _replicates(logs))
    assert list(rows["label"]) == [
        "reported",
        "reproduced, model SE (as printed)",
        "reproduced, shared-members SE (valid)",
    ]
    assert tuple(rows.iloc[0][["estimate", "ci_low", "ci_high"]]) == (1.85, 1.14, 3.02)
    for i, se in ((1, 0.2), (2, 0.25)):
        expected = [1.8, 1.8 * math.exp(-Z * se), 1.8 * math.exp(Z * se)]
        got = rows.iloc[i][["estimate", "ci_low", "ci_high"]].to_numpy(float)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert not rows["assumed"].any()


def test_forest_marks_an_assumed_ci_and_skips_a_second_model_se():
    flatiron = load_finding("flatiron_lung_mets")
    rows = forest_rows(flatiron, _replicates(np.log([1.3, 1.4, 1.5]), variance="model"))
    assert list(rows["label"]) == ["reported, CI assumed", "reproduced, model SE (as printed)"]
    assert list(rows["assumed"]) == [True, False]


def test_forest_figure_has_one_panel_per_measure_with_numbers():
    table = pd.concat(
        [
            forest_rows(load_finding(name), _replicates(np.log([1.5, 1.6, 1.7])))
            for name in ("flatiron_lung_mets", "ukb_cancer_mortality")
        ]
    )
    fig = forest_figure(table)
    assert len(fig.axes) == 2
    hr, odds = fig.axes
    assert hr.get_xlabel().startswith("hazard ratio (HR)")
    assert odds.get_xlabel().startswith("odds ratio (OR)")
    shown = [t.get_text() for ax in fig.axes for t in ax.texts]
    expected = [f"{r.estimate:.2f} ({r.ci_low:.2f}–{r.ci_high:.2f})" for r in table.itertuples()]
    assert shown == expected
    for ax in fig.axes:  # plain major ticks only: minor labels collided on short ranges
        assert len(ax.xaxis.get_minorticklocs()) == 0
        assert 2 <= len(ax.get_xticks()) <= 5


def test_reproduced_evalue_is_the_closed_form():
    """OR of a rare outcome: RR = OR and E = RR + sqrt(RR (RR - 1)) for the median estimate
    and for the median lower limit from the model SE."""
    ukb = load_finding("ukb_cancer_mortality")
    logs = np.log(2.0) + np.linspace(-0.3, 0.3, 7)
    row = _evalue_row(ukb, _replicates(logs, se_model=0.15), "model")
    low = 2.0 * math.exp(-Z * 0.15)
    e_point, e_ci = (v + math.sqrt(v * (v - 1)) for v in (2.0, low))
    assert row[2] == f"{e_point:.2f} / {e_ci:.2f} (median estimate and CI)"
    assert row[1] == "3.10 / 1.54" and row[5] == "design"


def _battery():
    rows = []
    for mech, strengths in (("immortal_time", (0, 0.5, 1)), ("detection", (0, 180, 365)),
                            ("effect_shape", (0, 0.5, 1))):
        for truth in (1.85, 1.0):
            for i, s in enumerate(strengths):
                rows.append({"mechanism": mech, "strength": s, "true_effect": truth,
                             "mean_log_estimate": math.log(truth) + 0.1 * i,
                             "mean_log_estimate_mcse": 0.05, "usable": i < 2,
                             "negative_control_estimate": 1.05})
    return pd.DataFrame(rows)


def test_stress_chart_is_small_multiples_with_meanings():
    fig = plot_stress(_battery(), reported=1.85, title="t")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 3 and len(fig.axes) == 4  # two columns, one empty cell hidden
    assert [ax.get_title(loc="left") for ax in panels] == [
        "Immortal time", "Detection after infection", "Transient effect"]
    assert "share of pre-exposure time" in panels[0].get_xlabel()
    for ax in panels:
        assert len(ax.get_yticks()) <= 5 and len(ax.yaxis.get_minorticklocs()) == 0
    hollow = [ln for ax in panels for ln in ax.get_lines() if ln.get_markerfacecolor() == "white"]
    assert len(hollow) == 6  # the unusable cell of each truth in each panel
    assert fig.get_size_inches()[0] <= 7.5  # readable when shown at page width


def test_zoomed_survival_axis_says_so_and_states_the_gap():
    rng = np.random.default_rng(3)
    n = 4000
    arm = np.repeat(["a", "b"], n // 2)
    t = rng.exponential(np.where(arm == "a", 40_000, 80_000))
    c = rng.uniform(200, 1000, n)
    df = pd.DataFrame({"time": np.minimum(t, c), "event": (t <= c).astype(int), "arm": arm})
    fig = plot_kaplan_meier(kaplan_meier(df, duration="time", event="event", group="arm"))
    bottom = zoomed_bottom(fig)
    assert bottom is not None and bottom > 0.5
    assert "axis zoomed: starts at" in fig.axes[0].get_ylabel()
    text = captions.curve_caption("km_one_cohort", fig, "death")
    end = min(df.loc[df["arm"] == g, "time"].max() for g in ("a", "b"))
    surv = {}
    for g in ("a", "b"):
        part = df[df["arm"] == g]
        fitter = KaplanMeierFitter().fit(part["time"], part["event"])
        surv[g] = float(fitter.survival_function_at_times(end).iloc[0])
    assert f"starts at {bottom:g}, not 0" in text
    assert f"{surv['a']:.3f} (a) vs {surv['b']:.3f} (b)" in text
    assert f"{100 * abs(surv['a'] - surv['b']):.1f} percentage points" in text


def test_tipping_note_cut_by_the_battery_ends_at_a_word():
    message = "AnalysisError: fit_cox: the model did not converge: monotone likelihood: a " + (
        "coefficient diverges (|coef| > 30); the coefficient is infinite and more words here")
    note = f"strength 0: 1 of 2 replicates failed or separated: {message[:120]}"
    assert _note(note).endswith("the…")
    assert _note("strength 0: 1 of 2 replicates failed or separated: short") .endswith("short")


@pytest.fixture(scope="module")
def tables(small_report):
    out = [overview_table(small_report.certificates)]
    for cert in small_report.certificates:
        out += [f(cert) for f in (reproduction_table, inference_table, design_table,
                                  tipping_table)]
    return out


def test_every_cell_is_filled_and_every_header_human(tables):
    for table in tables:
        assert len(table)
        cells = table.astype(str).to_numpy().ravel()
        assert all(c.strip() and c != "nan" for c in cells), table
        assert not any("_" in c for c in table.columns), table.columns
    assert all("_" not in b for b in tables[4]["bias"])  # mechanism names in words


def test_assumed_ci_is_marked_wherever_it_is_used(small_report):
    certs = {c.finding.name: c for c in small_report.certificates}
    uses_ci = ("95% CI", "CI width", "power at", "type M", "E-value")
    for name, assumed in (("flatiron_lung_mets", True), ("ukb_cancer_mortality", False)):
        rows = certs[name].rows
        used = rows[rows["quantity"].str.startswith(uses_ci)]
        assert len(used) == 5
        assert used["reported"].str.contains("assumed").all() == assumed
        assert not rows["reported"].str.contains("assumed").any() or assumed
        assert certs[name].forest["assumed"].any() == assumed
    page = (small_report.folder / "index.html").read_text(encoding="utf-8")
    assert page.count("Assumed input: the paper prints no CI") == 1


def test_documents_render_code_spans(small_report):
    page = (small_report.folder / "index.html").read_text(encoding="utf-8")
    markdown = (small_report.folder / "report.md").read_text(encoding="utf-8")
    assert "written by <code>reawaken calibrate --finding flatiron_lung_mets" in page
    assert "`" not in page
    assert "written by `reawaken calibrate --finding flatiron_lung_mets" in markdown
    assert markdown.count("](figures/") == page.count("<img ")


def test_one_cohort_is_introduced_with_its_own_estimate(small_report):
    for cert in small_report.certificates:
        est = cert.one_cohort
        text = captions.one_cohort_intro(cert)
        assert "single draw" in text
        assert f"{cert.finding.measure} {est.estimate:.2f} (95% CI {est.ci_low:.2f}–" in text
        assert f"median over {len(cert.replicates)} such cohorts" in text


def test_a_failed_one_cohort_analysis_says_why(small_report):
    cert = replace(small_report.certificates[0], one_cohort=None, one_cohort_note="no events")
    assert "could not be fitted to it (no events)" in captions.one_cohort_intro(cert)


def test_bad_input_says_what_and_how_to_fix(tmp_path):
    from reawaken.errors import AnalysisError, InputFileError
    from reawaken.report.document import write_report

    with pytest.raises(AnalysisError, match=r"forest_rows.*se_model"):
        forest_rows(load_finding("ukb_cancer_mortality"), pd.DataFrame({"log_estimate": [0.1]}))
    with pytest.raises(AnalysisError, match=r"forest_figure.*no rows"):
        forest_figure(pd.DataFrame(columns=["finding", "measure", "label", "estimate", "ci_low",
                                            "ci_high", "kind", "assumed"]))
    with pytest.raises(AnalysisError, match=r"plot_stress.*mean_log_estimate"):
        plot_stress(pd.DataFrame({"mechanism": ["x"], "strength": [0.0], "true_effect": [1.0]}),
                    reported=1.5)
    with pytest.raises(InputFileError, match="no certificate to report; fix:"):
        write_report([], tmp_path, seed=1, reps=1)
