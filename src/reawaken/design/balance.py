"""Covariate balance: standardized mean differences and the matching report.

Austin (Multivariate Behav Res 2011): balance is adequate when every ``|SMD| < 0.1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import schema

EXPOSED = "exposed"
BALANCE_COLUMNS = ("covariate", "smd_before", "smd_after", "mean_exposed")
BALANCE_COLUMNS += ("mean_control_before", "mean_control_after", "mean_exposed_matched")
NO_CONTROL, EXPOSURE_ON_EVENT_DAY = "no eligible control", "exposure on event day"


def standardized_mean_difference(
    exposed: np.ndarray, control: np.ndarray, *, binary: bool | None = None
) -> float:
    """Standardized mean difference ``(m1 - m0) / sqrt((s1^2 + s0^2) / 2)`` (Austin 2011).

    Variances are ``p (1 - p)`` for binary covariates (by default: all values in {0, 1}) and
    sample variances (``ddof=1``) otherwise. Returns 0 when both groups are constant and equal,
    ``±inf`` when constant and different, NaN when a group is empty.
    """
    x1 = np.asarray(exposed, dtype=float)
    x0 = np.asarray(control, dtype=float)
    if x1.size == 0 or x0.size == 0:
        return float("nan")
    if binary is None:
        binary = bool(np.isin(x1, (0.0, 1.0)).all() and np.isin(x0, (0.0, 1.0)).all())
    m1, m0 = float(x1.mean()), float(x0.mean())
    if binary:
        v1, v0 = m1 * (1 - m1), m0 * (1 - m0)
    else:
        v1 = float(x1.var(ddof=1)) if x1.size > 1 else 0.0
        v0 = float(x0.var(ddof=1)) if x0.size > 1 else 0.0
    sd = math.sqrt((v1 + v0) / 2)
    if sd == 0:
        return 0.0 if m1 == m0 else math.copysign(math.inf, m1 - m0)
    return (m1 - m0) / sd


@dataclass(frozen=True, eq=False)
class MatchReport:
    """What matching did: counts, controls per set, reuse of controls, covariate balance.

    Attributes
    ----------
    n_exposed : int
        Persons with an ``exposure_day`` in the cohort.
    n_matched : int
        Matched sets (exposed persons with at least one control).
    n_partially_matched : int
        Matched sets with fewer controls than requested (they keep the controls found).
    n_unmatched_no_control : int
        Exposed persons without any eligible control (dropped).
    n_unmatched_exposure_on_event_day : int
        Exposed persons with ``exposure_day == event_day``: no follow-up after the index day.
    controls_requested : int
        Controls asked for per set.
    controls_per_set : pandas.DataFrame
        ``n_controls, n_sets`` for ``n_controls`` in ``1..controls_requested``.
    n_control_rows, n_distinct_controls, n_controls_reused : int
        Control rows; distinct persons used as controls; of these, used in more than one set.
    n_controls_censored_at_exposure : int
        Control rows censored at their later exposure day.
    n_controls_also_exposed : int
        Distinct control persons who also open their own set as exposed.
    balance : pandas.DataFrame
        ``covariate, smd_before, smd_after, mean_exposed, mean_control_before,
        mean_control_after, mean_exposed_matched``. *Before*: all exposed vs never-exposed
        persons; *after*: matched exposed rows vs control rows (each row weight 1).
        ``mean_exposed`` is over all exposed persons, ``mean_exposed_matched`` over matched ones.
    unmatched : pandas.DataFrame
        ``id, exposure_day, reason`` of the exposed persons left out.
    propensity : pandas.DataFrame or None
        ``term, coef, se`` of the propensity-score logit model (propensity matching only).
    """

    n_exposed: int
    n_matched: int
    n_partially_matched: int
    n_unmatched_no_control: int
    n_unmatched_exposure_on_event_day: int
    controls_requested: int
    controls_per_set: pd.DataFrame
    n_control_rows: int
    n_distinct_controls: int
    n_controls_reused: int
    n_controls_censored_at_exposure: int
    n_controls_also_exposed: int
    balance: pd.DataFrame
    unmatched: pd.DataFrame
    propensity: pd.DataFrame | None = None

    @property
    def n_unmatched(self) -> int:
        """Exposed persons without a matched set, for any reason."""
        return self.n_unmatched_no_control + self.n_unmatched_exposure_on_event_day

    @property
    def max_abs_smd_after(self) -> float:
        """Largest absolute SMD after matching (NaN-safe; NaN if no covariates)."""
        s = self.balance["smd_after"].abs()
        return float(s.max()) if s.notna().any() else float("nan")

    def all_balanced(self, threshold: float = 0.1) -> bool:
        """True if every covariate has ``|SMD after| < threshold`` (Austin 2011: 0.1)."""
        s = self.balance["smd_after"].abs()
        return bool(len(s) and (s < threshold).all())

    def summary(self) -> str:
        """A few lines: sets, unmatched by reason, control reuse, worst balance after."""
        lines = [
            f"{self.n_exposed:,} exposed: {self.n_matched:,} matched sets "
            f"({self.n_partially_matched:,} with fewer than {self.controls_requested} "
            "controls), "
            f"{self.n_unmatched:,} unmatched ({self.n_unmatched_no_control:,} {NO_CONTROL}, "
            f"{self.n_unmatched_exposure_on_event_day:,} {EXPOSURE_ON_EVENT_DAY})",
            f"controls: {self.n_control_rows:,} rows, {self.n_distinct_controls:,} distinct "
            f"persons, {self.n_controls_reused:,} used in more than one set, "
            f"{self.n_controls_also_exposed:,} later exposed themselves "
            f"({self.n_controls_censored_at_exposure:,} rows censored at that exposure)",
        ]
        after = self.balance["smd_after"].abs()
        if after.notna().any():
            worst = self.balance["covariate"].iloc[int(np.nanargmax(after.to_numpy()))]
            flag = "yes" if self.all_balanced() else "no"
            lines.append(
                f"balance: max |SMD| after {self.max_abs_smd_after:.3f} ({worst}), before "
                f"{self.balance['smd_before'].abs().max():.3f}; all < 0.1: {flag}"
            )
        return "\n".join(lines)


def balance_table(frame: pd.DataFrame, data: pd.DataFrame, covs: Sequence[str]) -> pd.DataFrame:
    """SMD before (exposed vs never exposed, cohort) and after (matched rows) per covariate."""
    ever = frame[schema.EXPOSURE_DAY].notna().to_numpy()
    after = data[EXPOSED].to_numpy() == 1
    records = []
    for c in covs:
        x = frame[c].to_numpy(dtype=float)
        y = data[c].to_numpy(dtype=float)
        binary = bool(np.isin(x, (0.0, 1.0)).all())
        smd_before = standardized_mean_difference(x[ever], x[~ever], binary=binary)
        smd_after = standardized_mean_difference(y[after], y[~after], binary=binary)
        means = [_mean(x[ever]), _mean(x[~ever]), _mean(y[~after]), _mean(y[after])]
        records.append((c, smd_before, smd_after, *means))
    return pd.DataFrame(records, columns=list(BALANCE_COLUMNS))


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if x.size else float("nan")
