"""Dated record tables for the cohort builder, and their conversion to study days.

A :class:`Records` names one table of dated records (exposures or tests, outcome events,
deaths, last contacts) and the columns that matter in it. Dates of any column name are read
as calendar days: ISO strings (``2021-03-04``), ``datetime64`` or ``date`` values; a time of
day is dropped (records are dated to the day). A date ``d`` becomes the integer day
``(d - origin).days``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import CohortError

__all__ = ["Records", "dates_to_days", "first_day_per_person"]

_MAX_SHOWN = 5


@dataclass(frozen=True)
class Records:
    """One table of dated records, one row per record (several rows per person allowed).

    Parameters
    ----------
    data : pandas.DataFrame
        The records.
    date : str, default "date"
        Column holding the record's date (any name; ISO strings or datetimes).
    id : str, optional
        Person-id column; by default the ``id`` column named in :func:`build_cohort`.
    result : str, optional
        Exposure/test tables only: column with the test result. Without it every row is a
        qualifying exposure.
    positive : sequence, default ()
        Values of ``result`` that make a row a qualifying exposure (positive test).
    negative : sequence, default ()
        Values of ``result`` that make a row a negative test (gives ``test_day``).
    cause : str, optional
        Death tables only: column with the cause of death.
    outcome_causes : sequence, default ()
        Values of ``cause`` for which a death is the study outcome (e.g. cancer death); every
        other death is a competing death.
    """

    data: pd.DataFrame
    date: str = "date"
    id: str | None = None
    result: str | None = None
    positive: Sequence[Hashable] = field(default_factory=tuple)
    negative: Sequence[Hashable] = field(default_factory=tuple)
    cause: str | None = None
    outcome_causes: Sequence[Hashable] = field(default_factory=tuple)

    def check(self, kind: str, id_col: str) -> str:
        """Check the named columns exist; return the id column used.

        Raises
        ------
        CohortError
            If ``data`` is not a DataFrame or a named column is missing, or options are given
            that the kind of table does not use.
        """
        if not isinstance(self.data, pd.DataFrame):
            raise CohortError(
                f"{kind} records must be a pandas DataFrame, got {type(self.data).__name__}; "
                "fix: pass Records(pandas.read_csv(...), date=...)"
            )
        ident = self.id or id_col
        used = {"id": ident, "date": self.date, "result": self.result, "cause": self.cause}
        missing = [
            f"{role} column {col!r}"
            for role, col in used.items()
            if col is not None and col not in self.data.columns
        ]
        if missing:
            raise CohortError(
                f"{kind} table has no {', '.join(missing)} (columns: "
                f"{', '.join(map(str, self.data.columns))}); fix: name the right columns "
                f"(id=..., date=..., result=..., cause=...) for the {kind} table"
            )
        if kind != "exposure" and (self.result or self.positive or self.negative):
            raise CohortError(
                f"{kind} table: result/positive/negative apply only to exposure (test) tables; "
                "fix: remove them"
            )
        if kind != "death" and (self.cause or self.outcome_causes):
            raise CohortError(
                f"{kind} table: cause/outcome_causes apply only to the death table; "
                "fix: remove them"
            )
        if self.outcome_causes and not self.cause:
            raise CohortError(
                "death table: outcome_causes needs the cause column; fix: add cause='<column>'"
            )
        return ident


def dates_to_days(
    values: pd.Series, origin: pd.Timestamp, what: str, *, floor: bool = True
) -> np.ndarray:
    """Days from ``origin`` to each date: ``(date - origin).days``; missing -> NaN.

    Parameters
    ----------
    values : pandas.Series
        Dates as ISO strings, ``datetime64`` values or ``datetime.date`` objects.
    origin : pandas.Timestamp
        The study origin (midnight).
    what : str
        Names the column in error messages, e.g. ``"deaths.death_date"``.
    floor : bool, default True
        Drop the time of day (whole days); ``False`` keeps it (fractional days, e.g. for a
        birth datetime).

    Returns
    -------
    numpy.ndarray
        Float days (whole days when ``floor``, else fractional), NaN where missing.

    Raises
    ------
    CohortError
        If the column holds numbers instead of dates, or values that are not dates.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not values.isna().all():
        raise CohortError(
            f"{what} holds numbers ({values.dtype}), not dates; fix: give dates as YYYY-MM-DD "
            "(or datetimes); for day numbers build the cohort table directly"
        )
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        dates = values
    else:
        dates = pd.to_datetime(values.astype("object"), errors="coerce", format="ISO8601")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    bad = (values.notna() & dates.isna()).to_numpy()
    if bad.any():
        shown = ", ".join(repr(v) for v in pd.unique(values[bad])[:_MAX_SHOWN])
        raise CohortError(
            f"{what}: {int(bad.sum())} value(s) are not dates (e.g. {shown}); fix: write dates "
            "as YYYY-MM-DD or leave them empty"
        )
    if floor:
        dates = dates.dt.floor("D")
    days = (dates - origin) / pd.Timedelta(days=1)
    return days.to_numpy(dtype="float64", na_value=np.nan)


def first_day_per_person(ids: np.ndarray, days: np.ndarray, person_ids: pd.Index) -> np.ndarray:
    """Earliest day per person, aligned with ``person_ids`` (NaN where a person has none).

    Parameters
    ----------
    ids, days : numpy.ndarray
        One entry per record; records with a missing day are ignored.
    person_ids : pandas.Index
        The persons, in cohort order.

    Returns
    -------
    numpy.ndarray
        Float days, one per person.
    """
    keep = ~np.isnan(days)
    first = pd.Series(days[keep]).groupby(ids[keep], sort=False).min()
    return first.reindex(person_ids).to_numpy(dtype="float64", na_value=np.nan)
