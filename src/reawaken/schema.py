"""The Cohort data contract and its validator.

A *cohort* is a table with one row per person:

``id``
    Person identifier, unique and non-missing.
``entry_day``
    Day of entry into follow-up.
``exposure_day``
    Day of (documented) exposure; ``NaN`` if never exposed during follow-up.
``event_day``
    Day follow-up ends, by the event or by censoring.
``event``
    Event code, see :data:`EVENT_CODES` (0 censored, 1 outcome, 2 competing death).
``test_day`` (optional)
    Day of a documented negative SARS-CoV-2 test; ``NaN`` if none.
covariates
    Any further numeric (or boolean) columns.
``true_*``
    Truth columns of simulated cohorts (e.g. ``true_infection_day``); never checked, never used
    as covariates by default.

All times are float days from the study origin. The origin date itself is metadata, not a
column; :func:`reawaken.io.cohort_from_dates` converts calendar dates to days.

:func:`validate_cohort` is the one place cohort input is checked. It collects every problem,
then raises a single :class:`~reawaken.errors.CohortError` listing them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reawaken.checks import checked
from reawaken.errors import CohortError

__all__ = [
    "ENTRY_DAY",
    "EVENT",
    "EVENT_CODES",
    "EVENT_DAY",
    "EXPOSURE_DAY",
    "ID",
    "REQUIRED_COLUMNS",
    "TEST_DAY",
    "TIME_COLUMNS",
    "TRUTH_PREFIX",
    "CohortCheck",
    "default_covariates",
    "validate_cohort",
]

ID = "id"
ENTRY_DAY = "entry_day"
EXPOSURE_DAY = "exposure_day"
EVENT_DAY = "event_day"
EVENT = "event"
TEST_DAY = "test_day"
REQUIRED_COLUMNS: tuple[str, ...] = (ID, ENTRY_DAY, EXPOSURE_DAY, EVENT_DAY, EVENT)
TIME_COLUMNS: tuple[str, ...] = (ENTRY_DAY, EXPOSURE_DAY, EVENT_DAY, TEST_DAY)
EVENT_CODES: dict[int, str] = {0: "censored", 1: "outcome", 2: "competing death"}
TRUTH_PREFIX = "true_"
#: Optional negative-control outcome (e.g. bone metastasis): its day and a 0/1 indicator.
NEGATIVE_CONTROL_COLUMNS = ("nc_event_day", "nc_event")

_MAX_EXAMPLES = 5
_DAYS_PER_YEAR = 365.25
_CODES_HINT = "0 (censored), 1 (outcome) or 2 (competing death)"


@dataclass(frozen=True)
class CohortCheck:
    """Summary of a cohort that passed :func:`validate_cohort`.

    Attributes
    ----------
    n_persons : int
        Number of rows (persons).
    n_exposed : int
        Persons with a non-missing ``exposure_day``.
    n_events_by_code : dict of int to int
        Number of persons per event code, for every code in :data:`EVENT_CODES`.
    followup_days_total : float
        Sum of ``event_day - entry_day`` over persons.
    covariates : tuple of str
        The covariate columns that were checked.
    """

    n_persons: int
    n_exposed: int
    n_events_by_code: dict[int, int] = field(default_factory=dict)
    followup_days_total: float = 0.0
    covariates: tuple[str, ...] = ()

    @property
    def person_years(self) -> float:
        """Total follow-up in years of 365.25 days."""
        return self.followup_days_total / _DAYS_PER_YEAR

    def summary(self) -> str:
        """Describe the cohort in one line.

        Returns
        -------
        str
            For example ``"4837 persons, 967 exposed, events: 1 outcome=69, 2 competing
            death=120, 0 censored=4648; 12,345.6 person-years; covariates: age, stage"``.
        """
        order = sorted(self.n_events_by_code, key=lambda code: (code == 0, code))
        events = ", ".join(
            f"{code} {EVENT_CODES.get(code, 'unknown')}={self.n_events_by_code[code]}"
            for code in order
        )
        covariates = ", ".join(self.covariates) if self.covariates else "none"
        return (
            f"{self.n_persons} persons, {self.n_exposed} exposed, events: {events}; "
            f"{self.person_years:,.1f} person-years; covariates: {covariates}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as plain Python objects (JSON-friendly apart from int dict keys).

        Returns
        -------
        dict
            Keys ``n_persons``, ``n_exposed``, ``n_events_by_code``, ``followup_days_total``,
            ``covariates`` (a list).
        """
        out = asdict(self)
        out["covariates"] = list(self.covariates)
        return out


