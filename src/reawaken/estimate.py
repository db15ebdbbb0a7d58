"""The Estimate record: one effect estimate on the ratio scale with its uncertainty."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class Estimate:
    """One estimate of a ratio measure (HR or OR), analysed on the log scale.

    Attributes
    ----------
    measure : str
        What is estimated, e.g. ``"HR"`` or ``"OR"``.
    method : str
        How, e.g. ``"time-varying Cox (lifelines, Efron)"``.
    estimate : float
        The ratio ``exp(log_estimate)``.
    se : float
        Standard error of the **log** ratio.
    ci_low, ci_high : float
        95% Wald limits ``exp(log_estimate -/+ 1.96 se)``.
    p_value : float
        Two-sided Wald p-value for ratio = 1.
    n : int
        Rows analysed: persons, or person-set rows in matched designs.
    events : int
        Outcome events analysed: distinct persons with the outcome (in matched designs a
        person whose outcome recurs in several sets counts once).
    variance : str
        Which variance estimator ``se`` comes from: ``"model"`` (inverse information),
        ``"robust"`` (sandwich clustered on person, Lin & Wei 1989), ``"shared-members"``
        (sandwich over every pair of matched sets that share a person) or ``"bootstrap"``.
    se_model : float
        Model-based SE of the log ratio (NaN where not computed).
    se_robust : float
        Person-clustered robust SE of the log ratio (NaN where not computed).
    """

    measure: str
    method: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    events: int
    variance: str = "model"
    se_model: float = float("nan")
    se_robust: float = float("nan")

    @classmethod
    def from_log(
        cls,
        measure: str,
        method: str,
        log_estimate: float,
        se: float,
        n: int,
        events: int,
        level: float = 0.95,
        *,
        variance: str = "model",
        se_model: float | None = None,
        se_robust: float = float("nan"),
    ) -> Estimate:
        """Build from a log-ratio and its SE with Wald limits and p-value.

        ``se_model`` defaults to ``se`` when ``variance == "model"`` (else NaN)."""
        z = stats.norm.ppf(0.5 + level / 2)
        if se_model is None:
            se_model = se if variance == "model" else float("nan")
        with np.errstate(over="ignore"):  # a huge SE (near-separated data) gives an inf limit
            est = cls._build(measure, method, log_estimate, se, n, events, z)
        return replace(
            est, variance=variance, se_model=float(se_model), se_robust=float(se_robust)
        )

    @classmethod
    def _build(cls, measure, method, log_estimate, se, n, events, z) -> Estimate:
        return cls(
            measure=measure,
            method=method,
            estimate=float(np.exp(log_estimate)),
            se=float(se),
            ci_low=float(np.exp(log_estimate - z * se)),
            ci_high=float(np.exp(log_estimate + z * se)),
            p_value=float(2 * stats.norm.sf(abs(log_estimate) / se)),
            n=int(n),
            events=int(events),
        )

    @property
    def log_estimate(self) -> float:
        return float(np.log(self.estimate))

    @property
    def ci_width_log(self) -> float:
        """Width of the CI on the log scale, ``ln(high) - ln(low)``."""
        return float(np.log(self.ci_high) - np.log(self.ci_low))

    def to_dict(self) -> dict[str, float | int | str]:
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """A one-row tidy DataFrame with snake_case columns."""
        return pd.DataFrame([self.to_dict()])

    def summary(self) -> str:
        """E.g. ``HR 1.44 (95% CI 1.01-2.05), p=0.04; n=36,845, 352 events [method]``.

        ``n`` counts the rows analysed: persons, or person-set rows in matched designs."""
        return (
            f"{self.measure} {self.estimate:.2f} (95% CI {self.ci_low:.2f}-{self.ci_high:.2f}), "
            f"p={self.p_value:.3g}; n={self.n:,}, {self.events:,} events [{self.method}]"
        )
