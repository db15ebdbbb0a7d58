"""Curves by exposure for the time-varying design of ``reawaken analyze``: Simon–Makuch and
landmark curves (:mod:`reawaken.analysis.exposure_curves`) as figures with their caveat as a
caption, and their values at chosen times."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure

from .analysis.exposure_curves import landmark_curves, simon_makuch
from .analysis.km import KaplanMeierResult
from .analyze_output import survival_rows
from .errors import AnalysisError
from .report.plots import plot_curves_with_at_risk


def exposure_curve_outputs(
    cohort: pd.DataFrame, *, cause: int, landmark: float, times: Sequence[float] | None
) -> tuple[dict[str, Figure], list[pd.DataFrame], dict[str, str], list[str]]:
    """Simon–Makuch and landmark curves of a Cohort table for ``reawaken analyze``: figures
    (with the caveat as caption), survival rows at ``times``, captions by curve, and notes
    (landmark curves that cannot be drawn are a note, not an error)."""
    figures, rows, captions, notes = {}, [], {}, []
    curves: list[tuple[str, str, KaplanMeierResult | None]] = []
    curves.append(("simon_makuch", "Simon-Makuch", simon_makuch(cohort, cause=cause)))
    try:
        lm = landmark_curves(cohort, landmark=landmark, cause=cause)
        curves.append(("landmark", f"landmark at day {landmark:g}", lm))
    except AnalysisError as exc:
        notes.append(f"landmark curves not drawn: {exc}")
    for name, label, km in curves:
        xlabel = "Days since entry" if name == "simon_makuch" else "Days since the landmark"
        figures[name] = plot_curves_with_at_risk(
            km.table,
            km.at_risk,
            estimate="survival",
            ylabel="Outcome-free survival",
            xlabel=xlabel,
            title=f"{label} curves by exposure",
            caption=km.caption,
        )
        rows.append(survival_rows(km, label, times))
        captions[label] = km.caption
    return figures, rows, captions, notes
