"""Risk-set sums for (start, stop] data with strata, by sorted suffix sums.

A row is at risk at event time ``t`` of its stratum when ``start < t <= stop`` (R survival and
lifelines). For each event time the risk-set sum of any per-row quantity is the sum over rows
with ``stop >= t`` minus the sum over rows with ``start >= t``, both read off suffix sums of the
rows sorted by an integer key ``stratum * M + rank(time)``. One sort per data set, then every
Newton iteration costs a few cumulative sums.
"""

from __future__ import annotations

import functools
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
    rank_start, rank_stop, size = time_ranks(start, stop)
    m = size + 2  # ranks 1..size; 0 is reserved for -inf starts
    base = strata.astype(np.int64) * m
    key_stop = base + rank_stop
    key_start = base + rank_start

    ev = np.flatnonzero(event > 0)
    ev = ev[stable_argsort(key_stop[ev])]
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
    first_key = _first_event_key(event_keys, strata, m)
    use_stop = np.flatnonzero(key_stop >= first_key)
    use_start = np.flatnonzero(key_start >= first_key)
    stop_order = use_stop[stable_argsort(key_stop[use_stop])]
    start_order = use_start[stable_argsort(key_start[use_start])]

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


#: Integer-valued times spanning at most this many units (or 4 per row) are ranked with a
#: lookup table instead of a sort (day-resolution data: one pass, no float sort).
_RANK_TABLE_SPAN = 1 << 22