def default_covariates(columns: Sequence[Any]) -> tuple[str, ...]:
    """Return the columns treated as covariates when none are named.

    Parameters
    ----------
    columns : sequence
        Column names of a cohort.

    Returns
    -------
    tuple of str
        Every column that is neither a required column, nor ``test_day``, nor a negative-control
        outcome column, nor a truth column (prefix :data:`TRUTH_PREFIX`), in table order.
    """
    reserved = {*REQUIRED_COLUMNS, TEST_DAY, *NEGATIVE_CONTROL_COLUMNS}
    return tuple(c for c in columns if c not in reserved and not str(c).startswith(TRUTH_PREFIX))


@checked(skip=("data",))
def validate_cohort(data: pd.DataFrame, *, covariates: Sequence[str] | None = None) -> CohortCheck:
    """Check a cohort against the data contract and summarise it.

    All problems are collected before anything is raised, so one run shows everything that
    needs fixing. Each problem is one line that counts the bad rows, names up to five example
    ids and says how to fix it.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per person with the columns described in :mod:`reawaken.schema`.
    covariates : sequence of str, optional
        Covariate columns to check (each must exist). By default every column that is not a
        required column, not ``test_day`` and not a ``true_*`` truth column.

    Returns
    -------
    CohortCheck
        Counts and follow-up of the valid cohort.

    Raises
    ------
    CohortError
        If anything is wrong; ``error.problems`` holds one line per problem.

    Notes
    -----
    Checked: the input is a non-empty DataFrame with unique column names; required columns
    present; ids present and unique; ``entry_day``, ``event_day`` and ``event`` not missing;
    time columns numeric, finite and non-negative; ``event_day > entry_day`` (zero-length
    follow-up is rejected because Cox and Kaplan-Meier cannot use it); ``exposure_day`` and
    ``test_day`` within ``[entry_day, event_day]`` when present; event codes in
    :data:`EVENT_CODES`; covariates numeric or boolean, without missing or infinite values.
    ``true_*`` columns are not checked.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> check = rw.validate_cohort(cohort.data)
    >>> check.n_persons, check.covariates
    (4000, ('age', 'stage', 'her2', 'comorbidity'))
    """
    if not isinstance(data, pd.DataFrame):
        raise CohortError(
            f"expected a pandas DataFrame, got {type(data).__name__}; fix: load the cohort with "
            "reawaken.io.read_cohort() or build it with pandas.DataFrame(...)"
        )
    if len(data) == 0:
        raise CohortError(
            f"cohort has no rows (columns: {_list_columns(data.columns)}); "
            "fix: pass a table with one row per person"
        )
    dup_cols = data.columns[data.columns.duplicated()].unique()
    if len(dup_cols):
        raise CohortError(
            f"{len(dup_cols)} column name(s) appear more than once: "
            f"{', '.join(map(str, dup_cols))}; fix: rename or drop the duplicate columns"
        )

    problems: list[str] = []
    labels = _example_labels(data, problems)
    missing = [c for c in REQUIRED_COLUMNS if c not in data.columns]
    if missing:
        problems.append(
            f"missing required column(s): {', '.join(missing)} "
            f"(columns present: {_list_columns(data.columns)}); fix: add them, or rename your "
            f"columns to the reawaken names {', '.join(REQUIRED_COLUMNS)}"
        )

    times: dict[str, np.ndarray] = {}
    for name in TIME_COLUMNS:
        if name in data.columns:
            values = _time_values(data[name], name, labels, problems)
            if values is not None:
                times[name] = values
    _check_times(times, labels, problems)
    _check_order(times, labels, problems)
    if EVENT in data.columns:
        codes = _event_values(data[EVENT], labels, problems)
    else:
        codes = np.full(len(data), np.nan)

    if covariates is None:
        covariate_names = default_covariates(data.columns)
    elif isinstance(covariates, str):
        covariate_names = (covariates,)
    else:
        covariate_names = tuple(covariates)
    _check_covariates(data, covariate_names, labels, problems)

    if problems:
        raise CohortError(problems)

    exposure = times[EXPOSURE_DAY]
    return CohortCheck(
        n_persons=len(data),
        n_exposed=int(np.count_nonzero(~np.isnan(exposure))),
        n_events_by_code={code: int(np.count_nonzero(codes == code)) for code in EVENT_CODES},
        followup_days_total=float(np.sum(times[EVENT_DAY] - times[ENTRY_DAY])),
        covariates=tuple(str(c) for c in covariate_names),
    )


