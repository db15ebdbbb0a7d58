"""Score-test pieces for the proportional-hazards test of R survival >= 3.0 (``cox.zph``).

Grambsch & Therneau (Biometrika 1994) test ``H0: theta = 0`` in the extended model
``beta(t) = beta + theta g(t)``, i.e. the Cox model with the added covariates ``x g(t)``. At
``(beta_hat, theta = 0)`` the score for ``theta`` and the full ``2p x 2p`` information are sums
over event times ``k`` (risk set at ``t_k``, Efron or Breslow tie terms ``j`` with weight
``a_kj``, mean ``z_kj`` and covariance ``C_kj`` of ``x`` over the risk set):

    U_theta = sum_k g_k U_k,   U_k = sum_{i in D_k} w_i x_i - sum_j a_kj z_kj
    I = [[sum_k I_k, sum_k g_k I_k], [sum_k g_k I_k, sum_k g_k^2 I_k]],  I_k = sum_j a_kj C_kj

(Grambsch & Therneau 1994; Therneau, R survival >= 3.0, ``cox.zph`` documentation and its
C routines ``zph1``/``zph2``, re-derived here on :mod:`reawaken.engine.risksets`; the tie terms
are those of :func:`reawaken.engine.coxph.fit_coxph`, so ``sum_k I_k`` is the model's
information.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .coxph import _prepare, _tie_steps, _tied_sums
from .risksets import build_risk_sets, risk_set_moments, risk_set_sums


@dataclass(frozen=True)
class ZphTerms:
    """Score and information of the time-interaction model at ``theta = 0``.

    Attributes
    ----------
    score_theta : ndarray (p,)
        ``U_theta = sum_k g_k U_k`` (the score for ``beta`` itself is zero at the MLE).
    information : ndarray (2p, 2p)
        Information for ``(beta, theta)``; the top-left block is the Cox information.
    event_rows : ndarray
        Event rows, sorted by stratum and time (the order of ``schoenfeld``).
    schoenfeld : ndarray (events, p)
        Schoenfeld residuals ``x_i - xbar(t_i)`` (Efron: mean of the tie terms' means).
    event_strata : ndarray
        Stratum code of each event row.
    """

    score_theta: np.ndarray
    information: np.ndarray
    event_rows: np.ndarray
    schoenfeld: np.ndarray
    event_strata: np.ndarray


def zph_terms(
    start: np.ndarray | None,
    stop: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    coef: np.ndarray,
    g: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    strata: np.ndarray | None = None,
    ties: str = "efron",
) -> ZphTerms:
    """``U_theta``, the ``2p x 2p`` information and Schoenfeld residuals (module docstring).

    ``g`` is the (centered) time transform per row; the value of an event time's first event
    row is used (all rows sharing a time share ``g``). Covariates are centered at their means
    first, which changes nothing but the rounding of ``C_kj`` (as R does).
    """
    x = np.asarray(x, dtype=float)
    x = x - x.mean(axis=0)
    data = _prepare(start, stop, event, x, weights, strata, ties)
    idx, x, w = data.index, data.x, data.w
    p = x.shape[1]
    ev = idx.event_rows
    eta = x @ np.asarray(coef, dtype=float)
    r = w * np.exp(eta - (eta.max() if eta.size else 0.0))
    s0, s1, s2 = risk_set_moments(idx, r, data.z_by_stop, data.z_by_start, p, data.source)
    rx = r[ev, None] * x[ev]
    e0, e1 = _tied_sums(data, r), _tied_sums(data, r[:, None] * x)
    e2 = np.add.reduceat(rx[:, :, None] * x[ev][:, None, :], idx.group_starts, axis=0)
    u_k = np.add.reduceat(w[ev, None] * x[ev], idx.group_starts, axis=0)
    i_k = np.zeros((idx.n_event_times, p, p))
    zbar = np.zeros((idx.n_event_times, p))
    dk = idx.ties.astype(float)
    for active, frac, meanwt in _tie_steps(data.efron, dk, _tied_sums(data, w)):
        den = np.where(active, s0 - frac * e0, 1.0)
        a = np.where(active, meanwt, 0.0)
        z = (s1 - frac[:, None] * e1) / den[:, None]
        m2 = (s2 - frac[:, None, None] * e2) / den[:, None, None]
        u_k -= a[:, None] * z
        i_k += a[:, None, None] * (m2 - z[:, :, None] * z[:, None, :])
        zbar += np.where(active, 1.0 / (dk if data.efron else 1.0), 0.0)[:, None] * z
    gk = np.asarray(g, dtype=float)[ev[idx.group_starts]]
    info = np.zeros((2 * p, 2 * p))
    info[:p, :p] = i_k.sum(axis=0)
    info[:p, p:] = info[p:, :p] = np.einsum("k,kij->ij", gk, i_k)
    info[p:, p:] = np.einsum("k,kij->ij", gk**2, i_k)
    return ZphTerms(
        score_theta=gk @ u_k,
        information=info,
        event_rows=ev,
        schoenfeld=x[ev] - zbar[idx.event_group],
        event_strata=idx.event_strata[idx.event_group],
    )


def kaplan_meier_left(start: np.ndarray | None, stop: np.ndarray, event: np.ndarray) -> np.ndarray:
    """``S(t-)``, the left-continuous product-limit estimate ``prod_{t_k < t} (1 - d_k / n_k)``
    (Kaplan & Meier 1958), unweighted and unstratified, at each row's ``stop``.

    ``n_k`` counts rows with ``start < t_k <= stop`` (R's ``survfitKM`` on (start, stop] data);
    lifelines' ``KaplanMeierFitter(entry=...)`` counts a row entering at ``t_k`` as at risk at
    ``t_k``, hence the engine's risk sets here.
    """
    stop = np.asarray(stop, dtype=float)
    n = stop.size
    t0 = np.full(n, -np.inf) if start is None else np.asarray(start, dtype=float)
    idx = build_risk_sets(t0, stop, np.asarray(event, dtype=float), np.zeros(n, dtype=np.int64))
    at_risk = risk_set_sums(idx, np.ones(n))
    surv = np.concatenate([[1.0], np.cumprod(1.0 - idx.ties / at_risk)])
    return surv[np.searchsorted(idx.event_times, stop, side="left")]
