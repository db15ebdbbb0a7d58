"""Stress-battery figure: mean estimate vs bias strength, one panel per mechanism."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .figures import PUBLICATION_RC, plain_log_ticks


def plot_stress(table: pd.DataFrame, *, reported: float, title: str | None = None) -> Figure:
    """Mean estimate (log scale, ±1.96 MCSE) vs strength for each mechanism, under the reported
    true effect and under the null, with the negative control under the null; horizontal lines
    mark the reported estimate and 1."""
    import matplotlib as mpl

    mechanisms = list(dict.fromkeys(table["mechanism"]))
    cols = min(3, len(mechanisms))
    rows = int(np.ceil(len(mechanisms) / cols))
    with mpl.rc_context(PUBLICATION_RC):
        fig = Figure(
            figsize=(3.2 * cols, 2.6 * rows + 0.4),
            layout="constrained",
            dpi=PUBLICATION_RC["savefig.dpi"],
        )
        axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
        for ax, mech in zip(axes, mechanisms, strict=False):
            part = table[table["mechanism"] == mech]
            for truth, style, label in (
                (reported, "-o", f"true {reported:g}"),
                (1.0, "-s", "true 1 (null)"),
            ):
                rows_t = part[np.isclose(part["true_effect"], truth)]
                if rows_t.empty:
                    continue
                err = 1.96 * rows_t["mean_log_estimate_mcse"].to_numpy()
                mean = rows_t["mean_log_estimate"].to_numpy()
                ax.errorbar(
                    rows_t["strength"],
                    np.exp(mean),
                    yerr=[np.exp(mean) - np.exp(mean - err), np.exp(mean + err) - np.exp(mean)],
                    fmt=style,
                    ms=3,
                    lw=1.2,
                    capsize=2,
                    label=label,
                )
                if truth == 1.0 and "negative_control_estimate" in rows_t:
                    ax.plot(
                        rows_t["strength"],
                        rows_t["negative_control_estimate"],
                        "--",
                        color="grey",
                        lw=1,
                        label="negative control (null)",
                    )
            ax.axhline(reported, color="C3", lw=0.8, ls=":")
            ax.axhline(1.0, color="black", lw=0.6)
            ax.set_yscale("log")
            plain_log_ticks(ax.yaxis)
            ax.set_title(mech.replace("_", " "))
            ax.set_xlabel("strength")
            ax.set_ylabel("mean estimate")
        for ax in axes[len(mechanisms) :]:
            ax.set_visible(False)
        axes[0].legend(frameon=False, fontsize=7)
        if title:
            fig.suptitle(title)
    return fig