def _list_columns(columns: pd.Index, limit: int = 20) -> str:
    """Render column names for a message, truncated after ``limit``."""
    names = [str(c) for c in columns]
    if not names:
        return "none"
    if len(names) > limit:
        return ", ".join(names[:limit]) + f", ... (+{len(names) - limit} more)"
    return ", ".join(names)


def _example_labels(df: pd.DataFrame, problems: list[str]) -> tuple[str, np.ndarray]:
    """Check the id column and return how rows are named in messages.

    Returns ``("id", ids)`` when ids exist, else ``("row", positions)``; appends problems about
    missing and duplicated ids.
    """
    positions = np.arange(len(df))
    if ID not in df.columns:
        return ("row", positions)
    ids = df[ID]
    na = ids.isna().to_numpy()
    if na.any():
        problems.append(
            _rows_problem(
                na,
                ("row", positions),
                "missing id",
                "give every person a unique, non-missing id",
            )
        )
    dup = ids.duplicated(keep=False).to_numpy() & ~na
    if dup.any():
        n_ids = ids[dup].nunique()
        problems.append(
            _rows_problem(
                dup,
                ("id", ids.to_numpy()),
                f"duplicated ids ({n_ids} distinct id(s) used more than once)",
                "keep one row per person, e.g. df.drop_duplicates('id'), or re-number the ids",
                unique=True,
            )
        )
    return ("id", ids.to_numpy())


def _rows_problem(
    mask: np.ndarray,
    labels: tuple[str, np.ndarray],
    what: str,
    fix: str,
    *,
    unique: bool = False,
) -> str:
    """Format one problem line: count, what is wrong, up to five examples, fix."""
    n = int(np.count_nonzero(mask))
    kind, values = labels
    examples = list(values[mask])
    if unique:
        examples = list(dict.fromkeys(examples))
    shown = ", ".join(str(v) for v in examples[:_MAX_EXAMPLES])
    more = ", ..." if len(examples) > _MAX_EXAMPLES else ""
    noun = kind if len(examples) == 1 else f"{kind}s"
    rows = "row" if n == 1 else "rows"
    eg = f" (e.g. {noun} {shown}{more})" if examples else ""
    return f"{what}: {n} {rows}{eg}; fix: {fix}"


def _is_number(value: Any) -> bool:
    """True for real numbers (not bools, not strings)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _time_values(
    s: pd.Series, name: str, labels: tuple[str, np.ndarray], problems: list[str]
) -> np.ndarray | None:
    """Return a time column as float64, or None after recording a dtype problem."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    bad = np.array([pd.notna(v) and not _is_number(v) for v in s], dtype=bool)
    date_col = name.removesuffix("_day") + "_date"
    problems.append(
        _rows_problem(
            bad,
            labels,
            f"{name} must be numeric days from the study origin but has dtype {s.dtype}, "
            "non-numeric values",
            f"convert it to float days; for ISO dates name the column {date_col} and use "
            "reawaken.io.cohort_from_dates(df, origin_date) or read_cohort(path, origin_date=...)",
        )
    )
    return None


def _check_times(
    times: dict[str, np.ndarray], labels: tuple[str, np.ndarray], problems: list[str]
) -> None:
    """Missing, non-finite and negative values in the time columns."""
    for name in (ENTRY_DAY, EVENT_DAY):
        if name in times and np.isnan(times[name]).any():
            problems.append(
                _rows_problem(
                    np.isnan(times[name]),
                    labels,
                    f"missing {name}",
                    f"fill in {name} (days from the study origin) or drop those rows",
                )
            )
    for name, values in times.items():
        inf = np.isinf(values)
        if inf.any():
            problems.append(
                _rows_problem(
                    inf,
                    labels,
                    f"non-finite (infinite) {name}",
                    f"replace inf by the actual day, or by NaN where {name} may be missing",
                )
            )
        negative = values < 0
        if negative.any():
            problems.append(
                _rows_problem(
                    negative,
                    labels,
                    f"negative {name}",
                    "times are days from the study origin and must be >= 0; choose an origin "
                    "on or before the earliest date",
                )
            )


