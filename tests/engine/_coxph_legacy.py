"""The Cox engine's fit as it was before issue 12 (commit 408a2f6), kept verbatim.

``reawaken.engine.risksets`` (risk-set index, moment design and sums) and the fitting part of
``reawaken.engine.coxph`` (``_prepare`` .. ``fit_coxph``), imports made absolute and the
public fit renamed ``legacy_fit_coxph``. It is the reference for bit-identical estimates in
``tests/engine/test_engine_identity.py`` and for the speed ratios of
``tests/benchmarks/test_bench_throughput.py``: every risk-set index sorted floats
(``np.unique``, ``searchsorted``, 64-bit ``argsort``) and every Newton step summed all
``1 + p + p(p+1)/2`` moment terms. Not part of the package.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reawaken.engine.coxph import ConvergenceError
from reawaken.errors import AnalysisError

MAX_ABS_COEF = 30.0
TOLER_INF = 1e-9**0.5


@dataclass(frozen=True)
class RiskSetIndex:
    """Precomputed orderings and lookup positions for risk-set sums.

    Attributes
    ----------
    stop_order, start_order : ndarray
        Row orders sorting by (stratum, stop) and (stratum, start) keys.
    lo_stop, hi_stop, lo_start, hi_start : ndarray, shape (K,)
        Positions in the sorted arrays bounding, for each event time ``k``, the rows with
        ``stop >= t_k`` (resp. ``start >= t_k``) in the same stratum.
    event_rows : ndarray
        Rows with an event, sorted by event time key (ties grouped together).
    event_group : ndarray
        For each entry of ``event_rows``, the index ``k`` of its event time.
    group_starts : ndarray, shape (K,)
        Offsets of each event time's block in ``event_rows`` (for ``np.add.reduceat``).
    ties : ndarray, shape (K,)
        Number of events at each event time.
    key_start, key_stop : ndarray
        Integer keys ``stratum * M + rank(time)`` of each row's start and stop.
    event_keys : ndarray, shape (K,)
        Key of each event time.
    event_times : ndarray, shape (K,)
        Event time values.
    event_strata : ndarray, shape (K,)
        Stratum code of each event time.
    modulus : int
        ``M`` in ``key = stratum * M + rank``.
    """

    stop_order: np.ndarray
    start_order: np.ndarray
    lo_stop: np.ndarray
    hi_stop: np.ndarray
    lo_start: np.ndarray
    hi_start: np.ndarray
    event_rows: np.ndarray
    event_group: np.ndarray
    group_starts: np.ndarray
    ties: np.ndarray
    key_start: np.ndarray
    key_stop: np.ndarray
    event_keys: np.ndarray
    event_times: np.ndarray
    event_strata: np.ndarray
    modulus: int
    stop_bounds: np.ndarray
    stop_lo_seg: np.ndarray
    stop_hi_seg: np.ndarray
    start_bounds: np.ndarray
    start_lo_seg: np.ndarray
    start_hi_seg: np.ndarray

    @property
    def n_event_times(self) -> int:
        return int(self.event_keys.size)


def build_risk_sets(
    start: np.ndarray, stop: np.ndarray, event: np.ndarray, strata: np.ndarray
) -> RiskSetIndex:
    """Index (start, stop] rows by stratum and time for :func:`risk_set_sums`.

    ``strata`` are integer codes ``0..S-1``; ``start`` may be ``-inf`` (at risk from the start).
    """
    times = np.unique(np.concatenate([start[np.isfinite(start)], stop]))
    m = times.size + 2  # ranks 1..size; 0 is reserved for -inf starts
    rank_stop = np.searchsorted(times, stop) + 1
    rank_start = np.where(np.isfinite(start), np.searchsorted(times, start) + 1, 0)
    base = strata.astype(np.int64) * m
    key_stop = base + rank_stop
    key_start = base + rank_start

    ev = np.flatnonzero(event > 0)
    ev = ev[np.argsort(key_stop[ev], kind="stable")]
    ev_keys_all = key_stop[ev]
    change = np.concatenate([[True], ev_keys_all[1:] != ev_keys_all[:-1]])
    group_starts = np.flatnonzero(change)
    event_keys = ev_keys_all[group_starts]
    event_group = np.cumsum(change) - 1
    ties = np.diff(np.append(group_starts, ev.size))
    stratum_end = (event_keys // m + 1) * m

    # Rows that can never enter a risk-set sum are left out of the sorted arrays: on the stop
    # side those ending before their stratum's first event time, on the start side those
    # starting before it (they are never removed again).
    never = np.iinfo(np.int64).max
    if event_keys.size:
        cand = event_keys[np.minimum(np.searchsorted(event_keys, base), event_keys.size - 1)]
        first_key = np.where((cand >= base) & (cand < base + m), cand, never)
    else:
        first_key = np.full(base.shape, never)
    use_stop = np.flatnonzero(key_stop >= first_key)
    use_start = np.flatnonzero(key_start >= first_key)
    stop_order = use_stop[np.argsort(key_stop[use_stop], kind="stable")]
    start_order = use_start[np.argsort(key_start[use_start], kind="stable")]

    sorted_stop = key_stop[stop_order]
    sorted_start = key_start[start_order]
    lo_stop = np.searchsorted(sorted_stop, event_keys, side="left")
    hi_stop = np.searchsorted(sorted_stop, stratum_end, side="left")
    lo_start = np.searchsorted(sorted_start, event_keys, side="left")
    hi_start = np.searchsorted(sorted_start, stratum_end, side="left")
    stop_bounds, stop_lo_seg, stop_hi_seg = _segments(lo_stop, hi_stop, stop_order.size)
    start_bounds, start_lo_seg, start_hi_seg = _segments(lo_start, hi_start, start_order.size)
    return RiskSetIndex(
        stop_order=stop_order,
        start_order=start_order,
        lo_stop=lo_stop,
        hi_stop=hi_stop,
        lo_start=lo_start,
        hi_start=hi_start,
        event_rows=ev,
        event_group=event_group,
        group_starts=group_starts,
        ties=ties,
        key_start=key_start,
        key_stop=key_stop,
        event_keys=event_keys,
        event_times=stop[ev[group_starts]] if ev.size else np.empty(0),
        event_strata=(event_keys // m).astype(np.int64),
        modulus=int(m),
        stop_bounds=stop_bounds,
        stop_lo_seg=stop_lo_seg,
        stop_hi_seg=stop_hi_seg,
        start_bounds=start_bounds,
        start_lo_seg=start_lo_seg,
        start_hi_seg=start_hi_seg,
    )


def _segments(lo: np.ndarray, hi: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Cut points for prefix sums at positions ``lo`` and ``hi`` of an n-row sorted array.

    Returns the distinct cut points below ``n`` (starting at 0, for ``np.add.reduceat``) and,
    for each ``lo``/``hi``, the index of its prefix sum in ``[0, cumsum(segments)...]``.
    """
    cuts = np.unique(np.concatenate([[0], lo, hi]))
    bounds = cuts[cuts < n]
    prefix_positions = np.append(bounds, n)
    return (
        bounds,
        np.searchsorted(prefix_positions, lo),
        np.searchsorted(prefix_positions, hi),
    )


