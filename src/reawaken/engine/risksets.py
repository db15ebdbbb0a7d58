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
    stop_order = np.argsort(key_stop, kind="stable")
    start_order = np.argsort(key_start, kind="stable")

    ev = np.flatnonzero(event > 0)
    ev = ev[np.argsort(key_stop[ev], kind="stable")]
    ev_keys_all = key_stop[ev]
    change = np.concatenate([[True], ev_keys_all[1:] != ev_keys_all[:-1]])
    group_starts = np.flatnonzero(change)
    event_keys = ev_keys_all[group_starts]
    event_group = np.cumsum(change) - 1
    ties = np.diff(np.append(group_starts, ev.size))
    stratum_end = (event_keys // m + 1) * m

    sorted_stop = key_stop[stop_order]
    sorted_start = key_start[start_order]
    return RiskSetIndex(
        stop_order=stop_order,
        start_order=start_order,
        lo_stop=np.searchsorted(sorted_stop, event_keys, side="left"),
        hi_stop=np.searchsorted(sorted_stop, stratum_end, side="left"),
        lo_start=np.searchsorted(sorted_start, event_keys, side="left"),
        hi_start=np.searchsorted(sorted_start, stratum_end, side="left"),
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
    )


def _suffix(values: np.ndarray) -> np.ndarray:
    """Suffix sums with a trailing zero: ``out[i] = values[i:].sum(axis=0)``."""
    out = np.zeros((values.shape[0] + 1, *values.shape[1:]))
    out[:-1] = np.cumsum(values[::-1], axis=0)[::-1]
    return out


def risk_set_sums(index: RiskSetIndex, values: np.ndarray) -> np.ndarray:
    """Sum ``values`` (shape (n, ...)) over each event time's risk set → shape (K, ...)."""
    by_stop = _suffix(values[index.stop_order])
    by_start = _suffix(values[index.start_order])
    return (by_stop[index.lo_stop] - by_stop[index.hi_stop]) - (
        by_start[index.lo_start] - by_start[index.hi_start]
    )


def cumulative_at_rows(index: RiskSetIndex, increments: np.ndarray, which: str) -> np.ndarray:
    """For each row, the sum of per-event-time ``increments`` over the event times of its own
    stratum with time ``<= stop`` (``which="stop"``) or ``<= start`` (``which="start"``)."""
    cum = np.concatenate([np.zeros((1, *increments.shape[1:])), np.cumsum(increments, axis=0)])
    keys = index.key_stop if which == "stop" else index.key_start
    upto = np.searchsorted(index.event_keys, keys, side="right")
    stratum_first = np.searchsorted(index.event_keys, (keys // index.modulus) * index.modulus)
    return cum[upto] - cum[stratum_first]
