"""Cox models on counting-process (start, stop] data.

``fit_time_varying_cox`` wraps statsmodels ``PHReg`` for speed (about 15x faster than lifelines'
``CoxTimeVaryingFitter`` on a Flatiron-size cohort). statsmodels counts a row whose ``entry``
equals an event time as at risk at that time, while R survival and lifelines do not (a row
entering at ``t`` is not at risk for events at ``t``). We therefore move every entry forward by
half the smallest gap between distinct time values: this changes no ordering except entry/event
ties, which it resolves the R way. Tests check the result against lifelines to 1e-6.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg

from ..errors import AnalysisError


@dataclass(frozen=True)
class CoxFit:
    """Coefficients of a Cox fit as a tidy table (``term, coef, se, hr, ci_low, ci_high,
    p_value``) plus the numbers of rows and events."""

    table: pd.DataFrame
    n_rows: int
    events: int
    method: str

    def coef(self, term: str) -> float:
        return float(self.table.set_index("term").loc[term, "coef"])

    def se(self, term: str) -> float:
        return float(self.table.set_index("term").loc[term, "se"])

    def summary(self) -> str:
        t = self.table
        lines = [f"{self.method}: {self.n_rows:,} rows, {self.events:,} events"]
        for row in t.itertuples():
            lines.append(
                f"  {row.term:<16} HR {row.hr:8.3f} ({row.ci_low:.3f}-{row.ci_high:.3f}) "
                f"p={row.p_value:.3g}"
            )
        return "\n".join(lines)


def _entry_tie_shift(start: np.ndarray, stop: np.ndarray) -> float:
    values = np.unique(np.concatenate([start, stop]))
    gaps = np.diff(values)
    return 0.5 * float(gaps.min()) if gaps.size else 0.5


def fit_time_varying_cox(
    episodes: pd.DataFrame,
    *,
    covariates: Sequence[str],
    start: str = "start",
    stop: str = "stop",
    event: str = "event",
    ties: str = "efron",
) -> CoxFit:
    """Cox partial-likelihood fit on (start, stop] episodes (R survival's risk-set convention).

    Parameters
    ----------
    episodes : DataFrame
        One row per person-episode; ``event`` is 1 when the episode ends in the outcome.
    covariates : sequence of str
        Model columns (numeric).
    start, stop, event : str
        Column names.
    ties : {"efron", "breslow"}
        Tie handling (Efron 1977 or Breslow 1974).
    """
    if ties not in ("efron", "breslow"):
        raise AnalysisError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    t0 = episodes[start].to_numpy(dtype=float)
    t1 = episodes[stop].to_numpy(dtype=float)
    d = episodes[event].to_numpy(dtype=float)
    if np.any(t1 <= t0):
        raise AnalysisError(
            f"{int(np.sum(t1 <= t0))} episodes have start >= stop; drop or fix them"
        )
    if d.sum() == 0:
        raise AnalysisError("no events in the data; a Cox model needs at least one event")
    x = episodes[list(covariates)].to_numpy(dtype=float)
    shift = _entry_tie_shift(t0, t1)
    model = PHReg(t1, x, status=d, entry=t0 + shift, ties=ties)
    result = model.fit(disp=False)
    coef = np.asarray(result.params)
    se = np.asarray(result.bse)
    z = stats.norm.ppf(0.975)
    table = pd.DataFrame(
        {
            "term": list(covariates),
            "coef": coef,
            "se": se,
            "hr": np.exp(coef),
            "ci_low": np.exp(coef - z * se),
            "ci_high": np.exp(coef + z * se),
            "p_value": 2 * stats.norm.sf(np.abs(coef / se)),
        }
    )
    return CoxFit(table, len(episodes), int(d.sum()), f"time-varying Cox ({ties}, statsmodels)")