_TERM_BLOCK = 4


def moment_design(x_sorted: np.ndarray) -> np.ndarray:
    """Static per-row terms ``[1, x, upper-triangle of x x']`` for :func:`risk_set_moments`,
    stored transposed (terms × rows, C-contiguous) so segment sums run along contiguous memory.
    Built once per data set, filled in place (no large temporaries); every Newton step then
    needs one multiply by the risk ``r``."""
    n, p = x_sorted.shape
    iu, ju = np.triu_indices(p)
    z = np.empty((1 + p + iu.size, n))
    z[0] = 1.0
    z[1 : 1 + p] = x_sorted.T
    for k, (i, j) in enumerate(zip(iu, ju, strict=True)):
        np.multiply(z[1 + i], z[1 + j], out=z[1 + p + k])
    return z


def risk_set_moments(
    index: RiskSetIndex,
    r: np.ndarray,
    z_by_stop: np.ndarray,
    z_by_start: np.ndarray,
    p: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Risk-set sums ``S0 = sum r``, ``S1 = sum r x`` and ``S2 = sum r x x'`` at every event time.

    ``z_by_stop`` / ``z_by_start`` are :func:`moment_design` (terms × rows) of the covariates
    sorted by the
    index's stop and start orders, so each call gathers only ``r`` and does one pass of segment
    sums over the rows.
    """
    total = np.zeros((index.n_event_times, z_by_stop.shape[0]))
    for order, z, bounds, lo, hi, sign in (
        (index.stop_order, z_by_stop, index.stop_bounds, index.stop_lo_seg, index.stop_hi_seg, 1.0),
        (
            index.start_order,
            z_by_start,
            index.start_bounds,
            index.start_lo_seg,
            index.start_hi_seg,
            -1.0,
        ),
    ):
        if order.size == 0:
            continue
        rs = r[order]
        segs = np.empty((z.shape[0], bounds.size))
        for lo_term in range(0, z.shape[0], _TERM_BLOCK):  # bounded temporaries on big data
            block = slice(lo_term, lo_term + _TERM_BLOCK)
            segs[block] = np.add.reduceat(z[block] * rs, bounds, axis=1)
        prefix = np.concatenate([np.zeros((z.shape[0], 1)), np.cumsum(segs, axis=1)], axis=1)
        total += sign * (prefix[:, hi] - prefix[:, lo]).T
    iu, ju = np.triu_indices(p)
    s2 = np.empty((total.shape[0], p, p))
    s2[:, iu, ju] = total[:, 1 + p :]
    s2[:, ju, iu] = total[:, 1 + p :]
    return total[:, 0], total[:, 1 : 1 + p], s2


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
    return _Data(
        x,
        w,
        d,
        index,
        ties == "efron",
        moment_design(x[index.stop_order]),
        moment_design(x[index.start_order]),
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
    s0, s1, s2 = risk_set_moments(idx, r, data.z_by_stop, data.z_by_start, x.shape[1])
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


def legacy_fit_coxph(
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
