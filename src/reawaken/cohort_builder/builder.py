"""Build the cohort contract from dated records, in the spirit of R's ``tmerge`` and Stata's
``stset``.

Input: one table of persons (id, entry date, covariates) and one table per kind of dated record
(exposures or tests with results, outcome events, deaths with cause, last contacts), several
rows per person allowed. Output: one row per person in the :mod:`reawaken.schema` contract and
a flow table counting every excluded person by reason (as in a STROBE diagram; von Elm et al.,
*Lancet* 2007).

Rules (days are counted from the study origin; a record dated ``d`` is on day
``k = (d - origin).days``):

* **Entry** is the later of the person's entry date and the origin: ``entry_day = max(k, 0)``.
  Follow-up starts at the *start* of the entry day.
* **Exposure** (and a negative test) takes effect at the *start* of its day: ``exposure_day =
  k``. The first qualifying exposure counts; one on the day of the outcome precedes it.
* **Outcome, death and censoring** happen at the *end* of their day: ``event_day = k + 1``
  (inclusive counting, so an outcome on the entry day gives one day of follow-up).
* Follow-up ends at the first of outcome, death, last contact and the study's end date; an
  outcome and a death on the same day count as the **outcome**; a death whose cause is in the
  outcome causes is the outcome; events after the last contact or the end date are censored
  there (the record ends at the last contact).
* **Exposure before entry**: ``prevalent_exposure="exclude"`` drops the person (counted), or
  ``"index_at_entry"`` treats the person as exposed from entry (``exposure_day =
  entry_day``; counted in the notes). Exposures after the end of follow-up are ignored.
* ``test_day`` is the first negative test within follow-up (test-negative designs).
* Exclusions, each person counted once, for the first reason that applies, in this order: no
  entry date; entry after the study's end date; follow-up ended before entry (last contact or
  death before the entry date); outcome before entry (prevalent outcome); exposure before entry
  (rule ``exclude``); a missing covariate (complete-case analysis).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import schema
from ..checks import checked
from ..errors import AnalysisError, CohortError
from .covariates import covariate_frame
from .records import Records, dates_to_days, first_day_per_person

__all__ = ["PREVALENT_EXPOSURE_RULES", "BuiltCohort", "build_cohort"]

#: How a person exposed before entry is handled.
PREVALENT_EXPOSURE_RULES: tuple[str, ...] = ("exclude", "index_at_entry")


@dataclass(frozen=True)
class BuiltCohort:
    """A cohort built from dated records, with its flow of exclusions.

    Attributes
    ----------
    data : pandas.DataFrame
        The cohort in the :mod:`reawaken.schema` contract (``df.attrs["origin_date"]`` set).
    flow : pandas.DataFrame
        Columns ``step, description, excluded, remaining``: the persons at the start, one row
        per exclusion reason, the study cohort at the end.
    notes : tuple of str
        Counts that are not exclusions (persons indexed at entry, records ignored, ...).
    origin_date : str
        The study origin, ``YYYY-MM-DD``.
    """

    data: pd.DataFrame
    flow: pd.DataFrame
    notes: tuple[str, ...]
    origin_date: str

    def flow_text(self) -> str:
        """The flow table as aligned text lines, then the notes."""
        width = max(len(d) for d in self.flow["description"]) + 2
        lines = []
        for row in self.flow.itertuples(index=False):
            if np.isnan(row.excluded):
                lines.append(f"  {row.description:<{width}} {'':>9} {int(row.remaining):>10,}")
            else:
                lines.append(
                    f"  - {row.description:<{width - 2}} {-int(row.excluded):>9,} "
                    f"{int(row.remaining):>10,}"
                )
        return "\n".join(["flow (persons):", *lines, *(f"note: {n}" for n in self.notes)])

    def summary(self) -> str:
        """The flow and a one-line description of the cohort."""
        check = schema.validate_cohort(self.data)
        return f"{self.flow_text()}\ncohort: {check.summary()}"


@checked
def build_cohort(
    persons: pd.DataFrame,
    *,
    origin_date: str,
    end_date: str,
    entry: str,
    exposures: Records | None = None,
    outcomes: Records | None = None,
    deaths: Records | None = None,
    last_contact: Records | None = None,
    id_col: str = "id",
    covariates: Sequence[str] | None = None,
    categorical: Mapping[str, Sequence[Hashable] | None] | None = None,
    birth: str | None = None,
    prevalent_exposure: str = "exclude",
    source: str = "persons table",
) -> BuiltCohort:
    """Build a cohort (one row per person) from dated records, counting every exclusion.

    Day numbers are ``k = (date - origin).days``; entry and exposure at the start of their day
    (``k``), outcome, death and censoring at its end (``k + 1``); the rules are listed in
    :mod:`reawaken.cohort_builder.builder` (the counting-process set-up of Andersen & Gill 1982, as
    R's ``survival::tmerge`` and Stata's ``stset`` build it).

    Parameters
    ----------
    persons : pandas.DataFrame
        One row per person: id, entry date (e.g. diagnosis), covariates.
    origin_date, end_date : str
        Study origin (day 0) and last day of follow-up (administrative censoring), YYYY-MM-DD.
    entry : str
        Column of ``persons`` with the entry date.
    exposures, outcomes, deaths, last_contact : Records, optional
        Dated records (see :class:`Records`); any may be omitted (then none of that kind).
    id_col : str, default "id"
        Person-id column in every table (a :class:`Records` may name its own).
    covariates : sequence of str, optional
        Columns of ``persons`` to keep. By default every numeric or boolean column not used
        otherwise, plus the ``categorical`` ones (other columns are listed in the notes).
    categorical : mapping, optional
        Column -> its levels (first = reference; ``None``: sorted values): dummy-coded as
        ``<column>_<level>`` 0/1 columns.
    birth : str, optional
        Column of ``persons`` with the date (or datetime) of birth: adds ``age`` in years of
        365.25 days at entry.
    prevalent_exposure : {"exclude", "index_at_entry"}
        Rule for persons exposed before entry.
    source : str
        Names the persons table in the flow (e.g. a file name).

    Returns
    -------
    BuiltCohort
        The cohort, its flow table and notes.

    Raises
    ------
    CohortError
        If a table lacks a named column, ids repeat in ``persons``, or dates cannot be read.
    AnalysisError
        If the rule is unknown or no person qualifies.

    Examples
    --------
    >>> import pandas as pd
    >>> import reawaken as rw
    >>> persons = pd.DataFrame({"id": [1, 2, 3],
    ...                         "diagnosis": ["2014-05-01", "2015-01-10", "2013-07-20"]})
    >>> tests = rw.Records(pd.DataFrame({"id": [2], "date": ["2020-11-02"]}), date="date")
    >>> built = rw.build_cohort(persons, origin_date="2020-03-01", end_date="2022-09-01",
    ...                         entry="diagnosis", exposures=tests)
    >>> built.data[["id", "entry_day", "exposure_day", "event_day", "event"]]
       id  entry_day  exposure_day  event_day  event
    0   1        0.0           NaN      915.0      0
    1   2        0.0         246.0      915.0      0
    2   3        0.0           NaN      915.0      0
    """
    if prevalent_exposure not in PREVALENT_EXPOSURE_RULES:
        raise AnalysisError(
            f"prevalent_exposure {prevalent_exposure!r} is not a rule; fix: use one of "
            f"{', '.join(PREVALENT_EXPOSURE_RULES)}"
        )
    origin, end_day = _origin_and_end(origin_date, end_date)
    ids = _person_ids(persons, id_col, entry, birth)
    days = _record_days(
        persons, ids, origin, entry, id_col, exposures, outcomes, deaths, last_contact
    )
    notes = list(days.pop("notes"))
    used = _used_columns(
        persons, (id_col, entry, birth), (exposures, outcomes, deaths, last_contact)
    )
    covs, cov_notes = covariate_frame(persons, covariates, categorical, exclude=used)
    notes += cov_notes
    if birth is not None:
        birth_days = dates_to_days(persons[birth], origin, f"{source}.{birth}", floor=False)
        covs.insert(0, "age", (np.maximum(days["entry"], 0.0) - birth_days) / 365.25)
    masks = _exclusions(days, end_day, covs, prevalent_exposure)
    flow, keep = _flow(masks, len(persons), source)
    if not keep.any():
        raise AnalysisError(
            f"no person qualifies for the cohort ({_flow_line(flow)}); fix: check the dates, "
            "the study's origin/end dates and the concept sets or record tables"
        )
    if prevalent_exposure == "index_at_entry":
        n_idx = int(np.count_nonzero(keep & (days["exposure"] < np.maximum(days["entry"], 0))))
        notes.append(f"{n_idx:,} persons exposed before entry were indexed at entry")
    data = _assemble(ids, days, end_day, keep, covs)
    data.attrs["origin_date"] = str(origin.date())
    schema.validate_cohort(data)
    return BuiltCohort(data=data, flow=flow, notes=tuple(notes), origin_date=str(origin.date()))


def _origin_and_end(origin_date: str, end_date: str) -> tuple[pd.Timestamp, float]:
    """Parse the study dates; return the origin and the end date's day number."""
    parsed = []
    for name, value in (("origin_date", origin_date), ("end_date", end_date)):
        stamp = pd.to_datetime(str(value), errors="coerce", format="ISO8601")
        if pd.isna(stamp):
            raise CohortError(f"{name} {value!r} is not a date; fix: give it as YYYY-MM-DD")
        parsed.append(stamp.floor("D"))
    origin, end = parsed
    if end < origin:
        raise CohortError(
            f"end_date {end.date()} is before origin_date {origin.date()}; fix: swap or "
            "correct them"
        )
    return origin, float((end - origin).days)


