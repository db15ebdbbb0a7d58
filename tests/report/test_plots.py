"""KM / cumulative-incidence figures: at-risk table content, saving, byte-stable output."""

from __future__ import annotations

from dataclasses import replace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from reawaken.analysis.km import kaplan_meier
from reawaken.errors import AnalysisError
from reawaken.report.figures import PUBLICATION_RC, save_figure
from reawaken.report.plots import AT_RISK_AXES_LABEL, plot_curves_with_at_risk, plot_kaplan_meier

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def km():
    rng = np.random.default_rng(11)
    n = 120
    arm = np.repeat(["exposed", "unexposed"], n // 2)
    t = np.ceil(rng.exponential(np.where(arm == "exposed", 200, 400))).astype(int)
    c = rng.integers(100, 700, n)
    df = pd.DataFrame({"days": np.minimum(t, c), "event": (t <= c).astype(int), "arm": arm})
    return kaplan_meier(df, duration="days", event="event", group="arm")


def _table_axes(fig):
    (ax,) = [a for a in fig.axes if a.get_label() == AT_RISK_AXES_LABEL]
    return ax


def test_at_risk_table_shows_the_numbers(km):
    fig = plot_kaplan_meier(km, title="test")
    ax = _table_axes(fig)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["exposed", "unexposed"]
    shown = sorted(
        (round(float(t.get_position()[0]), 6), int(t.get_position()[1]), t.get_text())
        for t in ax.texts
    )
    groups = {"exposed": 0, "unexposed": 1}
    expected = sorted(
        (round(float(r.time), 6), groups[r.group], f"{r.n_at_risk:,}")
        for r in km.at_risk.itertuples()
    )
    assert shown == expected
    main = next(a for a in fig.axes if a is not ax)
    np.testing.assert_allclose(main.get_xticks(), np.sort(km.at_risk["time"].unique()))
    assert main.get_xlabel() == "Days since index"
    assert main.get_ylabel() == "Survival probability"
    assert main.get_title() == "test"
    assert [t.get_text() for t in main.get_legend().get_texts()] == ["exposed", "unexposed"]


def test_save_png_and_svg_and_bytes_are_stable(km, tmp_path):
    # save_figure reads svg.hashsalt from rcParams at save time, so keep PUBLICATION_RC active
    with matplotlib.rc_context(PUBLICATION_RC):
        first = save_figure(plot_kaplan_meier(km), tmp_path / "a")
        second = save_figure(plot_kaplan_meier(km), tmp_path / "b")
    assert [p.suffix for p in first] == [".png", ".svg"]
    png, svg = (p.read_bytes() for p in first)
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert b"<svg" in svg and b"Number at risk" in svg
    assert svg == second[1].read_bytes()
    assert png == second[0].read_bytes()


def test_generic_cumulative_incidence_curves():
    curves = pd.DataFrame(
        {
            "group": ["a"] * 3 + ["b"] * 3,
            "time": [0.0, 10, 20] * 2,
            "cif": [0.0, 0.05, 0.1, 0.0, 0.02, 0.04],
        }
    )
    at_risk = pd.DataFrame(
        {"group": ["a", "a", "b", "b"], "time": [0.0, 20] * 2, "n_at_risk": [1000, 900, 50, 45]}
    )
    fig = plot_curves_with_at_risk(
        curves, at_risk, estimate="cif", ylabel="Cumulative incidence", ci=False, step=False
    )
    texts = sorted(t.get_text() for t in _table_axes(fig).texts)
    assert texts == sorted(["1,000", "900", "50", "45"])
    main = next(a for a in fig.axes if a.get_label() != AT_RISK_AXES_LABEL)
    assert main.get_ylim()[1] == pytest.approx(0.11)


def test_single_curve_has_no_legend():
    df = pd.DataFrame({"t": [1, 2, 3, 4, 5], "e": [1, 0, 1, 1, 0]})
    fig = plot_kaplan_meier(kaplan_meier(df, duration="t", event="e"))
    main = next(a for a in fig.axes if a.get_label() != AT_RISK_AXES_LABEL)
    assert main.get_legend() is None


def test_bad_plot_input(km):
    with pytest.raises(AnalysisError, match=r"unknown column.*'cif'"):
        plot_curves_with_at_risk(km.table, km.at_risk, estimate="cif", ylabel="y")
    with pytest.raises(AnalysisError, match=r"no rows for group.*'unexposed'"):
        plot_kaplan_meier(replace(km, at_risk=km.at_risk.iloc[:2]))
