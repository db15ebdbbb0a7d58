"""What each figure of the report shows and how to read it, and the paragraphs that introduce
the report's sections (plain text; the document renders ``code`` spans)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from .certificate_record import Certificate
from .labels import MEASURE_NAMES, short_title
from .plots import AT_RISK_AXES_LABEL, CAPTION_AXES_LABEL, zoomed_bottom

Z95 = 1.959963984540054


def forest_caption(certificates: list[Certificate]) -> str:
    reps = sorted({len(c.replicates) for c in certificates})
    assumed = [short_title(c.finding) for c in certificates if c.finding.ci_assumed]
    text = (
        "Reported and reproduced estimates with their 95% CIs, one panel per measure: a hazard "
        "ratio and an odds ratio are different quantities, so they do not share an axis. Red: "
        "the reported estimate. Blue: the median over "
        f"{'/'.join(map(str, reps))} simulated replicates of the estimate and of the CI limits, "
        "with the model SE (how the studies computed their CIs) and, for a matched design, with "
        "the shared-members SE, which accounts for persons reused across matched sets. The "
        "numbers to the right are estimate (CI); log scale; the grey line is 1 (no effect)."
    )
    if assumed:
        text += (
            f" Hollow marker and dashed bar: an assumed CI ({', '.join(assumed)}: the paper "
            "prints none), not a reported figure."
        )
    return text


def sampling_caption(cert: Certificate) -> str:
    f = cert.finding
    log_est = cert.replicates["log_estimate"].to_numpy(float)
    log_est = log_est[np.isfinite(log_est)]
    low, high = np.exp(np.quantile(log_est, [0.025, 0.975]))
    below = float(np.mean(log_est < 0))
    return (
        f"The {f.measure} of each of {log_est.size} simulated cohorts of the calibrated preset, "
        f"each analysed as the study did. Red: the reported {f.estimate:g}; dashed: the median "
        f"of the replicates (the reproduced estimate); grey: 1 (no effect). A single study is "
        f"one draw from this histogram: the middle 95% of the replicates span "
        f"{low:.2f}–{high:.2f}, and {below:.0%} of them fall below 1. Log scale."
    )


def power_caption(cert: Certificate) -> str:
    reps = int(cert.power_curve["reps"].max()) if len(cert.power_curve) else 0
    measure = cert.finding.measure
    return (
        f"Share of {reps} simulated cohorts per size in which the study analysis rejects "
        f"{measure} = 1 at the 5% level (with its valid SE; a failed replicate counts as not "
        "rejected), at half, once and twice the preset's size, under the preset's true effect. "
        "Bars: ±1.96 Monte Carlo SE; dashed grey: 80% power; dotted red: the study's own size."
    )


def stress_caption(cert: Certificate) -> str:
    f = cert.finding
    reps = int(cert.stress["reps"].max()) if "reps" in cert.stress and len(cert.stress) else 0
    return (
        "One panel per bias, switched on at increasing strength (the x axis says what the "
        f"strength means; the first strength is off). Points: the mean estimate over {reps} "
        "replicates per cell, ±1.96 Monte Carlo SE, log scale. Blue: the true effect is the "
        f"reported {f.estimate:g}; orange: no true effect (1); grey dashed: a negative-control "
        "outcome that infection cannot cause, with no true effect. Where the orange line meets "
        "the dotted red line (the reported estimate), that bias alone produces the finding: "
        "its tipping point in the table above. Hollow markers: cells with too many failed or "
        "separated replicates to be judged."
    )


def _main_axes(fig: Figure):
    return next(a for a in fig.axes if a.get_label() not in (AT_RISK_AXES_LABEL,
                                                              CAPTION_AXES_LABEL))


def _values_at_end(fig: Figure) -> tuple[float, dict[str, float]]:
    """The common last day of the drawn curves and each curve's value there."""
    lines = [ln for ln in _main_axes(fig).get_lines() if not ln.get_label().startswith("_")]
    end = min(float(np.max(ln.get_xdata())) for ln in lines)
    values = {}
    for ln in lines:
        x, y = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
        values[ln.get_label()] = float(y[np.searchsorted(x, end, side="right") - 1])
    return end, values


def curve_caption(name: str, fig: Figure, outcome: str = "") -> str:
    """Caption of a one-cohort curve figure (``km_one_cohort`` or ``cif_one_cohort``); a
    zoomed y axis is stated with the gap between the curves at their common last day."""
    outcome = outcome or "the outcome"
    if name.startswith("km"):
        text = (
            f"Kaplan–Meier curves of freedom from {outcome} for the exposed and their matched "
            "controls in the one simulated cohort above (follow-up from the matching day). "
            "Descriptive: persons recur across matched sets, so no CIs are drawn."
        )
    else:
        text = (
            f"Cumulative incidence of {outcome} by arm in the same cohort (Aalen–Johansen, "
            "with death from other causes as a competing event); descriptive, no CIs. The "
            "y axis starts at 0."
        )
    bottom = zoomed_bottom(fig)
    if bottom is not None:
        end, values = _values_at_end(fig)
        shown = " vs ".join(f"{v:.3f} ({k})" for k, v in values.items())
        gap = max(values.values()) - min(values.values())
        text += (
            f" The y axis is zoomed: it starts at {bottom:g}, not 0, which magnifies the gap "
            f"between the curves. At day {end:,.0f} they stand at {shown}: a difference of "
            f"{100 * gap:.1f} percentage points."
        )
    return text


def one_cohort_intro(cert: Certificate) -> str:
    """The single simulated cohort introduced as one draw, with its own estimate."""
    f = cert.finding
    median = cert.rows.iloc[0]["reproduced"].split(" (")[0]
    head = (
        "A single draw from the calibrated preset, like the one real cohort the study had, "
        "with the matched controls drawn for these curves. "
    )
    tail = (
        f" The reproduced estimate is the median over {len(cert.replicates)} such cohorts "
        f"({median}, reported {f.estimate:g}); one cohort scatters around it as a real study "
        "would (see the sampling distribution), so its curves need not show the effect clearly."
    )
    est = cert.one_cohort
    if est is None:
        why = f"The study analysis could not be fitted to it ({cert.one_cohort_note})."
        return head + why + tail
    own = (
        f"{f.measure} {est.estimate:.2f} (95% CI {est.ci_low:.2f}–{est.ci_high:.2f}, "
        f"{est.variance} SE"
    )
    if est.variance != "model" and math.isfinite(est.se_model):
        lo, hi = (math.exp(est.log_estimate + s * Z95 * est.se_model) for s in (-1, 1))
        own += f"; {lo:.2f}–{hi:.2f} with the model SE"
    name = MEASURE_NAMES.get(f.measure, f.measure)
    return head + (
        f"The study analysis, {est.method}, gives this cohort its own {name}: {own}), from "
        f"{est.events:,} persons with {f.outcome or 'the outcome'}." + tail
    )
