"""Counting-process episodes: split each person's follow-up at the exposure day.

A person with ``exposure_day`` inside ``(entry_day, event_day)`` gives two rows,
``(entry, exposure]`` unexposed and ``(exposure, event]`` exposed; the event (if any) belongs to
the last row. Exposure on the entry day gives one exposed row; exposure on the event day is
after the event in ``(start, stop]`` convention, so the row stays unexposed (R survival and
lifelines use the same risk-set rule: a row entering at ``t`` is not at risk at ``t``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import schema
from ..checks import checked
from ..errors import AnalysisError

START, STOP, EXPOSED = "start", "stop", "exposed"


@checked
def split_at_exposure(
    data: pd.DataFrame, *, covariates: Sequence[str] = (), cause: int = 1
) -> pd.DataFrame:
    """Episodes table (``id, start, stop, event, exposed, covariates``) from a Cohort table.

    ``event`` is 1 where the person's ``event`` equals ``cause`` on their last row and 0
    elsewhere (other causes are censored: cause-specific hazards).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import reawaken as rw
    >>> cohort = pd.DataFrame({"id": [1, 2], "entry_day": [0.0, 0.0],
    ...                        "exposure_day": [100.0, np.nan], "event_day": [300.0, 200.0],
    ...                        "event": [1, 0]})
    >>> rw.split_at_exposure(cohort)
       id  start   stop  event  exposed
    0   1    0.0  100.0      0        0
    1   1  100.0  300.0      1        1
    2   2    0.0  200.0      0        0
    """
    ids = data[schema.ID].to_numpy()
    entry = data[schema.ENTRY_DAY].to_numpy(dtype=float)
    stop = data[schema.EVENT_DAY].to_numpy(dtype=float)
    expo = data[schema.EXPOSURE_DAY].to_numpy(dtype=float)
    event = (data[schema.EVENT].to_numpy() == cause).astype(np.int64)

    with np.errstate(invalid="ignore"):
        split = (expo > entry) & (expo < stop)
        exposed_whole = expo <= entry
    rows, first, second = _episode_rows(split)
    columns = {
        schema.ID: ids[rows],
        START: _interleave(entry, expo[split], first, second),
        STOP: _interleave(np.where(split, expo, stop), stop[split], first, second),
        schema.EVENT: _interleave(np.where(split, 0, event), event[split], first, second),
        EXPOSED: _interleave(exposed_whole.astype(np.int64), 1, first, second),
    }
    for name in covariates:
        columns[name] = data[name].to_numpy()[rows]
    return pd.DataFrame(columns, copy=False)  # every array is new: nothing is shared


def _episode_rows(split: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cohort row of every episode (a person's episodes consecutive, in cohort order), and
    the episode positions of each person's first row and of the second rows of split persons."""
    counts = 1 + split.astype(np.int64)
    first = np.cumsum(counts) - counts
    return np.repeat(np.arange(split.size), counts), first, first[split] + 1


def _interleave(
    first_values: np.ndarray, second_values: np.ndarray | int, first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """One episode column: ``first_values`` at the ``first`` positions, ``second_values`` at
    the ``second`` ones."""
    out = np.empty(first.size + second.size, dtype=first_values.dtype)
    out[first] = first_values
    out[second] = second_values
    return out


def split_at_windows(
    data: pd.DataFrame,
    *,
    window_start_days: Sequence[float],
    covariates: Sequence[str] = (),
    cause: int = 1,
) -> tuple[pd.DataFrame, list[str]]:
    """Episodes split at the exposure day and at each window start after it.

    Returns the episodes (``id, start, stop, event, window_<a>_<b> indicators, covariates``)
    and the indicator names. Windows are ``[exposure + a, exposure + b)`` in days; the last one
    is open (``window_<a>_plus``). Unexposed person-time has all indicators 0.
    """
    starts = np.asarray(window_start_days, dtype=float)
    if starts.size == 0 or starts[0] != 0 or np.any(np.diff(starts) <= 0):
        raise AnalysisError("window_start_days must start at 0 and increase, e.g. [0, 90, 365]")
    base = split_at_exposure(data, covariates=covariates, cause=cause)
    expo_by_id = pd.Series(
        data[schema.EXPOSURE_DAY].to_numpy(dtype=float), index=data[schema.ID].to_numpy()
    )
    names = [f"window_{a:g}_{b:g}" for a, b in itertools.pairwise(starts)] + [
        f"window_{starts[-1]:g}_plus"
    ]
    exposed = base[base[EXPOSED] == 1]
    unexposed = base[base[EXPOSED] == 0].copy()
    pieces = [unexposed.assign(**{n: 0 for n in names})]
    expo = expo_by_id.loc[exposed[schema.ID]].to_numpy()
    bounds = np.append(starts, np.inf)
    for j, name in enumerate(names):
        lo = np.maximum(exposed[START].to_numpy(), expo + bounds[j])
        hi = np.minimum(exposed[STOP].to_numpy(), expo + bounds[j + 1])
        keep = hi > lo
        part = exposed.loc[keep].copy()
        part[START] = lo[keep]
        part[STOP] = hi[keep]
        part[schema.EVENT] = np.where(
            hi[keep] == exposed[STOP].to_numpy()[keep], exposed[schema.EVENT].to_numpy()[keep], 0
        )
        pieces.append(part.assign(**{n: int(n == name) for n in names}))
    episodes = pd.concat(pieces, ignore_index=True)
    episodes = episodes.sort_values([schema.ID, START], kind="stable").reset_index(drop=True)
    return episodes, names
