"""Generic power curve: lines per group, MCSE bars, target line, saving.

(Named test_power_plots.py, not test_plots.py: tests/report/test_plots.py already holds that
module name and the test folders are not packages.)
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import ErrorbarContainer

from reawaken.errors import AnalysisError
from reawaken.power.analytic import schoenfeld
from reawaken.report.figures import PUBLICATION_RC, save_figure
from reawaken.report.power_plots import plot_power_curve

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    rows = []
    for share in (0.5, 0.2):
        for events in range(50, 601, 50):
            power = schoenfeld(events=events, hr=1.44, exposed_share=share).power
            mcse = np.sqrt(power * (1 - power) / 400)
            rows.append({"events": events, "power": power, "mcse": mcse, "design": f"p = {share}"})
    return pd.DataFrame(rows)


def test_power_vs_events_with_groups_mcse_and_target(grid, tmp_path):
    fig = plot_power_curve(
        grid, x="events", group="design", mcse="mcse", xlabel="Events", title="HR 1.44"
    )
    (ax,) = fig.axes
    assert ax.get_xlabel() == "Events" and ax.get_ylabel() == "Power"
    assert ax.get_title() == "HR 1.44"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["p = 0.5", "p = 0.2", "target 0.8"]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 2
    target = [ln for ln in ax.get_lines() if list(ln.get_ydata()) == [0.8, 0.8]]
    assert target
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.arange(50, 601, 50))
    assert ax.get_ylim() == (0.0, 1.02)
    with matplotlib.rc_context(PUBLICATION_RC):
        paths = save_figure(fig, tmp_path / "power_curve")
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths)


def test_power_vs_hr_on_a_log_axis_without_groups():
    hrs = np.geomspace(1.1, 2.5, 10)
    table = pd.DataFrame({"hr": hrs, "power": [schoenfeld(events=200, hr=h).power for h in hrs]})
    fig = plot_power_curve(table, x="hr", target=None, xlabel="Hazard ratio", logx=True)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert ax.get_legend() is None
    assert len(ax.get_lines()) == 1


def test_bad_inputs_raise(grid):
    with pytest.raises(AnalysisError, match="unknown column"):
        plot_power_curve(grid, x="persons", xlabel="Persons")
    with pytest.raises(AnalysisError, match="log axis"):
        plot_power_curve(grid.assign(events=0), x="events", xlabel="Events", logx=True)
    with pytest.raises(AnalysisError, match="numeric"):
        plot_power_curve(grid, x="design", xlabel="Design")
    with pytest.raises(AnalysisError, match="negative"):
        plot_power_curve(grid.assign(mcse=-1.0), x="events", mcse="mcse", xlabel="Events")
