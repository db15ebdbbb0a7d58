"""E-values for unmeasured confounding (VanderWeele & Ding, Ann Intern Med 2017).

For a risk ratio ``RR >= 1`` the E-value is ``E = RR + sqrt(RR (RR - 1))``; for ``RR < 1`` the
same formula is applied to ``1 / RR``. It is the minimum strength of association, on the risk-ratio
scale, that an unmeasured confounder would need with both the exposure and the outcome, above the
measured confounders, to fully explain away the estimate. The E-value of the CI is that of the CI
limit closest to the null (1 when the CI already includes the null).

It inverts the joint bounding factor of Ding & VanderWeele (Epidemiology 2016),
``B = RR_EU RR_UD / (RR_EU + RR_UD - 1)``: ``B(E, E) = RR`` (see :func:`bias_factor`).

Odds and hazard ratios are first put on the risk-ratio scale (VanderWeele & Ding 2017; VanderWeele,
Biometrics 2020 for the hazard ratio), with ``rare_outcome`` meaning an outcome probability below
about 15% at the end of follow-up:

* ``RR``: as is;
* ``OR``: rare outcome ``RR ~ OR``; common outcome ``RR ~ sqrt(OR)``;
* ``HR``: rare outcome ``RR ~ HR``; common outcome
  ``RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``.

Every conversion is increasing and maps 1 to 1, so the CI limits convert in the same order.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import AnalysisError
from ..findings import ReportedFinding

__all__ = [
    "MEASURES",
    "EValue",
    "bias_factor",
    "evalue",
    "evalue_for_finding",
    "evalue_rr",
    "to_risk_ratio",
]

Measure = Literal["RR", "OR", "HR"]
MEASURES: tuple[str, ...] = ("RR", "OR", "HR")


def _positive(where: str, name: str, value: Any) -> float:
    """``value`` as a finite positive float, else an :class:`AnalysisError`."""
    try:
        x = float(value)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(
            f"{where}: {name} = {value!r} is not a number; fix: pass a positive ratio such as 1.44"
        ) from exc
    if isinstance(value, bool) or not (math.isfinite(x) and x > 0):
        raise AnalysisError(
            f"{where}: {name} = {value!r} must be a finite positive ratio; fix: pass the ratio "
            "itself (e.g. 1.44), not its log or a difference"
        )
    return x


def _measure(where: str, measure: Any) -> str:
    """Canonical upper-case measure name, else an :class:`AnalysisError`."""
    name = measure.strip().upper() if isinstance(measure, str) else measure
    if name not in MEASURES:
        raise AnalysisError(
            f"{where}: unknown measure {measure!r}; fix: pass measure= one of {', '.join(MEASURES)}"
        )
    return name


def evalue_rr(rr: float) -> float:
    """E-value ``E = RR + sqrt(RR (RR - 1))``, ``1/RR`` if ``RR < 1`` (VanderWeele & Ding 2017).

    Parameters
    ----------
    rr : float
        A risk ratio (positive); protective ratios (< 1) are handled by symmetry.

    Returns
    -------
    float
        The E-value, >= 1 (exactly 1 for ``RR = 1``).
    """
    x = _positive("evalue_rr", "rr", rr)
    if x < 1.0:
        x = 1.0 / x
    return x + math.sqrt(x * (x - 1.0))


def to_risk_ratio(value: float, measure: Measure, *, rare_outcome: bool = True) -> float:
    """RR ~ OR or HR if rare, else sqrt(OR) or (1-.5^√HR)/(1-.5^√(1/HR)) (VanderWeele 2017, 2020).

    Parameters
    ----------
    value : float
        The ratio (positive) on its own scale.
    measure : {"RR", "OR", "HR"}
        Scale of ``value`` (case-insensitive).
    rare_outcome : bool
        Whether the outcome is rare (probability below about 15% at the end of follow-up); ignored
        for ``"RR"``.

    Returns
    -------
    float
        The approximate risk ratio.
    """
    where = "to_risk_ratio"
    name = _measure(where, measure)
    x = _positive(where, "value", value)
    if name == "RR" or rare_outcome:
        return x
    if name == "OR":
        return math.sqrt(x)
    return (1.0 - 0.5 ** math.sqrt(x)) / (1.0 - 0.5 ** math.sqrt(1.0 / x))


@dataclass(frozen=True)
class EValue:
    """E-values of an estimate and of its CI (VanderWeele & Ding, Ann Intern Med 2017).

    Attributes
    ----------
    measure : {"RR", "OR", "HR"}
        Scale of the estimate.
    rare_outcome : bool
        Whether the outcome was taken as rare when converting to the RR scale.
    estimate : float
        The estimate on its own scale.
    rr_point : float
        The estimate on the RR scale.
    evalue_point : float
        E-value of the estimate.
    ci_limit : float or None
        The CI limit closest to the null, on the estimate's own scale (the lower limit for a
        harmful estimate, the upper for a protective one); None without a CI or for an estimate
        exactly at the null.
    evalue_ci : float or None
        E-value of ``ci_limit``: 1 when the CI includes the null, None without a CI.
    ci_low, ci_high : float or None
        The CI as given.
    rr_ci_limit : float or None
        ``ci_limit`` on the RR scale.
    """

    measure: str
    rare_outcome: bool
    estimate: float
    rr_point: float
    evalue_point: float
    ci_limit: float | None = None
    evalue_ci: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    rr_ci_limit: float | None = None

    def _conversion(self) -> str:
        if self.measure == "RR":
            return ""
        outcome = "rare outcome" if self.rare_outcome else "common outcome"
        return f" (RR {self.rr_point:.2f}, {outcome})"

    def summary(self) -> str:
        """One plain-language sentence: how strong a confounder would have to be."""
        text = (
            f"For {self.measure} {self.estimate:.2f}{self._conversion()}, an unmeasured "
            "confounder associated with both exposure and outcome by a risk ratio of "
            f"{self.evalue_point:.2f} each, above the measured confounders, could explain away "
            "the estimate"
        )
        if self.evalue_ci is None:
            return text + "; no CI was given."
        if self.evalue_ci == 1.0:
            return text + "; the CI already includes the null (E-value 1 for the CI)."
        side = "lower" if self.rr_point > 1.0 else "upper"
        return (
            f"{text}; {self.evalue_ci:.2f} each could move the CI to the null (its {side} limit "
            f"{self.ci_limit:.2f})."
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (e.g. one row of a tidy table)."""
        return dataclasses.asdict(self)