def _check_order(
    times: dict[str, np.ndarray], labels: tuple[str, np.ndarray], problems: list[str]
) -> None:
    """Follow-up must be positive; exposure and test days must lie within follow-up."""
    if ENTRY_DAY not in times or EVENT_DAY not in times:
        return
    entry, end = times[ENTRY_DAY], times[EVENT_DAY]
    ok = np.isfinite(entry) & np.isfinite(end)
    before = ok & (end < entry)
    if before.any():
        problems.append(
            _rows_problem(
                before,
                labels,
                "event_day before entry_day",
                "check that the two columns are not swapped and the dates are right",
            )
        )
    zero = ok & (end == entry)
    if zero.any():
        problems.append(
            _rows_problem(
                zero,
                labels,
                "zero-length follow-up (event_day == entry_day), unusable by Cox and Kaplan-Meier",
                "drop them or add follow-up (e.g. end follow-up half a day after entry)",
            )
        )
    ok &= end >= entry
    hints = {
        EXPOSURE_DAY: "set exposure_day to NaN for persons not exposed during follow-up, "
        "or correct the dates",
        TEST_DAY: "set test_day to NaN for tests outside follow-up, or correct the dates",
    }
    for name, fix in hints.items():
        if name not in times:
            continue
        day = times[name]
        outside = ok & np.isfinite(day) & ((day < entry) | (day > end))
        if outside.any():
            problems.append(
                _rows_problem(outside, labels, f"{name} outside [entry_day, event_day]", fix)
            )


def _event_values(s: pd.Series, labels: tuple[str, np.ndarray], problems: list[str]) -> np.ndarray:
    """Return event codes as float64 after recording missing, non-numeric and unknown codes."""
    missing = s.isna().to_numpy()
    if missing.any():
        problems.append(
            _rows_problem(missing, labels, "missing event", f"code every row {_CODES_HINT}")
        )
    if pd.api.types.is_numeric_dtype(s.dtype):
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~missing & ~np.isin(values, list(EVENT_CODES))
        bad_values = [_format_code(v) for v in dict.fromkeys(values[bad])]
    else:
        values = np.full(len(s), np.nan)
        bad = ~missing
        bad_values = [repr(v) for v in dict.fromkeys(s[bad])]
    if bad.any():
        shown = ", ".join(bad_values[:_MAX_EXAMPLES])
        more = ", ..." if len(bad_values) > _MAX_EXAMPLES else ""
        problems.append(
            _rows_problem(
                bad,
                labels,
                f"unknown event codes {shown}{more} (dtype {s.dtype})",
                f"use the integer codes {_CODES_HINT}",
            )
        )
    return values


def _format_code(value: float) -> str:
    """Render an event code compactly: 3.0 -> '3', 1.5 -> '1.5'."""
    return (
        str(int(value)) if np.isfinite(value) and float(value).is_integer() else repr(float(value))
    )


def _check_covariates(
    data: pd.DataFrame,
    names: tuple[str, ...],
    labels: tuple[str, np.ndarray],
    problems: list[str],
) -> None:
    """Every covariate must exist, be numeric or boolean, and have no missing or infinite
    values (a model cannot use them; ``validate`` used to accept them and the analyses then
    wrote NaN balance rows and dropped the covariate from summaries)."""
    for name in names:
        if name not in data.columns:
            problems.append(
                f"covariate column {name!r} is not in the cohort (columns present: "
                f"{_list_columns(data.columns)}); fix: check the spelling or leave it out of "
                "covariates"
            )
            continue
        s = data[name]
        if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
            missing = s.isna().to_numpy()
            if missing.any():
                problems.append(
                    _rows_problem(
                        missing,
                        labels,
                        f"missing values in covariate {name!r}",
                        "impute them, drop those rows, or leave the covariate out with "
                        "covariates=[...]",
                    )
                )
            infinite = np.isinf(s.to_numpy(dtype="float64", na_value=np.nan))
            if infinite.any():
                problems.append(
                    _rows_problem(
                        infinite,
                        labels,
                        f"infinite values in covariate {name!r}",
                        "replace them by the measured value (or NaN and impute), or leave the "
                        "covariate out with covariates=[...]",
                    )
                )
            continue
        bad = s.notna().to_numpy()
        problems.append(
            _rows_problem(
                bad,
                labels,
                f"covariate {name!r} is not numeric (dtype {s.dtype}), non-numeric values",
                f"encode it as 0/1 or integer codes (e.g. df[{name!r}].astype('category')"
                ".cat.codes), or leave it out with covariates=[...]",
            )
        )
