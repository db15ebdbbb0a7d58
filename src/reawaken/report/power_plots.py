"""Power curves: power (or any rate) against sample size, events or effect size, per group.

Built from a tidy table (one row per design point, e.g. the output of an analytic power grid or
of a simulation study), so the same figure serves closed-form and simulation-based power; Monte
Carlo standard errors (Morris, White & Crowther, Stat Med 2019: ``sqrt(P (1 - P) / n_sim)`` for
a power) are drawn as +-1.96 MCSE error bars. Save with
:func:`reawaken.report.figures.save_figure`.
"""

from __future__ import annotations

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from ..errors import AnalysisError
from ..inputs import numeric_column, require_columns, require_frame
from .figures import PUBLICATION_RC

MCSE_Z = 1.959963984540054  # error bars span +-z_{0.975} MCSE: a 95% Monte Carlo interval


def plot_power_curve(
    table: pd.DataFrame,
    *,
    x: str,
    y: str = "power",
    group: str | None = None,
    mcse: str | None = None,
    target: float | None = 0.8,
    xlabel: str,
    ylabel: str | None = None,
    title: str | None = None,
    logx: bool = False,
) -> Figure:
    """Lines of ``y`` against ``x`` (one per ``group``), with MCSE bars and a target line.

    Parameters
    ----------
    table : DataFrame
        One row per design point (and group); ``x`` and ``y`` numeric.
    x, y : str
        Columns for the horizontal axis (e.g. ``"n"``, ``"events"``, ``"hr"``) and the plotted
        rate (default ``"power"``; probabilities are drawn on ``[0, 1]``).
    group : str, optional
        Column whose levels get one line each (in order of appearance), with a legend.
    mcse : str, optional
        Column of Monte Carlo SEs of ``y``; draws error bars of +-1.96 MCSE.
    target : float or None
        Horizontal reference line (e.g. the target power 0.8); None for none.
    xlabel, ylabel, title : str
        Axis labels (``ylabel`` defaults to "Power" for ``y="power"``, else the column name).
    logx : bool
        Log-scaled x axis (useful for hazard ratios or sample sizes spanning decades).

    Returns
    -------
    matplotlib.figure.Figure
        A stand-alone figure (not registered with pyplot) using ``PUBLICATION_RC``.
    """
    where = "plot_power_curve"
    require_frame(table, where)
    require_columns(table, [x, y, group, mcse], where)
    for column in (x, y, mcse):
        if column is not None:
            numeric_column(table, column, where)
    if logx and (table[x] <= 0).any():
        raise AnalysisError(
            f"{where}: column {x!r} has values <= 0, which a log axis cannot show; fix: pass "
            "logx=False or drop those rows"
        )
    if mcse is not None and (table[mcse] < 0).any():
        raise AnalysisError(
            f"{where}: column {mcse!r} has negative Monte Carlo SEs; fix: pass the SEs "
            "(e.g. sqrt(power (1 - power) / n_sim))"
        )
    groups = list(pd.unique(table[group])) if group is not None else [None]
    in_unit = bool(((table[y] >= 0) & (table[y] <= 1)).all())
    with mpl.rc_context(PUBLICATION_RC):
        fig = Figure(figsize=(5.0, 3.6), dpi=PUBLICATION_RC["savefig.dpi"], layout="constrained")
        ax = fig.add_subplot()
        for i, g in enumerate(groups):
            sub = table if g is None else table[table[group] == g]
            sub = sub.sort_values(x, kind="stable")
            xs, ys = sub[x].to_numpy(float), sub[y].to_numpy(float)
            label = None if g is None else str(g)
            ax.plot(xs, ys, marker="o", ms=3.5, lw=1.4, color=f"C{i}", label=label)
            if mcse is not None:
                err = MCSE_Z * sub[mcse].to_numpy(float)
                ax.errorbar(xs, ys, yerr=err, ls="none", color=f"C{i}", capsize=2, lw=0.9)
        if target is not None:
            ax.axhline(target, color="0.45", lw=0.9, ls="--", label=f"target {target:g}")
        if logx:
            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        if in_unit:
            ax.set_ylim(0.0, 1.02)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel if ylabel is not None else ("Power" if y == "power" else y))
        if title:
            ax.set_title(title)
        if group is not None or target is not None:
            ax.legend(frameon=False, loc="best")
        ax.grid(True, axis="y", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
        if mcse is not None:
            ax.annotate(
                "bars: ±1.96 Monte Carlo SE",
                (1.0, 0.0),
                xycoords="axes fraction",
                xytext=(-2, 2),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize=7,
                color="0.4",
            )
        ax.margins(x=0.03)
    return fig
