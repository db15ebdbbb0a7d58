"""Drawing matched sets for all exposed persons at once, with the draws of a per-set loop.

:func:`draw_sets` takes the exposed persons in processing order (exposure day, then id), in
chunks of ``CHUNK`` persons: the eligible controls of each are counted (and, for dense
queries, listed) by :mod:`reawaken.design.riskset` and the controls picked by rank in
*matching order* (exact cell, first caliper column, cohort row). A set with more eligible
persons than ``controls`` takes the ranks :func:`choice_ranks` returns, which are those of
``rng.choice(eligible, controls, replace=False)`` called once per such set in processing order,
with ``rng`` left in the same state; so the sets are those of the per-person loop this replaced,
byte for byte, for the same generator. Nearest-neighbour sets (propensity matching) are picked
by rank on the same tree, from the eligible persons on either side of the exposed person.

:func:`choice_ranks` reproduces numpy ``Generator.choice`` without replacement and without
``p`` (numpy 1.17 to 2.x; checked on 2.4), Floyd's algorithm (Bentley & Floyd, Commun ACM
30(9):754, 1987): for ``j = n - m, ..., n - 1`` draw ``v`` uniform on ``[0, j]`` and keep
``v``, or ``j`` if ``v`` is already kept; then a Fisher-Yates shuffle of the ``m`` kept values
(bounds ``m - 1, ..., 1``), whose draws are consumed but do not change the set. Each bounded
integer on ``[0, j]`` (``j >= 1``; ``j = 0`` consumes nothing) is Lemire's multiply-shift with
rejection (Lemire, ACM TOMACS 29(1):3, 2019) on the bit generator's 32-bit outputs:
``x = u (j + 1)``, redrawn while ``x mod 2^32 < (2^32 - 1 - j) mod (j + 1)``. numpy draws a set
with ``n > 10,000`` and ``m > n // 50`` by a tail shuffle instead; such sets are passed to
``rng.choice`` itself, in order. ``tests/design/test_matching_reference.py`` checks ranks and
generator state against ``rng.choice`` call by call, so a numpy release that changed the
algorithm fails there.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import schema
from ..errors import AnalysisError
from . import riskset
from .balance import EXPOSURE_ON_EVENT_DAY, NO_CONTROL
from .riskset import Condition, MergeSortTree, SortedColumn, dense_lists

__all__ = ["CHUNK", "PROGRESS_MIN_PERSONS", "MatchedSets", "choice_ranks", "draw_sets"]

CHUNK = 1 << 15  # exposed persons per step (bounds memory; one progress update each)
PROGRESS_MIN_PERSONS = 200_000  # smaller cohorts never show a progress bar

_U32 = np.uint64(0xFFFFFFFF)
_MAX_N = 2**32 - 1  # bounds up to 2^32 - 2 use the 32-bit Lemire path
_TAIL_MIN_N, _TAIL_CUTOFF = 10_000, 50  # numpy's switch to a tail shuffle (shuffle=True)


def choice_ranks(rng: np.random.Generator, n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Ranks drawn without replacement, as ``rng.choice(n[i], m[i], replace=False)`` in turn.

    Floyd's algorithm with Lemire bounded integers, as numpy draws it (Bentley & Floyd 1987;
    Lemire 2019); see the module docstring for the exact rule.

    Parameters
    ----------
    rng : numpy.random.Generator
        Advanced exactly as by the sequence of ``choice`` calls.
    n, m : array of int
        Population size and sample size per set, ``1 <= m <= n <= 2^32 - 1``.

    Returns
    -------
    numpy.ndarray
        ``sum(m)`` int64 ranks in ``[0, n[i])``: set 0's ``m[0]`` ranks, then set 1's, ...;
        ascending within a set.
    """
    n = np.asarray(n, dtype=np.int64).reshape(-1)
    m = np.asarray(m, dtype=np.int64).reshape(-1)
    if n.shape != m.shape or (m < 1).any() or (m > n).any() or (n > _MAX_N).any():
        raise AnalysisError(
            "choice_ranks: need 1 <= m <= n <= 2^32 - 1 per set with n and m of equal length; "
            "fix: pass the eligible count as n and the number to draw as m"
        )
    out = np.empty(int(m.sum()), dtype=np.int64)
    if n.size == 0:
        return out
    ends = np.cumsum(m)
    tail = (n > _TAIL_MIN_N) & (m > n // _TAIL_CUTOFF)
    cuts = np.r_[0, np.flatnonzero(np.diff(tail)) + 1, n.size]
    for a, b in itertools.pairwise(cuts):  # runs of sets drawn the same way
        if tail[a]:
            for i in range(a, b):
                out[ends[i] - m[i] : ends[i]] = np.sort(rng.choice(n[i], m[i], replace=False))
        else:
            out[ends[a] - m[a] : ends[b - 1]] = _floyd(rng, n[a:b], m[a:b])
    return out


def _floyd(rng: np.random.Generator, n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Floyd's algorithm for every set, then the shuffle draws consumed (Bentley & Floyd 1987)."""
    per = 2 * m - 1  # m Floyd draws, m - 1 shuffle draws
    first = np.cumsum(per) - per
    owner = np.repeat(np.arange(n.size), per)
    t = np.arange(int(per.sum())) - first[owner]
    floyd = t < m[owner]
    bound = np.where(floyd, n[owner] - m[owner] + t, 2 * m[owner] - 1 - t)
    value = _bounded(rng, bound)
    width = int(m.max())
    drawn = np.full((n.size, width), -1, dtype=np.int64)
    drawn[owner[floyd], t[floyd]] = value[floyd]
    kept = np.empty((n.size, width), dtype=np.int64)
    for step in range(width):
        v = drawn[:, step]
        seen = (kept[:, :step] == v[:, None]).any(axis=1)
        kept[:, step] = np.where(seen, n - m + step, v)
    live = np.arange(width)[None, :] < m[:, None]
    kept[~live] = np.iinfo(np.int64).max
    kept.sort(axis=1)
    return kept[live]


def _bounded(rng: np.random.Generator, bound: np.ndarray) -> np.ndarray:
    """Uniform integers on ``[0, bound]`` per entry, consuming ``rng`` as numpy's Lemire path.

    Rejections are rare (probability ``< (bound + 1) / 2^32`` per draw) and shift the rest of
    the stream by one 32-bit output each; they are resolved one at a time.
    """
    out = np.zeros(bound.size, dtype=np.int64)
    need = np.flatnonzero(bound > 0)
    span = bound[need].astype(np.uint64) + np.uint64(1)
    threshold = (_U32 - (span - np.uint64(1))) % span
    size = need.size
    stream = _u32(rng, size)
    value = np.empty(size, dtype=np.uint64)
    start, shift = 0, 0
    while start < size:
        x = stream[start + shift : size + shift] * span[start:]
        bad = np.flatnonzero((x & _U32) < threshold[start:])
        stop = start + (int(bad[0]) if bad.size else size - start)
        value[start:stop] = x[: stop - start] >> np.uint64(32)
        if stop == size:
            break
        while True:  # draw `stop` was rejected: numpy draws again from the next output
            shift += 1
            if stop + shift >= stream.size:
                stream = np.concatenate([stream, _u32(rng, 1)])
            x1 = stream[stop + shift] * span[stop]
            if (x1 & _U32) >= threshold[stop]:
                value[stop] = x1 >> np.uint64(32)
                break
        start = stop + 1
        if size + shift > stream.size:
            stream = np.concatenate([stream, _u32(rng, size + shift - stream.size)])
    out[need] = value.astype(np.int64)
    return out


def _u32(rng: np.random.Generator, size: int) -> np.ndarray:
    """The next ``size`` 32-bit outputs of the bit generator, as uint64."""
    return rng.integers(0, 2**32, size=size, dtype=np.uint32).astype(np.uint64)


class MatchedSets(NamedTuple):
    """Matched sets as cohort rows: exposed person per set, set sizes (controls), the controls
    (set by set, ascending rows), and the unmatched exposed persons with their reasons."""

    exposed: np.ndarray
    sizes: np.ndarray
    controls: np.ndarray
    unmatched: np.ndarray
    reasons: np.ndarray


@dataclass(frozen=True)
class _Queries:
    """Exposed persons to match (processing order) against persons in matching order."""

    perm: np.ndarray  # matching order -> cohort row
    to_position: np.ndarray  # cohort row -> matching order
    start: np.ndarray  # entry_day, matching order
    stop: np.ndarray  # min(event_day, exposure_day), matching order
    key: np.ndarray  # first caliper column (or 0), matching order
    conditions: list[Condition]
    rows: np.ndarray  # exposed rows to match, per query
    day: np.ndarray
    pos: np.ndarray
    cell: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    tree: MergeSortTree | None


def _dense_only(has_conditions: bool) -> bool:
    """Dense lists when further calipers or a test window restrict the risk set."""
    return has_conditions


def draw_sets(
    frame: pd.DataFrame,
    rng: np.random.Generator,
    k: int,
    bucket: np.ndarray,
    sort_caliper: tuple[np.ndarray | None, float],
    extra: list[tuple[np.ndarray, float]],
    test_window: tuple[np.ndarray, float] | None,
    nearest: bool,
    progress: bool = False,
) -> MatchedSets:
    """Controls per exposed person, as cohort row positions, for all exposed persons at once.

    Exposed persons are taken in processing order in chunks of ``CHUNK``; per chunk the
    eligible counts come from :mod:`reawaken.design.riskset` and the ranks from
    :func:`reawaken.design.sampling.choice_ranks`, which consumes ``rng`` exactly as one
    ``rng.choice(eligible, k, replace=False)`` per set with more than ``k`` eligible persons.
    ``nearest`` picks the ``k`` nearest on the first caliper column instead (ties at the k-th
    distance drawn the same way).
    """
    expo = frame[schema.EXPOSURE_DAY].to_numpy(dtype=float)
    end = frame[schema.EVENT_DAY].to_numpy(dtype=float)
    ordered = frame.loc[~np.isnan(expo), [schema.EXPOSURE_DAY, schema.ID]]
    ordered = ordered.sort_values([schema.EXPOSURE_DAY, schema.ID], kind="stable").index
    ordered = ordered.to_numpy()
    on_event = expo[ordered] >= end[ordered]
    q = _queries(frame, ordered[~on_event], bucket, sort_caliper, extra, test_window, nearest)
    sizes, controls = [], []
    show = progress and len(frame) >= PROGRESS_MIN_PERSONS
    bar = tqdm(total=q.rows.size, unit="set", desc="matching", disable=None if show else True)
    with bar:
        for first in range(0, q.rows.size, CHUNK):
            part = slice(first, min(first + CHUNK, q.rows.size))
            size, rows = (_nearest_part if nearest else _random_part)(q, part, rng, k)
            sizes.append(size)
            controls.append(rows)
            bar.update(part.stop - part.start)
    size = np.concatenate(sizes) if sizes else np.zeros(0, dtype=np.int64)
    per_exposed = np.full(ordered.size, -1, dtype=np.int64)
    per_exposed[~on_event] = size
    left = per_exposed <= 0
    reasons = np.where(on_event[left], EXPOSURE_ON_EVENT_DAY, NO_CONTROL).astype(object)
    return MatchedSets(
        exposed=q.rows[size > 0],
        sizes=size[size > 0],
        controls=np.concatenate(controls) if controls else np.zeros(0, dtype=np.int64),
        unmatched=ordered[left],
        reasons=reasons,
    )


def _queries(
    frame: pd.DataFrame,
    rows: np.ndarray,
    bucket: np.ndarray,
    sort_caliper: tuple[np.ndarray | None, float],
    extra: list[tuple[np.ndarray, float]],
    test_window: tuple[np.ndarray, float] | None,
    nearest: bool,
) -> _Queries:
    """Matching order, the slices of the first caliper and the risk-set engine."""
    key, width = sort_caliper
    entry = frame[schema.ENTRY_DAY].to_numpy(dtype=float)
    stop = np.fmin(
        frame[schema.EVENT_DAY].to_numpy(dtype=float),
        frame[schema.EXPOSURE_DAY].to_numpy(dtype=float),
    )
    keyv = np.zeros(len(frame)) if key is None else key
    main = SortedColumn(bucket, keyv)
    perm = main.order
    to_position = np.empty_like(perm)
    to_position[perm] = np.arange(perm.size)
    day = frame[schema.EXPOSURE_DAY].to_numpy(dtype=float)[rows]
    pos, cell = to_position[rows], bucket[rows]
    lo, hi = _caliper_slices(main, cell, keyv[rows], width)
    conditions = [Condition(v[perm], w, False, SortedColumn(bucket, v)) for v, w in extra]
    if test_window is not None:
        test, window = test_window
        conditions.append(Condition(test[perm], window, True, SortedColumn(bucket, test)))
    if nearest and conditions:
        raise AnalysisError("nearest-neighbour matching takes one caliper only; fix: drop the rest")
    tree = None
    if rows.size and (nearest or not _dense_only(bool(conditions))):
        timed = bool(entry.max() > day.min())  # else nobody enters after an index day
        tree = MergeSortTree(entry[perm] if timed else None, stop[perm])
    return _Queries(
        perm, to_position, entry[perm], stop[perm], keyv[perm], conditions,
        rows, day, pos, cell, lo, hi, tree,
    )  # fmt: skip


def _caliper_slices(
    main: SortedColumn, cell: np.ndarray, centre: np.ndarray, width: float
) -> tuple[np.ndarray, np.ndarray]:
    """Slices of matching order with the same cell and ``|key - centre| <= width`` exactly.

    A slightly wider binary search (relative pad 1e-9) is trimmed at both ends by the float
    test itself; the set is contiguous because ``fl(key - centre)`` is monotone in ``key``.
    """
    if not math.isfinite(width):
        return main.bounds(cell, np.full(cell.size, -np.inf), np.full(cell.size, np.inf))
    pad = 1e-9 * np.maximum(np.maximum(1.0, np.abs(centre)), width)
    lo, hi = main.bounds(cell, centre - width - pad, centre + width + pad)
    key = main.sorted_value
    for end, step in ((lo, 1), (hi, -1)):
        while True:
            i = np.flatnonzero(lo < hi)
            at = end[i] if step == 1 else end[i] - 1
            bad = i[np.abs(key[at] - centre[i]) > width]
            if not bad.size:
                break
            end[bad] += step
    return lo, hi


def _random_part(
    q: _Queries, part: slice, rng: np.random.Generator, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """``min(k, eligible)`` random controls per query of ``part``: set sizes and rows."""
    if q.tree is None:
        sizes, rows = [], []
        for sub, counts, listed in _dense(q, part):
            first = np.cumsum(counts) - counts
            take, qid, rank = _ranks(counts, rng, k)
            sizes.append(take)
            rows.append(_by_set(q.perm[listed[first[qid] + rank]], qid + sub.start))
        return np.concatenate(sizes), np.concatenate(rows)
    lo, hi, day = q.lo[part], q.hi[part], q.day[part]
    before = q.tree.active_before(np.concatenate([lo, hi]), np.concatenate([day, day]))
    take, qid, rank = _ranks(before[lo.size :] - before[: lo.size], rng, k)
    at = q.tree.nth(before[: lo.size][qid] + rank, day[qid])
    return take, _by_set(q.perm[at], qid)


def _ranks(counts: np.ndarray, rng: np.random.Generator, k: int) -> tuple[np.ndarray, ...]:
    """Set sizes ``min(k, count)`` and the (query, rank) pairs taken: every rank when
    ``count <= k``, else ``k`` drawn by :func:`choice_ranks` (sets in order)."""
    take = np.minimum(counts, k)
    qid = np.repeat(np.arange(take.size), take)
    rank = np.arange(qid.size) - np.repeat(np.cumsum(take) - take, take)
    draw = counts > k
    rank[np.repeat(draw, take)] = choice_ranks(rng, counts[draw], np.full(int(draw.sum()), k))
    return take, qid, rank


def _nearest_part(
    q: _Queries, part: slice, rng: np.random.Generator, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` eligible persons nearest on the key per query; ties at the k-th distance drawn
    at random (as ``rng.choice(tied, k - closer, replace=False)``): set sizes and rows.

    In matching order ``|key - centre|`` falls up to the exposed person's position and rises
    after it. So the k-th distance is among the ``k`` eligible on either side; the persons tied
    at it form one position range on each side (found by bisection); the closer ones are the
    eligible ranks between those two ranges, and the tied ones are listed left range first.
    """
    tree = q.tree
    lo, hi, pos, day = q.lo[part], q.hi[part], q.pos[part], q.day[part]
    centre = q.key[pos]
    ranks = tree.active_before(np.concatenate([lo, pos, hi]), np.tile(day, 3))
    a_lo, a_pos, a_hi = np.split(ranks, 3)
    first, last = a_lo.copy(), a_hi.copy()  # ranks taken whole: closer than the k-th distance
    big = np.flatnonzero(a_hi - a_lo > k)
    drawn, owner = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if big.size:
        kth = _kth_distance(q, a_lo[big], a_pos[big], a_hi[big], day[big], centre[big], k)
        c = centre[big]
        left, right = (lo[big], pos[big]), (pos[big] + 1, hi[big])
        cuts = [
            _bisect(*left, lambda i, j: np.abs(q.key[i] - c[j]) <= kth[j]),
            _bisect(*left, lambda i, j: np.abs(q.key[i] - c[j]) < kth[j]),
            _bisect(*right, lambda i, j: np.abs(q.key[i] - c[j]) >= kth[j]),
            _bisect(*right, lambda i, j: np.abs(q.key[i] - c[j]) > kth[j]),
        ]
        r0, r1, r2, r3 = np.split(tree.active_before(np.concatenate(cuts), np.tile(day[big], 4)), 4)
        first[big], last[big] = r1, r2
        n_left, need = r1 - r0, k - (r2 - r1)
        rank = choice_ranks(rng, n_left + (r3 - r2), need)
        j = np.repeat(np.arange(big.size), need)
        drawn = np.where(rank < n_left[j], r0[j] + rank, r2[j] - n_left[j] + rank)
        owner = big[j]
    take = last - first
    qid = np.repeat(np.arange(take.size), take)
    whole = np.repeat(first - (np.cumsum(take) - take), take) + np.arange(qid.size)
    qid, rank = np.concatenate([qid, owner]), np.concatenate([whole, drawn])
    at = tree.nth(rank, day[qid])
    return np.minimum(a_hi - a_lo, k), _by_set(q.perm[at], qid)


def _kth_distance(
    q: _Queries,
    a_lo: np.ndarray,
    a_pos: np.ndarray,
    a_hi: np.ndarray,
    day: np.ndarray,
    centre: np.ndarray,
    k: int,
) -> np.ndarray:
    """k-th smallest ``|key - centre|`` over the ``k`` eligible on each side of the position."""
    window = a_pos[:, None] + np.arange(-k, k)[None, :]
    inside = (window >= a_lo[:, None]) & (window < a_hi[:, None])
    per_row = inside.sum(axis=1)
    at = q.tree.nth(window[inside], np.repeat(day, per_row))
    dist = np.full(window.shape, np.inf)
    dist[inside] = np.abs(q.key[at] - np.repeat(centre, per_row))
    return np.partition(dist, k - 1, axis=1)[:, k - 1]


def _bisect(
    a: np.ndarray, b: np.ndarray, test: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> np.ndarray:
    """Per row ``j``, the first ``i`` in ``[a_j, b_j)`` with ``test(i, j)`` (else ``b_j``), for a
    test that is False then True along the range."""
    a, b = a.copy(), b.copy()
    live = np.flatnonzero(a < b)
    while live.size:
        mid = (a[live] + b[live]) // 2
        yes = test(mid, live)
        b[live[yes]] = mid[yes]
        a[live[~yes]] = mid[~yes] + 1
        live = live[a[live] < b[live]]
    return a


def _dense(q: _Queries, part: slice) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    return dense_lists(
        q.lo[part], q.hi[part], q.pos[part], q.cell[part], q.day[part], q.start, q.stop,
        q.conditions, q.to_position, riskset.DENSE_BUDGET,
    )  # fmt: skip


def _by_set(rows: np.ndarray, qid: np.ndarray) -> np.ndarray:
    """Rows grouped by query, ascending within a query."""
    span = np.int64(rows.max(initial=0)) + 1
    return np.sort(qid.astype(np.int64) * span + rows) % span
