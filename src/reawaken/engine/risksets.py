"""Risk-set sums for (start, stop] data with strata, by sorted suffix sums.

A row is at risk at event time ``t`` of its stratum when ``start < t <= stop`` (R survival and
lifelines). For each event time the risk-set sum of any per-row quantity is the sum over rows
with ``stop >= t`` minus the sum over rows with ``start >= t``, both read off suffix sums of the
rows sorted by an integer key ``stratum * M + rank(time)``. One sort per data set, then every
Newton iteration costs a few cumulative sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def _range_sums(values: np.ndarray, order, bounds, lo_seg, hi_seg) -> np.ndarray:
    """Sums of ``values[order][lo:hi]`` for every (lo, hi) pair, via segment sums: one pass
    over the rows (``np.add.reduceat``) and a cumulative sum over the few segments."""
    if values.shape[0] == 0:
        return np.zeros((lo_seg.shape[0], *values.shape[1:]))
    segs = np.add.reduceat(values[order], bounds, axis=0)
    prefix = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(segs, axis=0)])
    return prefix[hi_seg] - prefix[lo_seg]


def risk_set_sums(index: RiskSetIndex, values: np.ndarray) -> np.ndarray:
    """Sum ``values`` (shape (n, ...)) over each event time's risk set → shape (K, ...)."""
    by_stop = _range_sums(
        values, index.stop_order, index.stop_bounds, index.stop_lo_seg, index.stop_hi_seg
    )
    by_start = _range_sums(
        values, index.start_order, index.start_bounds, index.start_lo_seg, index.start_hi_seg
    )
    return by_stop - by_start


def cumulative_at_rows(index: RiskSetIndex, increments: np.ndarray, which: str) -> np.ndarray:
    """For each row, the sum of per-event-time ``increments`` over the event times of its own
    stratum with time ``<= stop`` (``which="stop"``) or ``<= start`` (``which="start"``)."""
    cum = np.concatenate([np.zeros((1, *increments.shape[1:])), np.cumsum(increments, axis=0)])
    keys = index.key_stop if which == "stop" else index.key_start
    upto = np.searchsorted(index.event_keys, keys, side="right")
    stratum_first = np.searchsorted(index.event_keys, (keys // index.modulus) * index.modulus)
    return cum[upto] - cum[stratum_first]


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
