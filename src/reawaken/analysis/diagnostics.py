"""Model diagnostics: the proportional-hazards test by scaled Schoenfeld residuals.

Grambsch & Therneau (Biometrika 1994): if ``beta_j(t) = beta_j + theta_j g(t)``, the score test
of ``theta = 0`` in the Cox model with the extra covariates ``x g(t)``, at ``(beta_hat, 0)``, is

    T = U' I^{-1} U,   U = (0, U_theta),
    U_theta = sum_k g_k (sum_{i in D_k} w_i x_i - sum_j a_kj z_kj)

with the full ``2p x 2p`` information ``I`` of ``(beta, theta)`` (see
:mod:`reawaken.engine.zph`): ``chi2(p)`` globally, ``chi2(1)`` per term from the rows and columns
``(beta, theta_j)``. This is ``cox.zph`` of R survival >= 3.0 (Therneau; its documentation's
note: before 3.0 "a fast approximation to the score test", later "the actual score test"),
reproduced to 1e-6 in ``tests/analysis/test_ph_test_reference.py``. R survival < 3.0 and
lifelines' ``proportional_hazard_test`` use that approximation, which replaces each event time's
information ``I_k`` by the average ``I / d`` (``T_j = (sum_k g_k s*_kj)^2 / (d V_jj sum_k g_k^2)``
with scaled residuals ``s*``), exact only when the risk-set covariance of ``x`` is constant over
time; on the Rossi data with ``g = t`` it gives age 12.06 where the score test gives 6.62
(tests/analysis/test_cox.py).

``g`` follows ``cox.zph``: ``"km"`` is ``1 - S(t-)`` of the unweighted, unstratified
left-continuous Kaplan–Meier curve, ``"rank"`` the average rank of the row's time among all
rows, ``"identity"`` the time, ``"log"`` its logarithm; each is centered at its mean over event
rows. The scaled residuals are ``s_k V_s^{-1} + beta_hat`` with ``V_s`` the information divided
by the number of events of the strata in which each covariate varies (R's ``cox.zph$y``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..checks import checked
from ..engine.zph import ZphTerms, kaplan_meier_left, zph_terms
from ..errors import AnalysisError
from .results import ModelResult

TRANSFORMS = ("km", "rank", "identity", "log")


@dataclass(frozen=True)
class PHTestResult:
    """Per-covariate and global PH tests.

    Attributes
    ----------
    table : DataFrame
        ``term, statistic, df, p_value``; the last row is ``GLOBAL``.
    transform : str
    scaled_residuals : DataFrame
        One column per term, one row per event, sorted by stratum and time; the index has the
        levels ``row`` (row of the fitted data), ``time`` and ``g`` (the uncentered transform).
        NaN where the covariate is constant within the event's stratum.
    """

    table: pd.DataFrame
    transform: str
    scaled_residuals: pd.DataFrame

    def summary(self) -> str:
        lines = [f"PH test (scaled Schoenfeld residuals, g(t) = {self.transform}):"]
        for r in self.table.itertuples():
            lines.append(f"  {r.term:<20} chi2 {r.statistic:8.3f} (df {r.df})  p={r.p_value:.3g}")
        return "\n".join(lines)


def time_transform(
    start: np.ndarray | None, stop: np.ndarray, event: np.ndarray, transform: str
) -> np.ndarray:
    """``g(t)`` at each row's stop time, uncentered, as R's ``cox.zph`` defines it.

    ``"km"``: ``1 - S(t-)``, ``S`` the unweighted left-continuous Kaplan–Meier estimate
    (Kaplan & Meier 1958) over all rows; ``"rank"``: ``rank(t)`` among all rows, ties averaged;
    ``"identity"``: ``t``; ``"log"``: ``log t``.
    """
    if transform == "km":
        return 1.0 - kaplan_meier_left(start, stop, event)
    if transform == "rank":
        return stats.rankdata(stop)
    if transform == "identity":
        return np.asarray(stop, dtype=float)
    if np.any(np.asarray(stop) <= 0):
        raise AnalysisError(
            "ph_test: transform='log' needs positive times, some stop times are <= 0; "
            "fix: use transform='km' or 'rank', or measure time from an earlier origin"
        )
    return np.log(stop)


def score_tests(terms: ZphTerms) -> tuple[np.ndarray, float]:
    """Per-term and global score statistics ``u' I^{-1} u`` with ``u = (0, U_theta)``
    (Grambsch & Therneau 1994; per term ``I`` restricted to ``(beta, theta_j)``, as cox.zph)."""
    u_theta, info = terms.score_theta, terms.information
    p = u_theta.size
    per_term = np.empty(p)
    for j in range(p):
        kk = [*range(p), p + j]
        u = np.zeros(p + 1)
        u[-1] = u_theta[j]
        per_term[j] = np.linalg.solve(info[np.ix_(kk, kk)], u) @ u
    u = np.concatenate([np.zeros(p), u_theta])
    return per_term, float(np.linalg.solve(info, u) @ u)


def _events_used(x: np.ndarray, strata: np.ndarray, event_strata: np.ndarray) -> np.ndarray:
    """Per stratum (rows) and covariate (columns): the stratum's number of events when the
    covariate varies within the stratum, else 0 (R's ``used`` matrix)."""
    n_strata = int(strata.max()) + 1
    order = np.argsort(strata, kind="stable")
    bounds = np.searchsorted(strata[order], np.arange(n_strata))
    xs = x[order]
    varies = np.maximum.reduceat(xs, bounds, axis=0) > np.minimum.reduceat(xs, bounds, axis=0)
    return varies * np.bincount(event_strata, minlength=n_strata)[:, None]


def scaled_schoenfeld(
    terms: ZphTerms, x: np.ndarray, strata: np.ndarray, coef: np.ndarray
) -> np.ndarray:
    """Scaled residuals ``s_k V_s^{-1} + beta_hat`` (Grambsch & Therneau 1994, R >= 3.0).

    ``V = I / W`` elementwise, ``W_jl = sum_s min(used_sj, used_sl)`` (events of the strata in
    which covariates ``j`` and ``l`` both vary); a stratum's residuals use the block of ``V`` of
    the covariates that vary in it, the others are NaN.
    """
    p = coef.size
    used = _events_used(x, strata, terms.event_strata)
    weight = np.minimum(used[:, :, None], used[:, None, :]).sum(axis=0)
    vmean = terms.information[:p, :p] / np.where(weight == 0, 1, weight)
    out = np.full(terms.schoenfeld.shape, np.nan)
    pattern = used[terms.event_strata] > 0  # covariates varying in each event's stratum
    for varies in np.unique(pattern, axis=0):  # few patterns, however many strata
        rows = np.flatnonzero((pattern == varies).all(axis=1))
        k = np.flatnonzero(varies)
        if k.size:
            sub = terms.schoenfeld[np.ix_(rows, k)]
            out[np.ix_(rows, k)] = np.linalg.solve(vmean[np.ix_(k, k)], sub.T).T
    return out + coef


@checked(skip=("result",))
def ph_test(result: ModelResult, transform: str = "km") -> PHTestResult:
    """Test proportional hazards for a model from :func:`reawaken.analysis.cox.fit_cox`.

    Grambsch–Therneau score test ``T = U' I^{-1} U`` of ``beta(t) = beta + theta g(t)``
    (Grambsch & Therneau, Biometrika 1994), exactly as ``cox.zph`` in R survival >= 3.0
    (module docstring): per term ``chi2(1)``, globally ``chi2(p)``.

    Parameters
    ----------
    result : ModelResult
        A fitted Cox model (it carries the data it was fitted on): time-fixed or
        (start, stop], stratified or not, weighted or not, Efron or Breslow ties.
    transform : {"km", "rank", "identity", "log"}
        The time scale ``g(t)``; "km" is ``1 - S(t-)`` of the Kaplan–Meier curve.

    Examples
    --------
    >>> import reawaken as rw
    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi()
    >>> fit = rw.fit_cox(rossi, duration="week", event="arrest", covariates=["fin", "age", "prio"])
    >>> test = rw.ph_test(fit)
    >>> test.table.round(3)
         term  statistic  df  p_value
    0     fin      0.064   1    0.801
    1     age      6.325   1    0.012
    2    prio      0.519   1    0.471
    3  GLOBAL      7.137   3    0.068
    """
    if transform not in TRANSFORMS:
        raise AnalysisError(
            f"ph_test: transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}; "
            "fix: pass one of those names"
        )
    arrays = result.extra.get("arrays")
    if arrays is None:
        raise AnalysisError(
            "ph_test needs a Cox model fitted by reawaken's fit_cox; fix: fit it with fit_cox"
        )
    start, stop, event, x = arrays["start"], arrays["stop"], arrays["event"], arrays["x"]
    strata = np.zeros(stop.size, dtype=np.int64) if arrays["strata"] is None else arrays["strata"]
    coef = result.table["coef"].to_numpy()
    g = time_transform(start, stop, event, transform)
    terms = zph_terms(
        start,
        stop,
        event,
        x,
        coef,
        g - g[event > 0].mean(),
        weights=arrays["weights"],
        strata=strata,
        ties=result.extra["ties"],
    )
    per_term, global_stat = score_tests(terms)
    names = list(result.table["term"])
    rows = terms.event_rows
    index = pd.MultiIndex.from_arrays([rows, stop[rows], g[rows]], names=["row", "time", "g"])
    scaled = pd.DataFrame(scaled_schoenfeld(terms, x, strata, coef), index=index, columns=names)
    return PHTestResult(_table(names, per_term, global_stat), transform, scaled)


def _table(names: list[str], per_term: np.ndarray, global_stat: float) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "term": [*names, "GLOBAL"],
            "statistic": [*per_term, global_stat],
            "df": [1] * len(names) + [len(names)],
        }
    )
    table["p_value"] = stats.chi2.sf(table["statistic"], table["df"])
    return table
