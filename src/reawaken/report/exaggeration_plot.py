"""The design-analysis figure: exaggeration ratio, power and type S rate against the true ratio
(Gelman & Carlin 2014; the numbers come from :mod:`reawaken.power.design_analysis`)."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from ..inputs import require_columns, require_frame
from ..power.design_analysis import DesignAnalysis
from .figures import PUBLICATION_RC

FINE_TICKS = (0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.2, 1.5, 2.0, 2.5, 3.0)
MEDIUM_TICKS = (0.1, 0.2, 0.33, 0.5, 0.67, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0)
COARSE_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
COARSE_TICKS += (200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0)
MAX_DATA_TICKS = 6


def _log_ticks(values: np.ndarray, *, data_ticks: bool) -> np.ndarray:
    """The values themselves when few (and ``data_ticks``), else 3-6 round numbers spanning them."""
    values = np.unique(values[np.isfinite(values)])
    if data_ticks and values.size <= MAX_DATA_TICKS:
        return values
    lo, hi = values.min(), values.max()
    inside = values[[0, -1]]
    for candidates in (FINE_TICKS, MEDIUM_TICKS, COARSE_TICKS):
        nice = np.array(candidates)
        inside = nice[(nice >= lo * (1 - 1e-9)) & (nice <= hi * (1 + 1e-9))]
        spans = inside.size > 0 and inside.min() <= lo * 2.5 and inside.max() >= hi / 2.5
        if 3 <= inside.size <= MAX_DATA_TICKS and spans:
            return inside
    return inside if inside.size >= 2 else values[[0, -1]]


def _log_axis(axis, values: np.ndarray, *, data_ticks: bool) -> None:
    """Plain-number labels at :func:`_log_ticks` on a log axis, no minor ticks."""
    axis.set_major_locator(FixedLocator(_log_ticks(values, data_ticks=data_ticks)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def plot_exaggeration(
    result_or_table: DesignAnalysis | pd.DataFrame,
    *,
    reported: float | None = None,
    title: str | None = None,
) -> Figure:
    """Exaggeration ratio (top) and power with type S rate (bottom) against the true ratio.

    Parameters
    ----------
    result_or_table : DesignAnalysis or DataFrame
        A result of :func:`design_analysis` or a table with ``true_ratio, power, exaggeration``
        (``type_s`` and ``exaggeration_sim`` / ``exaggeration_sim_mcse`` are drawn if present).
    reported : float, optional
        Reported ratio to mark by a vertical line; defaults to the result's ``estimate``.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels sharing a log-scaled ratio axis, built under ``PUBLICATION_RC``; simulated
        exaggeration ratios are shown as points with +-1.96 Monte Carlo SE bars.
    """
    table, alpha, reported = _exaggeration_input(result_or_table, reported)
    t = table.sort_values("true_ratio", kind="stable")
    x = t["true_ratio"].to_numpy(float)
    with mpl.rc_context(PUBLICATION_RC):
        fig = Figure(figsize=(4.8, 5.0), dpi=PUBLICATION_RC["savefig.dpi"], layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True)
        _draw_exaggeration(top, t, x)
        _draw_power(bottom, t, x, alpha)
        if reported is not None:
            _mark_reported(top, bottom, reported)
        _log_axis(bottom.xaxis, x, data_ticks=True)
        if title:
            fig.suptitle(title)
    return fig


def _exaggeration_input(
    result_or_table: DesignAnalysis | pd.DataFrame, reported: float | None
) -> tuple[pd.DataFrame, float | None, float | None]:
    """The table with the needed columns, the test size if known, and the ratio to mark."""
    where = "plot_exaggeration"
    alpha = None
    if isinstance(result_or_table, DesignAnalysis):
        table = result_or_table.table
        alpha = result_or_table.alpha
        if reported is None:
            reported = result_or_table.estimate
    else:
        table = require_frame(result_or_table, where)
    require_columns(table, ["true_ratio", "power", "exaggeration"], where)
    return table, alpha, reported


def _draw_exaggeration(ax: Axes, t: pd.DataFrame, x: np.ndarray) -> None:
    """Top panel: exact exaggeration ratios, simulated ones with +-1.96 MCSE bars, the line at 1."""
    ax.plot(x, t["exaggeration"], marker="o", ms=3.5, lw=1.4, color="C0", label="exact")
    if "exaggeration_sim" in t.columns and np.isfinite(t["exaggeration_sim"]).any():
        err = 1.96 * t["exaggeration_sim_mcse"] if "exaggeration_sim_mcse" in t else None
        ax.errorbar(
            x,
            t["exaggeration_sim"],
            yerr=err,
            ls="none",
            marker="x",
            ms=4,
            color="C3",
            label="simulated",
        )
        ax.legend(frameon=False, loc="best")
    ax.axhline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xscale("log")
    _log_axis(ax.yaxis, np.append(t["exaggeration"].to_numpy(float), 1.0), data_ticks=False)
    ax.set_ylabel("Exaggeration ratio (type M)")


def _draw_power(ax: Axes, t: pd.DataFrame, x: np.ndarray, alpha: float | None) -> None:
    """Bottom panel: power, the type S error rate if given, and the test size if known."""
    ax.plot(x, t["power"], marker="o", ms=3.5, lw=1.4, color="C0", label="power")
    if "type_s" in t.columns:
        ax.plot(x, t["type_s"], marker="s", ms=3, lw=1.2, color="C1", label="type S error rate")
    if alpha is not None:
        ax.axhline(alpha, color="0.6", lw=0.8, ls=":", label=f"alpha = {alpha:g}")
    ax.set_ylim(0.0, 1.02)
    ax.set_ylabel("Probability")
    ax.set_xlabel("Assumed true ratio (log scale)")
    ax.legend(frameon=False, loc="best")


def _mark_reported(top: Axes, bottom: Axes, reported: float) -> None:
    """A dashed vertical line at the reported ratio in both panels, labelled in the top one."""
    for ax in (top, bottom):
        ax.axvline(reported, color="0.3", lw=1.0, ls="--")
    top.annotate(
        f"reported {reported:g}",
        (reported, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(3, -3),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=8,
    )