def evalue(
    estimate: float,
    ci_low: float | None = None,
    ci_high: float | None = None,
    *,
    measure: Measure,
    rare_outcome: bool = True,
) -> EValue:
    """E-values of a ratio and its CI, ``E = RR + sqrt(RR (RR - 1))`` (VanderWeele & Ding 2017).

    The estimate and the CI limit closest to the null are converted to the RR scale
    (:func:`to_risk_ratio`), then :func:`evalue_rr` is applied. A CI that includes the null gets
    E-value 1. Protective estimates (< 1) use the upper limit and ``1 / RR``.

    Parameters
    ----------
    estimate : float
        The ratio estimate (positive).
    ci_low, ci_high : float, optional
        CI limits of the estimate. Only the limit on the null side is needed (``ci_low`` for an
        estimate above 1, ``ci_high`` below 1); omit both for the point E-value alone.
    measure : {"RR", "OR", "HR"}
        Scale of the estimate (case-insensitive).
    rare_outcome : bool
        Whether the outcome is rare (below about 15% at the end of follow-up); decides the OR and
        HR conversions.

    Returns
    -------
    EValue

    Raises
    ------
    AnalysisError
        For an unknown measure, a non-positive estimate or limit, a CI that does not contain the
        estimate, or a CI given without the limit on the null side.
    """
    where = "evalue"
    name = _measure(where, measure)
    est = _positive(where, "estimate", estimate)
    low = None if ci_low is None else _positive(where, "ci_low", ci_low)
    high = None if ci_high is None else _positive(where, "ci_high", ci_high)
    if (low is not None and low > est) or (high is not None and high < est):
        raise AnalysisError(
            f"{where}: the CI ({ci_low}, {ci_high}) does not contain the estimate {est}; fix: "
            "pass ci_low <= estimate <= ci_high, on the same scale as the estimate"
        )
    rare = bool(rare_outcome)
    rr = to_risk_ratio(est, name, rare_outcome=rare)
    limit: float | None = None
    rr_limit: float | None = None
    e_ci: float | None = None
    if low is not None or high is not None:
        if rr == 1.0:
            e_ci = 1.0
        else:
            limit = low if rr > 1.0 else high
            if limit is None:
                needed = "ci_low" if rr > 1.0 else "ci_high"
                raise AnalysisError(
                    f"{where}: the E-value of the CI needs its limit closest to the null, "
                    f"{needed}, which is missing; fix: pass {needed}, or no CI at all"
                )
            rr_limit = to_risk_ratio(limit, name, rare_outcome=rare)
            crosses = rr_limit <= 1.0 if rr > 1.0 else rr_limit >= 1.0
            e_ci = 1.0 if crosses else evalue_rr(rr_limit)
    return EValue(
        measure=name,
        rare_outcome=rare,
        estimate=est,
        rr_point=rr,
        evalue_point=evalue_rr(rr),
        ci_limit=limit,
        evalue_ci=e_ci,
        ci_low=low,
        ci_high=high,
        rr_ci_limit=rr_limit,
    )