def _person_ids(persons: pd.DataFrame, id_col: str, entry: str, birth: str | None) -> pd.Index:
    """Check the persons table and return its ids (unique, non-missing)."""
    if not isinstance(persons, pd.DataFrame):
        raise CohortError(
            f"persons must be a pandas DataFrame, got {type(persons).__name__}; fix: pass "
            "pandas.read_csv(...)"
        )
    missing = [c for c in (id_col, entry, birth) if c is not None and c not in persons.columns]
    if missing:
        raise CohortError(
            f"persons table has no column {', '.join(map(repr, missing))} (columns: "
            f"{', '.join(map(str, persons.columns))}); fix: name the id, entry and birth columns"
        )
    ids = persons[id_col]
    bad = ids.isna() | ids.duplicated(keep=False)
    if bad.any():
        shown = ", ".join(map(str, pd.unique(ids[bad])[:5]))
        raise CohortError(
            f"persons table: {int(bad.sum())} rows with a missing or repeated {id_col} (e.g. "
            f"{shown}); fix: keep one row per person (records go in the record tables)"
        )
    return pd.Index(ids.to_numpy())


def _record_days(persons, ids, origin, entry, id_col, exposures, outcomes, deaths, contacts):
    """Per-person day numbers: entry, first exposure, outcome, death, last contact; tests."""
    notes: list[str] = []
    out: dict = {"entry": dates_to_days(persons[entry], origin, f"persons.{entry}")}
    nan = np.full(len(ids), np.nan)
    out["exposure"], out["negatives"] = nan, (np.array([]), np.array([]))
    if exposures is not None:
        out["exposure"], out["negatives"] = _exposure_days(exposures, ids, origin, id_col, notes)
    out["outcome"] = (
        nan if outcomes is None else _first_days(outcomes, "outcome", ids, origin, id_col, notes)
    )
    out["death"], out["death_outcome"] = nan, np.zeros(len(ids), dtype=bool)
    if deaths is not None:
        out["death"], out["death_outcome"] = _death_days(deaths, ids, origin, id_col, notes)
    out["contact"] = nan
    if contacts is not None:
        rid, rdays = _read_records(contacts, "last contact", ids, origin, id_col, notes)
        keep = ~np.isnan(rdays)
        last = pd.Series(rdays[keep]).groupby(rid[keep], sort=False).max()
        out["contact"] = last.reindex(ids).to_numpy(dtype="float64", na_value=np.nan)
    out["notes"] = notes
    return out


