"""Stress-battery figure: mean estimate vs bias strength, one small panel per mechanism.

Panels sit two to a row so that the figure stays legible at the width of a report page; one
legend for all panels sits below them. Each panel's x axis says what its strength means, its
y axis (log scale) carries a few plain ticks, and a cell that was not usable (too many failed
or separated replicates, :mod:`reawaken.sensitivity.stress`) is drawn as a hollow marker.
"""

from __future__ import annotations

import textwrap

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..inputs import require_columns, require_frame
from ..sensitivity.stress import MECHANISMS
from .figures import PUBLICATION_RC, ratio_ticks
from .labels import mechanism_label

STRESS_COLUMNS = ("mechanism", "strength", "true_effect", "mean_log_estimate",
                  "mean_log_estimate_mcse")
STRESS_RC = {**PUBLICATION_RC, "font.size": 9, "axes.titlesize": 10, "xtick.labelsize": 8.5,
             "ytick.labelsize": 8.5, "axes.labelsize": 8.5, "legend.fontsize": 9}


def _draw_truth(ax, rows: pd.DataFrame, style: str, color: str) -> list[float]:
    """Mean estimate ± 1.96 MCSE by strength for one truth; hollow markers for unusable cells."""
    rows = rows.sort_values("strength")
    mean = rows["mean_log_estimate"].to_numpy(float)
    err = 1.96 * rows["mean_log_estimate_mcse"].to_numpy(float)
    x = rows["strength"].to_numpy(float)
    ax.errorbar(x, np.exp(mean), yerr=[np.exp(mean) - np.exp(mean - err),
                np.exp(mean + err) - np.exp(mean)], fmt=style, color=color, ms=4, lw=1.3,
                capsize=2)
    if "usable" in rows:
        bad = ~rows["usable"].to_numpy(bool)
        ax.plot(x[bad], np.exp(mean[bad]), style[-1], ms=6, mfc="white", color=color)
    values = np.exp(np.concatenate([mean - err, mean + err]))
    return list(values[np.isfinite(values)])


def _panel(ax, part: pd.DataFrame, mech: str, reported: float, meaning: str) -> None:
    values = [reported, 1.0]
    for truth, style, color in ((reported, "-o", "C0"), (1.0, "-s", "C1")):
        rows = part[np.isclose(part["true_effect"], truth)]
        if not rows.empty:
            values += _draw_truth(ax, rows, style, color)
        if truth == 1.0 and "negative_control_estimate" in rows and len(rows):
            nc = rows.sort_values("strength")
            ax.plot(nc["strength"], nc["negative_control_estimate"], "--", color="0.45", lw=1)
            values += list(nc["negative_control_estimate"].dropna())
    ax.axhline(reported, color="C3", lw=0.9, ls=":")
    ax.axhline(1.0, color="black", lw=0.6)
    ax.set_yscale("log")
    low, high = min(values) / 1.08, max(values) * 1.08
    ax.set_ylim(low, high)
    ratio_ticks(ax.yaxis, low, high)
    ax.set_title(mechanism_label(mech), loc="left")
    ax.set_xlabel("\n".join(textwrap.wrap(f"strength: {meaning}", 44)) if meaning else "strength")
    ax.grid(True, axis="y", color="0.92", lw=0.6)


def plot_stress(
    table: pd.DataFrame,
    *,
    reported: float,
    title: str | None = None,
    meanings: dict[str, str] | None = None,
) -> Figure:
    """Mean estimate (log scale, ±1.96 MCSE) vs strength for each mechanism, under the reported
    true effect and under the null, with the negative control under the null; horizontal lines
    mark the reported estimate and 1. ``meanings`` maps a mechanism to what its strength means
    (the x-axis label; default: the battery's own, :data:`reawaken.sensitivity.stress.
    MECHANISMS`)."""
    require_frame(table, "plot_stress")
    require_columns(table, STRESS_COLUMNS, "plot_stress")
    if meanings is None:
        meanings = {name: spec[1] for name, spec in MECHANISMS.items()}
    mechanisms = list(dict.fromkeys(table["mechanism"]))
    cols = min(2, len(mechanisms))
    rows = int(np.ceil(len(mechanisms) / cols))
    with mpl.rc_context(STRESS_RC):
        fig = Figure(figsize=(3.6 * cols, 2.55 * rows + 0.8), layout="constrained",
                     dpi=PUBLICATION_RC["savefig.dpi"])
        axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
        for ax, mech in zip(axes, mechanisms, strict=False):
            part = table[table["mechanism"] == mech]
            _panel(ax, part, mech, reported, meanings.get(mech, ""))
        for ax in axes[: len(mechanisms) : cols]:
            ax.set_ylabel("mean estimate")
        for ax in axes[len(mechanisms) :]:
            ax.set_visible(False)
        handles = [
            Line2D([], [], color="C0", marker="o", label=f"true effect {reported:g}"),
            Line2D([], [], color="C1", marker="s", label="true effect 1 (none)"),
            Line2D([], [], color="0.45", ls="--", label="negative control, true 1"),
            Line2D([], [], color="C3", ls=":", label=f"reported {reported:g}"),
            Line2D([], [], color="0.3", marker="o", mfc="white", ls="none",
                   label="cell not usable"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
        if title:
            fig.suptitle(title)
    return fig
