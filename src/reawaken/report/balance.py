"""Love plot: covariate balance before and after matching (Austin, Multivariate Behav Res 2011)."""

from __future__ import annotations

import math

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from ..design.balance import MatchReport
from ..errors import AnalysisError
from .figures import PUBLICATION_RC

__all__ = ["love_plot"]


def love_plot(report: MatchReport, *, threshold: float = 0.1) -> Figure:
    """Absolute standardized mean difference per covariate, before and after matching.

    One row per covariate (largest imbalance before matching at the top): an open circle at
    ``|SMD before|`` (exposed vs never exposed), a filled circle at ``|SMD after|`` (exposed vs
    matched controls), joined by a line, and a dashed vertical line at ``threshold`` (Austin
    2011: 0.1). The figure uses :data:`~reawaken.report.figures.PUBLICATION_RC`; save it with
    :func:`~reawaken.report.figures.save_figure`.

    Parameters
    ----------
    report : MatchReport
        ``MatchedCohort.report``; its ``balance`` table is plotted.
    threshold : float
        Balance threshold drawn as a reference line (> 0).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(report, MatchReport):
        raise AnalysisError(
            f"love_plot: expected a MatchReport, got {type(report).__name__}; fix: pass "
            "matched.report of a MatchedCohort"
        )
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not (0 < threshold < math.inf)
    ):
        raise AnalysisError(f"love_plot: threshold = {threshold!r} must be a positive number")
    table = report.balance
    if len(table) == 0:
        raise AnalysisError("love_plot: the balance table is empty; fix: match with covariates")
    before = table["smd_before"].abs().to_numpy(dtype=float)
    after = table["smd_after"].abs().to_numpy(dtype=float)
    order = np.argsort(np.nan_to_num(before, nan=-1.0), kind="stable")
    labels = table["covariate"].astype(str).to_numpy()[order]
    before, after = before[order], after[order]
    y = np.arange(len(order))
    finite = np.concatenate([before, after, [threshold]])
    finite = finite[np.isfinite(finite)]
    with mpl.rc_context(PUBLICATION_RC):  # a stand-alone Figure: no pyplot, no backend
        fig = Figure(figsize=(4.5, 1.2 + 0.3 * len(order)), layout="constrained")
        ax = fig.subplots()
        ax.hlines(y, np.fmin(before, after), np.fmax(before, after), color="0.7", lw=1, zorder=1)
        style = {"s": 28, "clip_on": False}
        ax.scatter(
            before, y, facecolors="white", edgecolors="0.3", label="before matching", **style
        )
        ax.scatter(after, y, color="C0", label="after matching", zorder=3, **style)
        ax.axvline(threshold, color="0.4", ls="--", lw=0.8, zorder=0)
        ax.set_yticks(y, labels)
        ax.set_xlim(0, 1.08 * float(finite.max()))
        ax.set_ylim(-0.6, len(order) - 0.4)
        ax.set_xlabel("absolute standardized mean difference")
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1), ncol=2, frameon=False)
    return fig
