"""Tidy outputs of ``reawaken analyze``: estimate rows, person counts, survival at chosen times,
and their text rendering.

Every estimate row carries its ``measure`` (``HR`` hazard ratio of a Cox model, ``OR`` odds
ratio of a (conditional) logistic model, ``SHR`` subdistribution hazard ratio of a Fine–Gray
model) and counts of distinct ``persons`` and of ``events`` (persons with the event), beside
the ``rows`` and ``event_rows`` of the data the model was fitted on: a time-varying design
splits a person into several episode rows, and a matched design reuses persons across sets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .analysis.km import KaplanMeierResult
from .analysis.results import ModelResult

ESTIMATE_COLUMNS = (
    "analysis",
    "term",
    "measure",
    "coef",
    "se",
    "robust_se",
    "shared_members_se",
    "variance",
    "ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "persons",
    "events",
    "rows",
    "event_rows",
)
SURVIVAL_COLUMNS = ("curve", "group", "time", "n_at_risk", "survival", "ci_low", "ci_high")


@dataclass(frozen=True, eq=False)
class AnalysisOutput:
    """Tidy results of one design: estimates, tests, balance, survival at chosen times,
    figures (not yet saved) and notes."""

    design: str
    estimates: pd.DataFrame
    tests: pd.DataFrame
    balance: pd.DataFrame | None
    notes: tuple[str, ...]
    figures: Mapping[str, Figure] = field(default_factory=dict)
    survival: pd.DataFrame | None = None
    captions: Mapping[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return format_summary(self)

    def to_dict(self) -> dict:
        """JSON-ready payload (pass it to :func:`reawaken.outputs.dumps_json`)."""
        survival = self.survival if self.survival is not None else pd.DataFrame()
        return {
            "design": self.design,
            "estimates": self.estimates.to_dict(orient="records"),
            "tests": self.tests.to_dict(orient="records"),
            "survival": survival.to_dict(orient="records"),
            "captions": dict(self.captions),
            "notes": list(self.notes),
        }


def person_counts(ids: np.ndarray, event: np.ndarray) -> dict[str, int]:
    """Distinct persons and persons with an event, and the rows and event rows behind them.

    ``ids`` holds the person of each row, ``event`` the 0/1 event indicator of each row.
    """
    ids = np.asarray(ids)
    hit = np.asarray(event) > 0
    return {
        "persons": int(pd.unique(ids).size),
        "events": int(pd.unique(ids[hit]).size),
        "rows": int(ids.size),
        "event_rows": int(hit.sum()),
    }


def estimate_rows(
    result: ModelResult,
    analysis: str,
    counts: Mapping[str, int],
    terms: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per model term (all terms, or ``terms``), columns :data:`ESTIMATE_COLUMNS`;
    ``ratio`` is ``exp(coef)`` in the model's ``measure`` (HR, OR or SHR)."""
    measure = result.measure
    t = result.table
    if terms is not None:
        t = t[t["term"].isin(terms)]
    out = pd.DataFrame(
        {
            "analysis": analysis,
            "term": t["term"],
            "measure": measure,
            "coef": t["coef"],
            "se": t["se"],
            "robust_se": t["robust_se"] if "robust_se" in t else np.nan,
            "shared_members_se": t["shared_members_se"] if "shared_members_se" in t else np.nan,
            "variance": result.variance_name,
            "ratio": t["ratio"],
            "ci_low": t["ci_low"],
            "ci_high": t["ci_high"],
            "p_value": t["p_value"],
            **{k: int(counts[k]) for k in ("persons", "events", "rows", "event_rows")},
        }
    )
    return out[list(ESTIMATE_COLUMNS)].reset_index(drop=True)


def survival_rows(km: KaplanMeierResult, curve: str, times: Sequence[float] | None) -> pd.DataFrame:
    """Curve values at ``times`` (default: the at-risk table times), one row per group and
    time, columns :data:`SURVIVAL_COLUMNS`; ``n_at_risk`` counts persons in the group then."""
    grid = sorted(pd.unique(km.at_risk["time"])) if times is None else list(times)
    at = km.survival_at(grid)
    at.insert(0, "curve", curve)
    return at[list(SURVIVAL_COLUMNS)]


def _fmt(x: float, digits: int = 3) -> str:
    return "NA" if not np.isfinite(x) else f"{x:.{digits}f}"


def _counts_text(block: pd.DataFrame) -> str:
    r = block.iloc[0]
    text = f"persons {r.persons:,}, events {r.events:,}"
    if (r.rows, r.event_rows) != (r.persons, r.events):
        text += f" (rows {r.rows:,}, event rows {r.event_rows:,})"
    return text


def _estimates_text(estimates: pd.DataFrame) -> list[str]:
    lines = []
    for analysis, block in estimates.groupby("analysis", sort=False):
        lines.append(f"{analysis}: {_counts_text(block)}")
        width = max(18, *(len(str(t)) for t in block["term"]))
        lines.append(
            f"  {'term':<{width}} measure   ratio  95% CI            p        coef      SE"
        )
        for r in block.itertuples():
            se = {"model": r.se, "robust": r.robust_se, "shared-members": r.shared_members_se}
            lines.append(
                f"  {r.term!s:<{width}} {r.measure:<7} {_fmt(r.ratio):>7}  "
                f"{_fmt(r.ci_low) + '-' + _fmt(r.ci_high):<16} {r.p_value:<8.3g} "
                f"{r.coef:>7.4f} {se[r.variance]:>7.4f}"
            )
    return lines


def _survival_text(survival: pd.DataFrame, captions: Mapping[str, str]) -> list[str]:
    lines = []
    for curve, block in survival.groupby("curve", sort=False):
        lines.append(f"{curve}: survival at chosen times (95% CI), persons at risk")
        for r in block.itertuples():
            lines.append(
                f"  {r.group!s:<28} t={r.time:<8g} S {_fmt(r.survival)} "
                f"({_fmt(r.ci_low)}-{_fmt(r.ci_high)})  at risk {r.n_at_risk:,}"
            )
        if captions.get(curve):
            lines.append(f"  caveat: {captions[curve]}")
    return lines


def format_summary(output: AnalysisOutput) -> str:
    """Text of an :class:`AnalysisOutput`: each model's full coefficient table with its
    measure and counts, the tests, survival at the chosen times with caveats, and notes."""
    lines = [f"design: {output.design}", *_estimates_text(output.estimates)]
    if len(output.tests):
        lines.append("tests:")
        for r in output.tests.itertuples():
            lines.append(f"  {r.test}: statistic {r.statistic:.3f} (df {r.df}) p={r.p_value:.3g}")
    if output.survival is not None and len(output.survival):
        lines.extend(_survival_text(output.survival, output.captions))
    lines.extend(f"note: {n}" for n in output.notes)
    return "\n".join(lines)
