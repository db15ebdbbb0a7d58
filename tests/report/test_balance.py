"""Love plot: renders from a MatchReport and saves as PNG and SVG."""

from __future__ import annotations

import numpy as np
import pytest

from reawaken.design.matching import match_exposure_density
from reawaken.errors import AnalysisError
from reawaken.report.balance import love_plot
from reawaken.report.figures import save_figure
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort


@pytest.fixture(scope="module")
def report():
    cohort = simulate_cohort(
        load_scenario("flatiron_lung_mets"), np.random.default_rng(4), n=3000
    ).data
    matched = match_exposure_density(
        cohort, rng=np.random.default_rng(1), controls=2, exact=["stage"], caliper={"age": 2}
    )
    return matched.report


def test_love_plot_renders_and_saves(report, tmp_path):
    fig = love_plot(report, threshold=0.1)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert sorted(labels) == sorted(report.balance["covariate"])
    # largest imbalance before matching on top
    top = report.balance.loc[report.balance["smd_before"].abs().idxmax(), "covariate"]
    assert labels[-1] == top
    assert any(np.allclose(line.get_xdata(), 0.1) for line in ax.get_lines())
    paths = save_figure(fig, tmp_path / "love")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("threshold", [0, -0.1, float("nan"), True])
def test_love_plot_bad_threshold(report, threshold):
    with pytest.raises(AnalysisError, match="threshold"):
        love_plot(report, threshold=threshold)


def test_love_plot_needs_a_report():
    with pytest.raises(AnalysisError, match="MatchReport"):
        love_plot(object())
