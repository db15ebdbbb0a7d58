"""Survival and cumulative-incidence curves with an at-risk table under the axes.

The figures are built from tidy tables (``KaplanMeierResult.table`` / ``.at_risk`` or any table
with the same columns), so the numbers printed under the plot are the data, not re-derived here.
Save them with :func:`reawaken.report.figures.save_figure` (PNG and SVG).
"""

from __future__ import annotations

import textwrap

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..analysis.km import KaplanMeierResult
from ..errors import AnalysisError
from ..inputs import require_columns, require_frame
from .figures import PUBLICATION_RC

AT_RISK_AXES_LABEL = "at_risk"
CAPTION_AXES_LABEL = "caption"
CAPTION_WIDTH = 100  # characters per caption line


def _check_inputs(curves: pd.DataFrame, at_risk: pd.DataFrame, estimate: str, ci: bool) -> list:
    where = "plot_curves_with_at_risk"
    require_frame(curves, f"{where} (curves)")
    require_frame(at_risk, f"{where} (at_risk)")
    needed = ["group", "time", estimate] + (["ci_low", "ci_high"] if ci else [])
    require_columns(curves, needed, f"{where} (curves)")
    require_columns(at_risk, ["group", "time", "n_at_risk"], f"{where} (at_risk)")
    groups = list(pd.unique(curves["group"]))
    missing = [g for g in groups if g not in set(at_risk["group"])]
    if missing:
        raise AnalysisError(
            f"{where}: at_risk has no rows for group(s) {', '.join(map(repr, missing))}; fix: "
            "pass the at-risk table computed with the curves (e.g. KaplanMeierResult.at_risk)"
        )
    return groups


MAX_CENSOR_TICKS = 150


def _draw_at_risk(table_ax, at_risk: pd.DataFrame, groups: list) -> None:
    """One row per group (top to bottom in curve order), counts centred on their times."""
    for row, g in enumerate(groups):
        sub = at_risk[at_risk["group"] == g].sort_values("time")
        for t, n in zip(sub["time"], sub["n_at_risk"], strict=True):
            table_ax.text(
                t, row, f"{int(n):,}", ha="center", va="center", fontsize=8, color=f"C{row}"
            )
    table_ax.set_ylim(len(groups) - 0.5, -0.5)
    table_ax.set_yticks(range(len(groups)), [str(g) for g in groups])
    for row, label in enumerate(table_ax.get_yticklabels()):
        label.set_color(f"C{row}")
    table_ax.tick_params(axis="y", length=0, pad=18)  # keep labels clear of the first count
    table_ax.tick_params(axis="x", bottom=False, labelbottom=False)
    for spine in table_ax.spines.values():
        spine.set_visible(False)
    table_ax.set_title("Number at risk", loc="left", fontsize=8)