def time_ranks(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Dense ranks ``1..U`` of ``start`` (0 where not finite) and ``stop`` among the ``U``
    distinct finite times of both, and ``U``: ``searchsorted(unique(times), t) + 1``.

    Integer-valued times in a moderate span (e.g. days) are ranked by a lookup table (a
    cumulative count of the days present), other times by ``np.unique``; both give the same
    ranks.
    """
    finite = np.isfinite(start)
    starts = start if finite.all() else start[finite]
    lo = min(stop.min(), starts.min()) if starts.size else stop.min() if stop.size else 0.0
    hi = max(stop.max(), starts.max()) if starts.size else stop.max() if stop.size else 0.0
    span = hi - lo
    if span <= max(_RANK_TABLE_SPAN, 4 * stop.size) and _integral(stop) and _integral(starts):
        at_stop = (stop - lo).astype(np.int64)
        at_start = (starts - lo).astype(np.int64)
        present = np.zeros(int(span) + 1, dtype=bool)
        present[at_stop] = True
        present[at_start] = True
        table = np.cumsum(present)
        rank_stop = table[at_stop]
        ranks_start = table[at_start]
        size = int(table[-1])
    else:
        times = np.unique(np.concatenate([starts, stop]))
        rank_stop = np.searchsorted(times, stop) + 1
        ranks_start = np.searchsorted(times, starts) + 1
        size = times.size
    if starts is start:
        return ranks_start, rank_stop, size
    rank_start = np.zeros(start.shape, dtype=np.int64)
    rank_start[finite] = ranks_start
    return rank_start, rank_stop, size


def _integral(values: np.ndarray) -> bool:
    """All values are whole numbers (and so exact as int64 within the rank-table span)."""
    return bool(np.all(np.floor(values) == values))


def stable_argsort(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` for non-negative integer keys, by one or two
    16-bit radix passes when the keys fit in 16 or 32 bits (a stable order is unique, so
    the result is the same; least-significant-digit radix sort, Knuth TAOCP vol. 3, 5.2.5)."""
    if keys.size == 0 or keys.min() < 0:
        return np.argsort(keys, kind="stable")
    top = int(keys.max())
    if top < 1 << 16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    if top >= 1 << 32:
        return np.argsort(keys, kind="stable")
    low = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    high = (keys[low] >> 16).astype(np.uint16)
    return low[np.argsort(high, kind="stable")]


def _first_event_key(event_keys: np.ndarray, strata: np.ndarray, m: int) -> np.ndarray:
    """Per row, the key of the first event time of its stratum (int64 max when none)."""
    never = np.iinfo(np.int64).max
    if event_keys.size == 0:
        return np.full(strata.shape, never)
    codes = strata.astype(np.int64)
    n_strata = int(codes.max()) + 1 if codes.size else 0
    per_stratum = codes.size > 0 and codes.min() >= 0 and n_strata <= codes.size
    base = np.arange(n_strata, dtype=np.int64) * m if per_stratum else codes * m
    cand = event_keys[np.minimum(np.searchsorted(event_keys, base), event_keys.size - 1)]
    first = np.where((cand >= base) & (cand < base + m), cand, never)
    return first[codes] if per_stratum else first


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


@functools.cache
def upper_triangle(p: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(p)``, computed once per ``p`` (read-only): every Newton step needs it."""
    iu, ju = np.triu_indices(p)
    iu.flags.writeable = ju.flags.writeable = False
    return iu, ju


def moment_sources(x: np.ndarray) -> np.ndarray:
    """For each term of ``[1, x, upper-triangle of x x']``, the term whose risk-set sums it
    shares: itself; the column ``x_i`` for ``x_i^2`` of a 0/1 column (equal in every row); or
    -1 for a product ``x_i x_j`` that is 0 in every row (two columns never non-zero together,
    e.g. two dummies of one factor), whose sums are exactly 0. Shared and zero terms are not
    summed again (:func:`risk_set_moments`), which changes no bit of the result."""
    p = x.shape[1]
    columns = _columns(x)
    iu, ju = upper_triangle(p)
    source = np.arange(1 + p + iu.size)
    nonzero = np.packbits(columns != 0, axis=1)  # one bit per row
    plain = (columns == 1.0) | ((columns == 0.0) & ~np.signbit(columns))  # 1 or +0 (not -0)
    binary = plain.all(axis=1)
    for k, (i, j) in enumerate(zip(iu, ju, strict=True)):
        if not np.any(nonzero[i] & nonzero[j]):  # no row where both are non-zero
            source[1 + p + k] = -1
        elif i == j and binary[i]:
            source[1 + p + k] = 1 + i
    return source


def _columns(x: np.ndarray) -> np.ndarray:
    """The columns of an (n, p) array as contiguous rows (a view when ``x`` is F-ordered)."""
    return x.T if x.T.flags.c_contiguous else np.ascontiguousarray(x.T)


def moment_design(x_sorted: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
    """Static per-row terms ``[1, x, upper-triangle of x x']`` for :func:`risk_set_moments`,
    stored transposed (terms × rows, C-contiguous) so segment sums run along contiguous memory.
    With ``source`` (:func:`moment_sources`) only the terms that are their own source are
    kept. Built once per data set, filled in place (no large temporaries); every Newton step
    then needs one multiply by the risk ``r``."""
    n, p = x_sorted.shape
    columns = _columns(x_sorted)
    iu, ju = upper_triangle(p)
    terms = [(-1, -1)] + [(i, -1) for i in range(p)] + list(zip(iu, ju, strict=True))
    keep = range(len(terms)) if source is None else np.flatnonzero(source == np.arange(len(terms)))
    z = np.empty((len(keep), n))
    for row, t in enumerate(keep):
        i, j = terms[t]
        if i < 0:
            z[row] = 1.0
        elif j < 0:
            z[row] = columns[i]
        else:
            np.multiply(columns[i], columns[j], out=z[row])
    return z


def risk_set_moments(
    index: RiskSetIndex,
    r: np.ndarray,
    z_by_stop: np.ndarray,
    z_by_start: np.ndarray,
    p: int,
    source: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Risk-set sums ``S0 = sum r``, ``S1 = sum r x`` and ``S2 = sum r x x'`` at every event time.

    ``z_by_stop`` / ``z_by_start`` are :func:`moment_design` (terms × rows) of the covariates
    sorted by the index's stop and start orders (with ``source``, of the terms
    :func:`moment_sources` keeps), so each call gathers only ``r`` and does one pass of segment
    sums over the rows.
    """
    total = np.zeros((index.n_event_times, z_by_stop.shape[0]))
    unit = bool(np.all(r == 1.0))  # (at beta = 0) z * 1 is z, bit for bit: no products
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
        prefix = np.empty((z.shape[0], bounds.size + 1))  # 0, then cumulative segment sums
        prefix[:, 0] = 0.0
        segs = prefix[:, 1:]
        products = np.empty((min(_TERM_BLOCK, z.shape[0]), rs.size))  # bounded, reused
        for lo_term in range(0, z.shape[0], _TERM_BLOCK):
            block = z[lo_term : lo_term + _TERM_BLOCK]
            if not unit:
                block = np.multiply(block, rs, out=products[: block.shape[0]])
            segs[lo_term : lo_term + _TERM_BLOCK] = np.add.reduceat(block, bounds, axis=1)
        np.cumsum(segs, axis=1, out=segs)
        total += sign * (prefix[:, hi] - prefix[:, lo]).T
    if source is not None:
        total = _expand_terms(total, source)
    iu, ju = upper_triangle(p)
    s2 = np.empty((total.shape[0], p, p))
    s2[:, iu, ju] = total[:, 1 + p :]
    s2[:, ju, iu] = total[:, 1 + p :]
    return total[:, 0], total[:, 1 : 1 + p], s2


def _expand_terms(total: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Sums of every term from those of the kept terms (:func:`moment_sources`): copies for
    shared terms, exact zeros for terms that are 0 in every row."""
    kept = np.flatnonzero(source == np.arange(source.size))
    full = np.zeros((total.shape[0], source.size))
    used = source >= 0
    full[:, used] = total[:, np.searchsorted(kept, source[used])]
    return full
