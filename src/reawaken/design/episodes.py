"""Counting-process episodes: split each person's follow-up at the exposure day.

A person with ``exposure_day`` inside ``(entry_day, event_day)`` gives two rows,
``(entry, exposure]`` unexposed and ``(exposure, event]`` exposed; the event (if any) belongs to
the last row. Exposure on the entry day gives one exposed row; exposure on the event day is
after the event in ``(start, stop]`` convention, so the row stays unexposed (R survival and
lifelines use the same risk-set rule: a row entering at ``t`` is not at risk at ``t``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import schema

START, STOP, EXPOSED = "start", "stop", "exposed"


def split_at_exposure(
    cohort: pd.DataFrame, *, covariates: Sequence[str] = (), event_code: int = 1
) -> pd.DataFrame:
    """Episodes table (``id, start, stop, event, exposed, covariates``) from a Cohort table.

    ``event`` is 1 where the person's ``event`` equals ``event_code`` on their last row and 0
    elsewhere (other causes are censored: cause-specific hazards).
    """
    ids = cohort[schema.ID].to_numpy()
    entry = cohort[schema.ENTRY_DAY].to_numpy(dtype=float)
    stop = cohort[schema.EVENT_DAY].to_numpy(dtype=float)
    expo = cohort[schema.EXPOSURE_DAY].to_numpy(dtype=float)
    event = (cohort[schema.EVENT].to_numpy() == event_code).astype(np.int64)

    with np.errstate(invalid="ignore"):
        split = (expo > entry) & (expo < stop)
        exposed_whole = expo <= entry
    n = len(cohort)
    first = pd.DataFrame(
        {
            schema.ID: ids,
            START: entry,
            STOP: np.where(split, expo, stop),
            schema.EVENT: np.where(split, 0, event),
            EXPOSED: exposed_whole.astype(np.int64),
            "_row": np.arange(n),
            "_order": 0,
        }
    )
    second = pd.DataFrame(
        {
            schema.ID: ids[split],
            START: expo[split],
            STOP: stop[split],
            schema.EVENT: event[split],
            EXPOSED: 1,
            "_row": np.flatnonzero(split),
            "_order": 1,
        }
    )
    episodes = pd.concat([first, second], ignore_index=True).sort_values(
        ["_row", "_order"], kind="stable"
    )
    rows = episodes["_row"].to_numpy()
    for name in covariates:
        episodes[name] = cohort[name].to_numpy()[rows]
    return episodes.drop(columns=["_row", "_order"]).reset_index(drop=True)