def _read_records(rec: Records, kind: str, ids: pd.Index, origin, id_col: str, notes: list):
    """Ids and day numbers of a record table; records of unknown persons are dropped (noted)."""
    ident = rec.check(kind, id_col)
    rid = rec.data[ident].to_numpy()
    rdays = dates_to_days(rec.data[rec.date], origin, f"{kind} records.{rec.date}")
    known = pd.Index(ids).get_indexer(rid) >= 0
    if not known.all():
        notes.append(
            f"{int((~known).sum()):,} {kind} records of persons not in the persons "
            "table were ignored"
        )
    return rid[known], rdays[known]


def _first_days(rec, kind, ids, origin, id_col, notes):
    rid, rdays = _read_records(rec, kind, ids, origin, id_col, notes)
    return first_day_per_person(rid, rdays, ids)


def _exposure_days(rec: Records, ids, origin, id_col, notes):
    """First qualifying exposure per person, and the (id, day) of every negative test."""
    rid, rdays = _read_records(rec, "exposure", ids, origin, id_col, notes)
    if rec.result is None:
        return first_day_per_person(rid, rdays, ids), (np.array([]), np.array([]))
    ident = rec.id or id_col
    known = pd.Index(ids).get_indexer(rec.data[ident].to_numpy()) >= 0
    result = rec.data[rec.result].to_numpy()[known]
    pos = pd.Series(result).isin(list(rec.positive)).to_numpy()
    neg = pd.Series(result).isin(list(rec.negative)).to_numpy()
    other = ~(pos | neg)
    if other.any():
        shown = ", ".join(repr(v) for v in pd.unique(result[other])[:5])
        notes.append(f"{int(other.sum()):,} test records with other results ({shown}) were ignored")
    return first_day_per_person(rid[pos], rdays[pos], ids), (rid[neg], rdays[neg])


