"""The certificate's figures from its tables: the sampling distribution of the replicates, the
simulated power curve and the stress chart (plotting only; the numbers come from
:mod:`reawaken.certificate`)."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..findings import ReportedFinding
from ..sensitivity.stress import StressResult
from .figures import PUBLICATION_RC, plain_log_ticks
from .labels import short_title
from .power_plots import plot_power_curve
from .stress_plots import plot_stress


def sampling_figure(log_est: np.ndarray, finding: ReportedFinding) -> Figure:
    """Histogram of the replicate estimates (log scale) with the reported value, the median of
    the replicates and 1 (no effect) marked."""
    with mpl.rc_context(PUBLICATION_RC):
        fig = Figure(figsize=(5.5, 3.2), layout="constrained", dpi=PUBLICATION_RC["savefig.dpi"])
        ax = fig.subplots()
        finite = log_est[np.isfinite(log_est)]
        ax.hist(
            np.exp(finite),
            bins=np.exp(np.linspace(finite.min(), finite.max(), 31)),
            color="C0",
            alpha=0.75,
        )
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.axvline(finding.estimate, color="C3", lw=1.5, label=f"reported {finding.estimate:g}")
        median = float(np.exp(np.median(finite)))
        ax.axvline(median, color="black", ls="--", lw=1, label=f"median of replicates {median:.2f}")
        ax.axvline(1.0, color="grey", lw=0.8, label="1 (no effect)")
        ax.set_xlabel(f"estimated {finding.measure} (log scale)")
        ax.set_ylabel("replicates")
        ax.set_title(f"Sampling distribution over {finite.size} replicates")
        ax.legend(frameon=False, fontsize=7.5)
    return fig


def power_figure(curve: pd.DataFrame, finding: ReportedFinding, study_n: int) -> Figure:
    """Simulated power against cohort size, the study's own size marked."""
    fig = plot_power_curve(
        curve, x="n", mcse="mcse", xlabel="cohort size n",
        title=f"Simulated power at the preset's effect, {short_title(finding)}",
    )
    ax = fig.axes[0]
    with mpl.rc_context(PUBLICATION_RC):
        ax.axvline(study_n, color="C3", lw=0.9, ls=":", label=f"the study's n = {study_n:,}")
        ax.legend(frameon=False, loc="lower right", bbox_to_anchor=(1.0, 0.06))
    return fig


def certificate_figures(
    finding: ReportedFinding, replicates: pd.DataFrame, curve: pd.DataFrame, battery: StressResult
) -> dict[str, Figure]:
    """``sampling_distribution``, ``power_curve`` and ``stress`` figures of a certificate."""
    log_est = replicates["log_estimate"].to_numpy(float)
    meanings = dict(zip(battery.tipping_points["mechanism"], battery.tipping_points["meaning"],
                        strict=True))
    return {
        "sampling_distribution": sampling_figure(log_est, finding),
        "power_curve": power_figure(curve, finding, finding.n),
        "stress": plot_stress(
            battery.table, reported=finding.estimate, meanings=meanings,
            title=f"Bias battery: {short_title(finding)}, mean estimate by strength",
        ),
    }
