"""Cox partial likelihood by Newton–Raphson for (start, stop] data with strata, weights and
Breslow or Efron ties (Cox 1972; Efron 1977; Therneau & Grambsch 2000, ch. 3).

Per event time ``k`` with tied events ``D_k`` (``d_k`` of them, weights summing to ``W_k``),
risk-set sums ``S0, S1, S2`` of ``w e^{x'b}``, ``w e^{x'b} x`` and ``w e^{x'b} x x'`` and the
tied-event sums ``E0, E1, E2``, the Efron log partial likelihood is

    sum_{i in D_k} w_i x_i'b - (W_k/d_k) sum_{j<d_k} log(S0 - (j/d_k) E0)

(Breslow: one term ``W_k log S0``), the weighting R's ``coxph`` uses for case weights. Score
residuals for the Lin & Wei (JASA 1989) sandwich follow R's ``coxscore`` (Efron-adjusted).
Everything is vectorized; the only Python loop is over the largest number of tied events.

Monotone likelihood (separation: e.g. no events among the exposed, so the MLE is at minus
infinity) is detected as R's ``coxph`` does (Therneau & Grambsch 2000, sec. 3.5; survival's
``coxph.fit``, which warns "Loglik converged before variable ...; coefficient may be infinite"
or "Ran out of iterations"): Newton–Raphson only converges when the step itself is below
1e-9, so a coefficient still drifting while the log-likelihood has flattened keeps iterating
until ``|coef| >`` :data:`MAX_ABS_COEF` or the iterations run out; either raises
:class:`ConvergenceError` naming the variables still moving (``|step| > sqrt(1e-9) * |coef|``,
R's ``toler.inf``). Non-finite inputs, information or variance raise it as well; it is an
:class:`~reawaken.errors.AnalysisError`, so a replicate is recorded as failed with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import AnalysisError
from .risksets import (
    RiskSetIndex,
    build_risk_sets,
    cumulative_at_rows,
    moment_design,
    moment_sources,
    risk_set_moments,
    risk_set_sums,
)

#: A coefficient beyond this (a hazard ratio of e^30 ~ 1e13) is taken as diverging.
MAX_ABS_COEF = 30.0
#: R's ``coxph.control(toler.inf = sqrt(eps))``: a step larger than this times ``|coef|``
#: means the variable is still moving.
TOLER_INF = 1e-9**0.5


class ConvergenceError(AnalysisError, ArithmeticError):
    """Newton–Raphson failed (monotone likelihood / separation, singular or non-finite
    information). ``variables`` holds the 0-based columns of ``x`` whose coefficients may be
    infinite (empty when not known)."""

    def __init__(self, message: str, variables: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.variables = tuple(int(v) for v in variables)

    def __reduce__(self):
        """Pickle support, so the error survives a trip through a process pool."""
        return (type(self), (str(self), self.variables))


@dataclass(frozen=True)
class CoxEngineFit:
    """Estimates from :func:`fit_coxph`.

    Attributes
    ----------
    coef : ndarray (p,)
    information : ndarray (p, p)
        Observed information (minus the Hessian of the log partial likelihood) at ``coef``.
    variance : ndarray (p, p)
        Model-based variance ``information^{-1}``.
    loglik, loglik_null : float
        Log partial likelihood at ``coef`` and at 0.
    iterations : int
    events : int
        Number of event rows.
    """

    coef: np.ndarray
    information: np.ndarray
    variance: np.ndarray
    loglik: float
    loglik_null: float
    iterations: int
    events: int


@dataclass(frozen=True)
class _Data:
    x: np.ndarray
    w: np.ndarray
    d: np.ndarray
    index: RiskSetIndex
    efron: bool
    z_by_stop: np.ndarray
    z_by_start: np.ndarray
    source: np.ndarray


def _prepare(start, stop, event, x, weights, strata, ties) -> _Data:
    stop = np.asarray(stop, dtype=float)
    n = stop.shape[0]
    x = np.asarray(x, dtype=float).reshape(n, -1)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    st = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    t0 = np.full(n, -np.inf) if start is None else np.asarray(start, dtype=float)
    d = np.asarray(event, dtype=float)
    if ties not in ("efron", "breslow"):
        raise AnalysisError(f"ties must be 'efron' or 'breslow', got {ties!r}; fix: pick one")
    for name, values in (("x", x), ("weights", w), ("event", d), ("stop", stop)):
        if not np.all(np.isfinite(values)):
            raise AnalysisError(
                f"Cox engine: {name} has missing or infinite values; fix: drop or impute them"
            )
    index = build_risk_sets(t0, stop, d, st)
    columns = np.ascontiguousarray(x.T)  # (p, n): the design below is built from rows
    source = moment_sources(columns.T)
    return _Data(
        x,
        w,
        d,
        index,
        ties == "efron",
        moment_design(np.take(columns, index.stop_order, axis=1).T, source),
        moment_design(np.take(columns, index.start_order, axis=1).T, source),
        source,
    )


def _tied_sums(data: _Data, values: np.ndarray) -> np.ndarray:
    idx = data.index
    if idx.event_rows.size == 0:
        return np.zeros((0, *values.shape[1:]))
    return np.add.reduceat(values[idx.event_rows], idx.group_starts, axis=0)


def _tie_steps(efron: bool, dk: np.ndarray, wk: np.ndarray):
    """The terms of the tie correction, one per rank ``j`` within a tied event time.

    Efron: for ``j = 0 .. d_k - 1`` the risk set loses the fraction ``j / d_k`` of the tied
    events' risk, each term weighted ``w_k / d_k`` (mean event weight); Breslow: one term,
    fraction 0, weight ``w_k`` (Therneau & Grambsch 2000, sec. 3.3). Yields
    ``(active, frac, meanwt)``: event times with a ``j``-th tied event, the fractions (0 where
    inactive) and the term weights.
    """
    if not efron:
        yield np.ones(dk.shape, dtype=bool), np.zeros_like(dk), wk
        return
    meanwt = wk / np.where(dk > 0, dk, 1.0)
    for j in range(int(dk.max()) if dk.size else 0):
        active = dk > j
        yield active, np.where(active, j / dk, 0.0), meanwt


def _terms(data: _Data, beta: np.ndarray, *, second: bool = True):
    """Log-likelihood, score and information at ``beta`` plus per-time pieces."""
    x, w, idx = data.x, data.w, data.index
    eta = x @ beta
    shift = eta.max() if eta.size else 0.0
    r = w * np.exp(eta - shift)
    s0, s1, s2 = risk_set_moments(idx, r, data.z_by_stop, data.z_by_start, x.shape[1], data.source)
    e0 = _tied_sums(data, r)
    ev_rx = r[idx.event_rows, None] * x[idx.event_rows]  # event rows only: small
    e1 = (
        np.add.reduceat(ev_rx, idx.group_starts, axis=0)
        if idx.event_rows.size
        else np.zeros((0, x.shape[1]))
    )
    wk = _tied_sums(data, w)
    dk = idx.ties.astype(float)
    p = x.shape[1]
    if second:
        rxx = ev_rx[:, :, None] * x[idx.event_rows][:, None, :]
        e2 = (
            np.add.reduceat(rxx, idx.group_starts, axis=0)
            if idx.event_rows.size
            else np.zeros((0, p, p))
        )
    ev = idx.event_rows
    loglik = float(np.sum(w[ev] * (eta[ev] - shift)))
    score = (w[ev, None] * x[ev]).sum(axis=0)
    info = np.zeros((p, p))
    for active, frac, meanwt in _tie_steps(data.efron, dk, wk):
        den = s0 - frac * e0
        a = meanwt[active]
        loglik -= float(np.sum(a * np.log(den[active])))
        z = (s1[active] - frac[active, None] * e1[active]) / den[active, None]
        score -= (a[:, None] * z).sum(axis=0)
        if second:
            m2 = (s2[active] - frac[active, None, None] * e2[active]) / den[active, None, None]
            info += np.einsum("k,kij->ij", a, m2 - z[:, :, None] * z[:, None, :])
    return loglik, score, info


def fit_coxph(
    start: np.ndarray | None,
    stop: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    ties: str = "efron",
    max_iter: int = 60,
    tol: float = 1e-11,
) -> CoxEngineFit:
    """Maximize the (weighted, stratified) Cox partial likelihood by Newton–Raphson.

    Parameters
    ----------
    start : ndarray or None
        Entry times (row not at risk at ``t <= start``); None for time-fixed data.
    stop : ndarray
        Exit times (event or censoring).
    event : ndarray
        1 for an event at ``stop``, 0 otherwise.
    x : ndarray (n, p)
        Covariates.
    weights : ndarray, optional
        Case weights (> 0).
    strata : ndarray of int, optional
        Stratum codes ``0..S-1``; each stratum has its own baseline hazard.
    ties : {"efron", "breslow"}
    max_iter, tol : Newton–Raphson limits; convergence when the step's largest absolute
        change and the relative log-likelihood change are both below ``tol``-scaled bounds.

    Raises
    ------
    ConvergenceError
        When the likelihood is monotone (an estimate runs off to infinity) or iterations run out.
    """
    data = _prepare(start, stop, event, x, weights, strata, ties)
    p = data.x.shape[1]
    beta = np.zeros(p)
    loglik, score, info = _terms(data, beta)
    loglik_null = loglik
    iterations, step = 0, np.zeros(p)
    for iterations in range(1, max_iter + 1):  # noqa: B007
        step = _newton_step(info, score)
        halvings = 0
        while True:
            cand = beta + step
            new_loglik, new_score, new_info = _terms(data, cand)
            if np.isfinite(new_loglik) and new_loglik >= loglik - 1e-12 * abs(loglik):
                break
            step /= 2.0
            halvings += 1
            if halvings > 30:
                raise ConvergenceError("step halving failed to increase the partial likelihood")
        converged = np.max(np.abs(step)) < 1e-9 and abs(new_loglik - loglik) <= tol * max(
            1.0, abs(new_loglik)
        )
        beta, loglik, score, info = cand, new_loglik, new_score, new_info
        if np.any(np.abs(beta) > MAX_ABS_COEF):
            raise _monotone(beta, step, f"a coefficient diverges (|coef| > {MAX_ABS_COEF:g})")
        if converged:
            break
    else:
        raise _monotone(beta, step, f"no convergence after {max_iter} Newton–Raphson iterations")
    variance = _variance(info)
    return CoxEngineFit(
        coef=beta,
        information=info,
        variance=variance,
        loglik=loglik,
        loglik_null=loglik_null,
        iterations=iterations,
        events=int(data.index.event_rows.size),
    )


def _newton_step(info: np.ndarray, score: np.ndarray) -> np.ndarray:
    if not (np.all(np.isfinite(info)) and np.all(np.isfinite(score))):
        raise ConvergenceError("non-finite score or information (overflow in exp(x'b))")
    try:
        return np.linalg.solve(info, score)
    except np.linalg.LinAlgError as exc:
        raise ConvergenceError("singular information matrix (collinear covariates?)") from exc


def _variance(info: np.ndarray) -> np.ndarray:
    """``info^{-1}``, refusing a singular or non-positive result."""
    try:
        variance = np.linalg.inv(info)
    except np.linalg.LinAlgError as exc:
        raise ConvergenceError("singular information matrix at the estimate") from exc
    diag = np.diag(variance)
    if not (np.all(np.isfinite(variance)) and np.all(diag > 0)):
        raise ConvergenceError("the variance at the estimate is not finite and positive")
    return variance


def _monotone(beta: np.ndarray, step: np.ndarray, what: str) -> ConvergenceError:
    """The error for a diverging fit, naming the variables still moving (R's toler.inf)."""
    moving = (np.abs(step) > TOLER_INF * np.maximum(np.abs(beta), 1.0)) | (
        np.abs(beta) > MAX_ABS_COEF
    )
    variables = tuple(np.flatnonzero(moving))
    cols = ", ".join(str(v) for v in variables) or "unknown"
    return ConvergenceError(
        f"monotone likelihood: {what}; the coefficient of x column(s) {cols} (0-based) may be "
        "infinite, typically because an exposure group has no events or a covariate "
        "separates events perfectly",
        variables,
    )


def _time_terms(data: _Data, coef: np.ndarray) -> dict[str, np.ndarray]:
    """Per-event-time hazard increments and (Efron) means at ``coef`` (R's ``coxscore``)."""
    idx = data.index
    eta = data.x @ np.asarray(coef, dtype=float)
    r_all = np.exp(eta - (eta.max() if eta.size else 0.0))
    r = data.w * r_all
    rx = r[:, None] * data.x
    s0, s1 = risk_set_sums(idx, r), risk_set_sums(idx, rx)
    e0, e1 = _tied_sums(data, r), _tied_sums(data, rx)
    wk = _tied_sums(data, data.w)
    dk = idx.ties.astype(float)
    k_count, p = s1.shape
    out = {
        "haz": np.zeros(k_count),
        "xhaz": np.zeros((k_count, p)),
        "e_haz": np.zeros(k_count),
        "e_xhaz": np.zeros((k_count, p)),
        "zbar": np.zeros((k_count, p)),
        "risk": r_all,
    }
    for active, frac, meanwt in _tie_steps(data.efron, dk, wk):
        den = np.where(active, s0 - frac * e0, 1.0)
        a = np.where(active, meanwt / den, 0.0)
        z = (s1 - frac[:, None] * e1) / den[:, None]
        out["haz"] += a
        out["xhaz"] += a[:, None] * z
        out["e_haz"] += a * (1.0 - frac)
        out["e_xhaz"] += (a * (1.0 - frac))[:, None] * z
        out["zbar"] += np.where(active, 1.0 / (dk if data.efron else 1.0), 0.0)[:, None] * z
    return out


def score_residuals(
    start: np.ndarray | None,
    stop: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    coef: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    ties: str = "efron",
) -> np.ndarray:
    """Per-row score residuals (unweighted), shape (n, p), as R's ``residuals(fit, "score")``.

    ``r_i = delta_i (x_i - xbar_i) - e^{eta_i} sum_k [x_i dLambda_k - dXLambda_k]`` over the
    event times at which row ``i`` is at risk, with Efron's adjustment for a row's own tied
    event time. Summing ``w_i r_i`` over rows gives the score (zero at the MLE).
    """
    data = _prepare(start, stop, event, x, weights, strata, ties)
    idx, xx = data.index, data.x
    t = _time_terms(data, coef)
    lam = cumulative_at_rows(idx, t["haz"], "stop") - cumulative_at_rows(idx, t["haz"], "start")
    xlam = cumulative_at_rows(idx, t["xhaz"], "stop") - cumulative_at_rows(idx, t["xhaz"], "start")
    ev, k_of = idx.event_rows, idx.event_group
    # A row's own tied event time uses the Efron-adjusted increments.
    lam[ev] += t["e_haz"][k_of] - t["haz"][k_of]
    xlam[ev] += t["e_xhaz"][k_of] - t["xhaz"][k_of]
    resid = -t["risk"][:, None] * (xx * lam[:, None] - xlam)
    resid[ev] += xx[ev] - t["zbar"][k_of]
    return resid


def schoenfeld_residuals(
    start: np.ndarray | None,
    stop: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    coef: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    ties: str = "efron",
) -> tuple[np.ndarray, np.ndarray]:
    """Schoenfeld residuals ``x_i - xbar(t_i)`` for each event row (Schoenfeld 1982).

    ``xbar`` is the risk-weighted covariate mean at the event time; with Efron ties it is the
    average over the tied events' Efron means (as R's ``residuals(fit, "schoenfeld")``).
    Returns ``(event_rows, residuals)`` with residuals of shape (events, p).
    """
    data = _prepare(start, stop, event, x, weights, strata, ties)
    zbar = _time_terms(data, coef)["zbar"]
    rows = data.index.event_rows
    return rows, data.x[rows] - zbar[data.index.event_group]
