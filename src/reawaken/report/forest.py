"""Forest plot of reported vs reproduced ratios: one panel per measure, numbers beside the bars.

Rows are computed from a replicate table (:func:`forest_rows`): the reported estimate and CI,
then the median over replicates of the estimate and of the Wald limits
``exp(log estimate -+ 1.96 SE)`` — with the model SE (the SE the studies printed) and, where
the analysis carries another valid SE (the shared-members SE of matched designs), with that SE
too. An HR and an OR are different quantities, so each measure gets its own panel and axis.
An assumed input (a CI the paper does not print, finding key ``ci_assumed``) is drawn with a
hollow marker and a dashed bar, and its label says "CI assumed".
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..checks import checked
from ..findings import ReportedFinding
from ..inputs import require_columns, require_frame
from .figures import PUBLICATION_RC, ratio_ticks
from .labels import MEASURE_NAMES, short_title

Z95 = 1.959963984540054
#: Columns of a forest table, one row per bar.
FOREST_COLUMNS = ("finding", "measure", "label", "estimate", "ci_low", "ci_high", "kind", "assumed")


def _median_ci(log_est: pd.Series, se: pd.Series) -> tuple[float, float, float]:
    """Median estimate and median Wald limits ``exp(log est -+ z SE)`` over replicates."""
    ok = np.isfinite(log_est) & np.isfinite(se)
    est, s = log_est[ok], se[ok]
    return (
        float(np.exp(est.median())),
        float(np.exp(est - Z95 * s).median()),
        float(np.exp(est + Z95 * s).median()),
    )


@checked(skip=("replicates",))
def forest_rows(finding: ReportedFinding, replicates: pd.DataFrame) -> pd.DataFrame:
    """Bars of one finding: reported, then ``median exp(log est -+ 1.96 SE)`` over replicates
    (Wald limits) with the model SE and with the analysis' own SE when that is not the model
    SE (Morris, White & Crowther 2019 for summaries of replicates).

    Parameters
    ----------
    finding : ReportedFinding
        The reported estimate and CI (``ci_assumed`` marks the CI as an assumption).
    replicates : DataFrame
        A replicate table (:data:`reawaken.evaluate.COLUMNS`): ``log_estimate``, ``se``,
        ``se_model`` and optionally ``variance`` and ``error``.

    Returns
    -------
    DataFrame
        Columns :data:`FOREST_COLUMNS`, one row per bar.

    Raises
    ------
    AnalysisError
        If ``replicates`` is not a data frame or lacks a needed column.
    """
    require_frame(replicates, "forest_rows")
    require_columns(replicates, ["log_estimate", "se", "se_model"], "forest_rows")
    name = short_title(finding)
    assumed = bool(finding.ci_assumed)
    rows = [
        (name, finding.measure, "reported" + (", CI assumed" if assumed else ""),
         finding.estimate, finding.ci_low, finding.ci_high, "reported", assumed),
    ]
    ok = replicates[replicates["error"].isna()] if "error" in replicates else replicates
    log_est = ok["log_estimate"].astype(float)
    rows.append((name, finding.measure, "reproduced, model SE (as printed)",
                 *_median_ci(log_est, ok["se_model"].astype(float)), "reproduced", False))
    kinds = sorted(set(ok["variance"].dropna())) if "variance" in ok else []
    if kinds and kinds != ["model"]:
        rows.append((name, finding.measure, f"reproduced, {'/'.join(kinds)} SE (valid)",
                     *_median_ci(log_est, ok["se"].astype(float)), "reproduced", False))
    return pd.DataFrame(rows, columns=list(FOREST_COLUMNS))


def _panel(ax, part: pd.DataFrame, measure: str) -> None:
    n = len(part)
    for i, r in enumerate(part.itertuples()):
        y = n - 1 - i
        color = "C3" if r.kind == "reported" else "C0"
        bar = ax.errorbar(
            r.estimate, y, xerr=[[r.estimate - r.ci_low], [r.ci_high - r.estimate]], fmt="s",
            color=color, capsize=3, ms=5, mfc="white" if r.assumed else color,
        )
        if r.assumed:
            bar[2][0].set_linestyle("--")
        ax.annotate(
            f"{r.estimate:.2f} ({r.ci_low:.2f}–{r.ci_high:.2f})", (1.02, y),
            xycoords=("axes fraction", "data"), va="center", ha="left", fontsize=8.5,
        )
    ax.set_yticks(range(n), [f"{r.finding}: {r.label}" for r in part.itertuples()][::-1])
    ax.set_ylim(-0.6, n - 0.4)
    ax.axvline(1.0, color="grey", lw=0.8)
    ax.set_xscale("log")
    low = min(part["ci_low"].min(), 1.0) / 1.1
    high = max(part["ci_high"].max(), 1.0) * 1.1
    ax.set_xlim(low, high)
    ratio_ticks(ax.xaxis, low, high)
    name = MEASURE_NAMES.get(measure, measure)
    ax.set_xlabel(f"{name} ({measure}), 95% CI, log scale; 1 = no effect")
    ax.set_title(f"{name[0].upper()}{name[1:]}s", loc="left")


def forest_figure(table: pd.DataFrame) -> Figure:
    """One panel per measure (in order of appearance) of the bars of :func:`forest_rows`, each
    bar's estimate and CI printed to its right, on a log axis (ratios multiply).

    Raises
    ------
    AnalysisError
        If ``table`` is not a data frame with the columns :data:`FOREST_COLUMNS` and a row.
    """
    require_frame(table, "forest_figure")
    require_columns(table, FOREST_COLUMNS, "forest_figure")
    measures = list(dict.fromkeys(table["measure"]))
    heights = [max(1.0, 0.42 * (table["measure"] == m).sum()) + 0.75 for m in measures]
    with mpl.rc_context(PUBLICATION_RC):
        fig = Figure(figsize=(6.4, sum(heights)), layout="constrained",
                     dpi=PUBLICATION_RC["savefig.dpi"])
        axes = fig.subplots(len(measures), 1, squeeze=False, height_ratios=heights).ravel()
        for ax, measure in zip(axes, measures, strict=True):
            _panel(ax, table[table["measure"] == measure], measure)
    return fig