def _death_days(rec: Records, ids, origin, id_col, notes):
    """Earliest death day per person and whether that death is the outcome (by cause)."""
    rid, rdays = _read_records(rec, "death", ids, origin, id_col, notes)
    is_outcome = np.zeros(len(rid), dtype=bool)
    if rec.cause is not None:
        ident = rec.id or id_col
        known = pd.Index(ids).get_indexer(rec.data[ident].to_numpy()) >= 0
        cause = pd.Series(rec.data[rec.cause].to_numpy()[known])
        is_outcome = cause.isin(list(rec.outcome_causes)).to_numpy()
    frame = pd.DataFrame({"id": rid, "day": rdays, "outcome": is_outcome}).dropna(subset=["day"])
    first = frame.sort_values(["day", "outcome"], ascending=[True, False], kind="stable")
    first = first.drop_duplicates("id").set_index("id").reindex(ids)
    return (
        first["day"].to_numpy(dtype="float64", na_value=np.nan),
        first["outcome"].eq(True).to_numpy(dtype=bool),
    )


def _used_columns(persons, named: tuple, records: tuple) -> set:
    """Columns of ``persons`` that are not covariates (ids, dates used by record tables)."""
    used = set(named)
    for rec in records:
        if rec is not None and rec.data is persons:
            used |= {rec.id, rec.date, rec.result, rec.cause}
    return {c for c in used if c is not None}


def _exclusions(days: dict, end_day: float, covs: pd.DataFrame, rule: str) -> list:
    """(description, mask) per exclusion reason, in the order they are applied."""
    entry = np.maximum(days["entry"], 0.0)
    ended = np.fmin(days["contact"], days["death"])
    missing_cov = covs.isna().any(axis=1).to_numpy()
    cols = [c for c in covs if covs[c].isna().any()]
    masks = [
        ("no entry date", np.isnan(days["entry"])),
        ("entry after the study's end date", entry > end_day),
        (
            "follow-up ended before entry (last contact or death before the entry date)",
            ended < entry,
        ),
        ("outcome before entry (prevalent outcome)", days["outcome"] < entry),
    ]
    if rule == "exclude":
        masks.append(("exposed before entry (prevalent exposure)", days["exposure"] < entry))
    label = f" ({', '.join(cols)})" if cols else ""
    masks.append((f"missing covariate value{label}", missing_cov))
    return masks


def _flow(masks: list, n: int, source: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Apply the exclusions in order; the flow table and the mask of persons kept."""
    keep = np.ones(n, dtype=bool)
    rows = [{"step": 0, "description": f"persons in {source}", "excluded": np.nan, "remaining": n}]
    for step, (description, mask) in enumerate(masks, start=1):
        hit = keep & mask
        keep &= ~hit
        rows.append(
            {
                "step": step,
                "description": description,
                "excluded": float(hit.sum()),
                "remaining": int(keep.sum()),
            }
        )
    rows.append(
        {
            "step": len(masks) + 1,
            "description": "study cohort",
            "excluded": np.nan,
            "remaining": int(keep.sum()),
        }
    )
    return pd.DataFrame(rows), keep


def _flow_line(flow: pd.DataFrame) -> str:
    parts = [f"{r.description}: {int(r.excluded)}" for r in flow.itertuples() if r.excluded > 0]
    return f"{int(flow['remaining'].iloc[0])} persons; " + ("; ".join(parts) or "none excluded")


def _assemble(ids, days: dict, end_day: float, keep: np.ndarray, covs: pd.DataFrame):
    """The contract columns for the persons kept (rules in the module docstring)."""
    entry = np.maximum(days["entry"], 0.0)
    outcome = np.fmin(days["outcome"], np.where(days["death_outcome"], days["death"], np.nan))
    censor = np.fmin(days["contact"], end_day)
    first_event = np.fmin(outcome, days["death"])
    observed = first_event <= censor
    stop = np.where(observed, first_event, censor)  # last day of follow-up
    event = np.where(observed, np.where(outcome <= days["death"], 1, 2), 0)
    event = np.where(observed & np.isnan(days["death"]), 1, event)
    exposure = np.where(days["exposure"] < entry, entry, days["exposure"])
    exposure = np.where(exposure <= stop, exposure, np.nan)
    data = pd.DataFrame(
        {
            schema.ID: ids.to_numpy(),
            schema.ENTRY_DAY: entry,
            schema.EXPOSURE_DAY: exposure,
        }
    )
    neg_ids, neg_days = days["negatives"]
    if len(neg_ids):
        position = ids.get_indexer(neg_ids)
        inside = (neg_days >= entry[position]) & (neg_days <= stop[position])
        data[schema.TEST_DAY] = first_day_per_person(neg_ids[inside], neg_days[inside], ids)
    data[schema.EVENT_DAY] = stop + 1.0
    data[schema.EVENT] = event.astype(np.int64)
    for name in covs:
        data[name] = covs[name].to_numpy()
    return data.loc[keep].reset_index(drop=True)
