"""Model diagnostics: the proportional-hazards test by scaled Schoenfeld residuals.

Grambsch & Therneau (Biometrika 1994): if ``beta_j(t) = beta_j + theta_j g(t)``, the scaled
Schoenfeld residuals ``s*_k = d V s_k`` (``d`` events, ``V`` the model variance) satisfy
``E[s*_k] + beta = beta(t_k)``; regressing them on ``g(t)`` gives, per covariate,

    T_j = (sum_k (g_k - gbar) s*_kj)^2 / (d V_jj sum_k (g_k - gbar)^2)  ~  chi2(1)

and the global ``T = (sum_k (g_k - gbar) s_k)' V (sum ...) d / sum (g_k - gbar)^2 ~ chi2(p)``.
This is the approximation of R survival < 3.0 and lifelines (R's current ``cox.zph`` uses the
exact score test and gives slightly different values). ``g`` = ``1 - KM(t)`` by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from scipy import stats

from ..engine.coxph import schoenfeld_residuals
from ..errors import AnalysisError
from .results import ModelResult

TRANSFORMS = ("km", "rank", "identity", "log")


@dataclass(frozen=True)
class PHTestResult:
    """Per-covariate and global PH tests (``table``: ``term, statistic, df, p_value``)."""

    table: pd.DataFrame
    transform: str
    scaled_residuals: pd.DataFrame

    def summary(self) -> str:
        lines = [f"PH test (scaled Schoenfeld residuals, g(t) = {self.transform}):"]
        for r in self.table.itertuples():
            lines.append(f"  {r.term:<20} chi2 {r.statistic:8.3f} (df {r.df})  p={r.p_value:.3g}")
        return "\n".join(lines)


def _time_transform(stop: np.ndarray, event: np.ndarray, weights, transform: str) -> np.ndarray:
    if transform == "km":
        km = KaplanMeierFitter().fit(stop, event, weights=weights)
        return 1.0 - km.survival_function_at_times(stop).to_numpy()
    if transform == "rank":  # rank among event times, ties averaged (lifelines breaks ties)
        ranks = np.zeros(stop.size)
        ranks[event > 0] = stats.rankdata(stop[event > 0])
        return ranks
    if transform == "identity":
        return stop.astype(float)
    return np.log(stop)


def ph_test(result: ModelResult, transform: str = "km") -> PHTestResult:
    """Test proportional hazards for a model from :func:`reawaken.analysis.cox.fit_cox`.

    Parameters
    ----------
    result : ModelResult
        A fitted Cox model (it carries the data it was fitted on).
    transform : {"km", "rank", "identity", "log"}
        The time scale ``g(t)`` the residuals are regressed on; "km" is ``1 - KM(t)``.
    """
    if transform not in TRANSFORMS:
        raise AnalysisError(f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    arrays = result.extra.get("arrays")
    if arrays is None:
        raise AnalysisError("ph_test needs a Cox model fitted by reawaken's fit_cox")
    variance = result.extra["model_variance"]
    coef = result.table["coef"].to_numpy()
    rows, resid = schoenfeld_residuals(
        arrays["start"],
        arrays["stop"],
        arrays["event"],
        arrays["x"],
        coef,
        weights=arrays["weights"],
        strata=arrays["strata"],
        ties=result.extra["ties"],
    )
    stop = arrays["stop"]
    g_all = _time_transform(stop, arrays["event"], arrays["weights"], transform)
    g = g_all[rows] - g_all[rows].mean()
    d = rows.size
    scaled = d * resid @ variance
    per_term = (g @ scaled) ** 2 / (d * np.diag(variance) * np.sum(g**2))
    u = g @ resid
    global_stat = float(u @ variance @ u * d / np.sum(g**2))
    terms = list(result.table["term"])
    table = pd.DataFrame(
        {
            "term": [*terms, "GLOBAL"],
            "statistic": [*per_term, global_stat],
            "df": [1] * len(terms) + [len(terms)],
        }
    )
    table["p_value"] = stats.chi2.sf(table["statistic"], table["df"])
    scaled_frame = pd.DataFrame(scaled + coef, columns=terms).assign(time=stop[rows])
    return PHTestResult(table, transform, scaled_frame)