def plot_curves_with_at_risk(
    curves: pd.DataFrame,
    at_risk: pd.DataFrame,
    *,
    estimate: str = "survival",
    ylabel: str,
    xlabel: str = "Days since index",
    title: str | None = None,
    ci: bool = True,
    step: bool = True,
    censor_ticks: bool = True,
    caption: str | None = None,
) -> Figure:
    """Step curves per group with shaded CIs and a numbers-at-risk table aligned with the x ticks.

    Parameters
    ----------
    curves : DataFrame
        ``group, time, <estimate>`` and, when ``ci``, ``ci_low, ci_high``; one row per time per
        group, starting at time 0. An optional ``censored`` column (counts) draws censoring ticks.
        Missing CI values (e.g. where S(t) = 0) are drawn as a zero-width band.
    at_risk : DataFrame
        ``group, time, n_at_risk``; its times become the x ticks and the table columns.
    estimate : str
        Column plotted on the y axis (``"survival"``, ``"cif"``, ...).
    ylabel, xlabel, title : str
        Axis labels and optional title.
    ci : bool
        Shade the pointwise confidence band.
    step : bool
        Right-continuous step curves (``where="post"``); False joins the points by lines.
    censor_ticks : bool
        Mark times with censoring (when ``curves`` has a ``censored`` column) by ``|``.
    caption : str, optional
        Text under the at-risk table (wrapped), e.g. what the curves estimate.

    Returns
    -------
    matplotlib.figure.Figure
        A stand-alone figure (not registered with pyplot) using ``PUBLICATION_RC``; the at-risk
        table is the axes labelled ``"at_risk"``.
    """
    groups = _check_inputs(curves, at_risk, estimate, ci)
    ticks = np.sort(pd.unique(at_risk["time"].astype(float)))
    xmax = float(max(curves["time"].max(), ticks.max()))
    pad = 0.03 * xmax if xmax > 0 else 1.0
    drawstyle = "steps-post" if step else "default"
    with mpl.rc_context(PUBLICATION_RC):
        lines = textwrap.wrap(caption, CAPTION_WIDTH) if caption else []
        fig = Figure(
            figsize=(6.0, 3.8 + 0.25 * len(groups) + 0.14 * len(lines)),
            dpi=PUBLICATION_RC["savefig.dpi"],
            layout="constrained",
        )
        heights = [4.0, 0.3 + 0.28 * len(groups)] + ([0.16 * len(lines)] if lines else [])
        grid = fig.add_gridspec(len(heights), 1, height_ratios=heights)
        ax = fig.add_subplot(grid[0])
        table_ax = fig.add_subplot(grid[1], sharex=ax, label=AT_RISK_AXES_LABEL)
        ymax, ymin = 0.0, 1.0
        for i, g in enumerate(groups):
            c = curves[curves["group"] == g].sort_values("time", kind="stable")
            x, y = c["time"].to_numpy(float), c[estimate].to_numpy(float)
            color = f"C{i}"
            ax.plot(x, y, drawstyle=drawstyle, color=color, linewidth=1.4, label=str(g))
            ymax = max(ymax, float(np.nanmax(y)))
            ymin = min(ymin, float(np.nanmin(y)))
            if ci:
                low = np.where(np.isfinite(c["ci_low"]), c["ci_low"], y)
                high = np.where(np.isfinite(c["ci_high"]), c["ci_high"], y)
                ax.fill_between(
                    x, low, high, step="post" if step else None, color=color, alpha=0.18, lw=0
                )
                ymax = max(ymax, float(np.nanmax(high)))
                ymin = min(ymin, float(np.nanmin(low)))
            if censor_ticks and "censored" in c.columns:
                cens = c["censored"].to_numpy() > 0
                if cens.sum() <= MAX_CENSOR_TICKS:  # beyond that the ticks become a smear
                    ax.plot(x[cens], y[cens], ls="none", marker="|", ms=5, mew=1, color=color)
        bottom = 0.0
        if estimate == "survival":
            # Rare outcomes: zoom so the curves are visible; the axis says where it starts.
            bottom = 0.0 if ymin < 0.5 else max(0.0, np.floor((ymin - 0.02) * 20) / 20)
            ax.set_ylim(bottom, 1.005)
        else:
            ax.set_ylim(0.0, min(1.0, 1.1 * ymax) if ymax > 0 else 1.0)
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_xlim(min(0.0, ticks.min()) - pad, xmax + pad)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if bottom > 0:
            mark_zoomed_axis(ax, bottom)
        if title:
            ax.set_title(title)
        if len(groups) > 1:
            ax.legend(frameon=False, loc="best")
        _draw_at_risk(table_ax, at_risk, groups)
        if lines:
            note_ax = fig.add_subplot(grid[2], label=CAPTION_AXES_LABEL)
            note_ax.axis("off")
            note_ax.text(0.0, 1.0, "\n".join(lines), ha="left", va="top", fontsize=7)
    return fig


def mark_zoomed_axis(ax: Axes, bottom: float) -> None:
    """Say on the figure that the y axis does not start at 0: a break mark (//) at the foot of
    the axis and a second line under the axis label, "axis zoomed: starts at <bottom>"."""
    ax.set_ylabel(f"{ax.get_ylabel()}\n(axis zoomed: starts at {bottom:g}, not 0)")
    kw = {"transform": ax.transAxes, "color": "black", "clip_on": False, "lw": 0.9}
    for dy in (0.0, 0.025):
        ax.plot([-0.018, 0.018], [0.03 + dy, 0.055 + dy], **kw)


def zoomed_bottom(fig: Figure) -> float | None:
    """Where the zoomed y axis of a curve figure starts (None when it starts at 0)."""
    main = next(a for a in fig.axes if a.get_label() not in (AT_RISK_AXES_LABEL,
                                                              CAPTION_AXES_LABEL))
    low = float(main.get_ylim()[0])
    return low if low > 0 else None


def plot_kaplan_meier(result: KaplanMeierResult, **kwargs) -> Figure:
    """:func:`plot_curves_with_at_risk` of a :class:`KaplanMeierResult` (table and at-risk
    counts); ``ylabel`` defaults to "Survival probability"."""
    kwargs.setdefault("ylabel", "Survival probability")
    return plot_curves_with_at_risk(result.table, result.at_risk, estimate="survival", **kwargs)