def evalue_for_finding(finding: ReportedFinding, *, rare_outcome: bool = True) -> EValue:
    """:func:`evalue` of a reported finding's measure, estimate and CI (VanderWeele & Ding 2017).

    Parameters
    ----------
    finding : ReportedFinding
        A published ratio with its CI; its ``measure`` must be ``"RR"``, ``"OR"`` or ``"HR"``.
    rare_outcome : bool
        Whether the outcome is rare (below about 15% at the end of follow-up).

    Returns
    -------
    EValue
    """
    if not isinstance(finding, ReportedFinding):
        raise AnalysisError(
            f"evalue_for_finding: expected a ReportedFinding, got {type(finding).__name__}; fix: "
            "pass reawaken.findings.load_finding(name), or call evalue() with the numbers"
        )
    return evalue(
        finding.estimate,
        finding.ci_low,
        finding.ci_high,
        measure=finding.measure,
        rare_outcome=rare_outcome,
    )


def bias_factor(rr_eu: float, rr_ud: float) -> float:
    """Bounding factor ``B = RR_EU RR_UD / (RR_EU + RR_UD - 1)`` (Ding & VanderWeele 2016).

    The largest factor by which a confounder with these associations can shift a risk ratio;
    the E-value ``E`` of ``RR`` solves ``B(E, E) = RR``.

    Parameters
    ----------
    rr_eu : float
        Maximum risk ratio relating the exposure to the confounder (>= 1; for an inverse
        association use its reciprocal).
    rr_ud : float
        Maximum risk ratio relating the confounder to the outcome (>= 1, likewise).

    Returns
    -------
    float
        The bounding factor, >= 1.
    """
    where = "bias_factor"
    eu = _positive(where, "rr_eu", rr_eu)
    ud = _positive(where, "rr_ud", rr_ud)
    for name, x in (("rr_eu", eu), ("rr_ud", ud)):
        if x < 1.0:
            raise AnalysisError(
                f"{where}: {name} = {x} is below 1; fix: express each association as a risk "
                f"ratio >= 1 (pass {1.0 / x:.4g}, its reciprocal)"
            )
    return eu * ud / (eu + ud - 1.0)
