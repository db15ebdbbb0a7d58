"""Input checks shared by every layer's entry points (design, analysis, power, report, analyze):
one clear AnalysisError per problem.

Each check names the entry point, the column and the bad rows, and says how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import AnalysisError


def require_frame(data: object, where: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise AnalysisError(f"{where}: data must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise AnalysisError(f"{where}: data has no rows; pass a non-empty table")
    return data


def require_columns(data: pd.DataFrame, columns: Iterable[str | None], where: str) -> None:
    """Every named column must exist."""
    missing = [c for c in columns if c is not None and c not in data.columns]
    if missing:
        shown = ", ".join(map(str, list(data.columns)[:20]))
        raise AnalysisError(
            f"{where}: unknown column(s) {', '.join(map(repr, missing))}; columns present: "
            f"{shown}; fix: check the spelling"
        )


def numeric_column(data: pd.DataFrame, column: str, where: str) -> np.ndarray:
    """A column as float, rejecting non-numeric types and missing values."""
    s = data[column]
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise AnalysisError(
            f"{where}: column {column!r} must be numeric (dtype {s.dtype}); encode it as numbers"
        )
    x = s.to_numpy(dtype=float)
    bad = ~np.isfinite(x)
    if bad.any():
        raise AnalysisError(
            f"{where}: column {column!r} has {int(bad.sum())} missing or infinite value(s) "
            f"(e.g. row {int(np.flatnonzero(bad)[0])}); fix: drop or impute those rows"
        )
    return x


def check_durations(data: pd.DataFrame, column: str, where: str) -> np.ndarray:
    """Durations: numeric, finite, non-negative."""
    t = numeric_column(data, column, where)
    if (t < 0).any():
        raise AnalysisError(
            f"{where}: column {column!r} has {int((t < 0).sum())} negative time(s); fix: times "
            "must be >= 0 (days since the time origin)"
        )
    return t


def check_start_stop(
    data: pd.DataFrame, start: str, stop: str, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """(start, stop] intervals: numeric, finite, start >= 0 and start < stop."""
    t0 = check_durations(data, start, where)
    t1 = check_durations(data, stop, where)
    bad = t0 >= t1
    if bad.any():
        raise AnalysisError(
            f"{where}: {int(bad.sum())} row(s) have {start} >= {stop} (e.g. row "
            f"{int(np.flatnonzero(bad)[0])}); fix: drop zero-length intervals or correct them"
        )
    return t0, t1


def check_events(
    data: pd.DataFrame, column: str, where: str, *, cause: int | None = None
) -> np.ndarray:
    """Event codes: non-negative integers (0 = censored). Returns the 0/1 indicator of the
    event of interest (``cause``, or any non-zero code when ``cause`` is None) and requires at
    least one such event."""
    return event_indicator(numeric_column(data, column, where), column, where, cause=cause)


def event_indicator(
    e: np.ndarray, column: str, where: str, *, cause: int | None = None
) -> np.ndarray:
    """:func:`check_events` on the codes ``e`` of ``column`` already read by
    :func:`numeric_column` (finite floats)."""
    if (e < 0).any() or not np.all(e == np.round(e)):
        raise AnalysisError(
            f"{where}: column {column!r} must hold integer codes 0 (censored), 1, 2, ...; "
            f"found {', '.join(f'{c:g}' for c in np.unique(e[(e < 0) | (e != np.round(e))])[:5])}; "
            "fix: recode the column as 0 for censored and 1, 2, ... for the event types"
        )
    if cause is None:
        d = (e > 0).astype(float)
        label = "events"
    else:
        if cause == 0:
            raise AnalysisError(f"{where}: cause must be a non-zero event code (0 is censoring)")
        d = (e == cause).astype(float)
        label = f"events of cause {cause}"
    if d.sum() == 0:
        raise AnalysisError(
            f"{where}: no {label} in column {column!r}; fix: the analysis needs at least one "
            "(check the event coding or use a larger cohort)"
        )
    return d


def check_two_groups(data: pd.DataFrame, column: str, where: str) -> np.ndarray:
    """A grouping column with at least two non-empty groups and no missing values."""
    g = data[column]
    if g.isna().any():
        raise AnalysisError(
            f"{where}: group column {column!r} has {int(g.isna().sum())} missing value(s); "
            "drop or fill them"
        )
    levels = pd.unique(g)
    if len(levels) < 2:
        raise AnalysisError(
            f"{where}: group column {column!r} has only one group ({levels[0]!r}); "
            "a comparison needs two non-empty arms"
        )
    return g.to_numpy()


def check_time_grid(times: float | Iterable[float], where: str) -> np.ndarray:
    """A user-given grid of times: non-empty, finite, >= 0."""
    try:
        t = np.atleast_1d(np.asarray(times, dtype=float))
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"{where}: times must be numbers; got {times!r}") from exc
    if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all() or (t < 0).any():
        raise AnalysisError(
            f"{where}: times must be a non-empty list of finite numbers >= 0; got {times!r}"
        )
    return t


def default_at_risk_times(max_time: float) -> np.ndarray:
    """Round-number times from 0 to ``max_time``: the coarsest matplotlib ``MaxNLocator`` grid
    (steps 1, 2, 2.5, 5, 10) giving at least five times within follow-up (usually 5-8)."""
    from matplotlib.ticker import MaxNLocator  # a tick grid only: no backend, no figure

    if max_time <= 0:
        return np.array([0.0])
    for nbins in range(5, 12):
        ticks = MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]).tick_values(0.0, max_time)
        ticks = ticks[(ticks >= 0) & (ticks <= max_time * (1 + 1e-12))]
        if ticks.size >= 5:
            break
    return ticks
