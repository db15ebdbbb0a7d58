"""Kaplan–Meier curves with Greenwood SE and log(-log) CIs, at-risk counts, and log-rank tests.

``kaplan_meier`` wraps lifelines' ``KaplanMeierFitter`` per group: its survival estimate, its
confidence band and its median helpers. lifelines' band is the "exponential Greenwood" one, i.e.
the log(-log) transform of Kalbfleisch & Prentice (1980), R survival's ``conf.type="log-log"``
(see ``KaplanMeierFitter._bounds``). The Greenwood SE of S(t) itself is not exposed by lifelines,
so it is computed from lifelines' event table (one cumulative sum).

``logrank`` computes the (stratified) k-sample log-rank test (Mantel 1966) in one vectorized pass
over (stratum, time) cells, so thousands of small matched sets cost no Python loop; lifelines has
no stratified log-rank and statsmodels' ``survdiff(strata=...)`` loops per stratum. Tests check it
against lifelines' ``multivariate_logrank_test`` and statsmodels' ``survdiff`` to 1e-6.

Event codes are 0 censored, 1, 2, ...; ``cause=k`` counts only code k (others are censored at
their time), ``cause="any"`` any non-zero code. ``cause=None`` means "any" for data with a single
event code; ``logrank`` refuses it when several codes are present (a silent "any event" test of
outcome and competing deaths together is rarely what was meant: R's ``survdiff`` and lifelines
make the user code the status column the same way), ``kaplan_meier`` keeps it as "any event"
(event-free survival), labelled in its method.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from scipy import stats

from ..checks import checked
from ..errors import AnalysisError
from ..inputs import (
    check_durations,
    check_events,
    check_time_grid,
    check_two_groups,
    default_at_risk_times,
    numeric_column,
    require_columns,
    require_frame,
)
from .results import ChiSquareResult

TABLE_COLUMNS = (
    "group",
    "time",
    "n_at_risk",
    "events",
    "censored",
    "survival",
    "se",
    "ci_low",
    "ci_high",
)
ALL = "all"


@dataclass(frozen=True)
class KaplanMeierResult:
    """Kaplan–Meier estimates per group as tidy tables.

    Attributes
    ----------
    table : DataFrame
        ``group, time, n_at_risk, events, censored, survival, se, ci_low, ci_high``: one row per
        distinct time per group, including time 0 (which holds any events at time 0).
        ``n_at_risk`` counts persons with time >= t; ``se`` is the Greenwood SE of S(t);
        ``se``, ``ci_low`` and ``ci_high`` are NaN where S(t) = 0 (Greenwood variance undefined).
    at_risk : DataFrame
        ``group, time, n_at_risk`` at the requested (or default round-number) times.
    medians : DataFrame
        ``group, median, ci_low, ci_high``; NaN where the curve (or CI curve) never reaches 0.5.
    level : float
        Confidence level of the CIs.
    cause : int or None
        Event code analysed (None: any non-zero code).
    method : str
        Label of the estimator and CI.
    caption : str
        What the curves estimate, for a figure caption ("" for ordinary Kaplan–Meier curves;
        Simon–Makuch and landmark curves say what they are not).
    """

    table: pd.DataFrame
    at_risk: pd.DataFrame
    medians: pd.DataFrame
    level: float
    cause: int | None
    method: str
    caption: str = ""

    @property
    def groups(self) -> list:
        return list(pd.unique(self.table["group"]))

    def survival_at(self, times: float | Iterable[float]) -> pd.DataFrame:
        """Step-function values ``group, time, n_at_risk, survival, se, ci_low, ci_high``.

        S(t) is the value at the last distinct time <= t (right-continuous step function). Beyond
        a group's last observed time the estimate is undefined (NaN) unless S has reached 0.
        """
        t = check_time_grid(times, "survival_at")
        parts = []
        for g, tab in self.table.groupby("group", sort=False):
            grid = tab["time"].to_numpy()
            idx = np.searchsorted(grid, t, side="right") - 1
            defined = (t <= grid[-1]) | (tab["survival"].iloc[-1] == 0)
            cols = {
                c: np.where(defined, tab[c].to_numpy()[idx], np.nan)
                for c in ("survival", "se", "ci_low", "ci_high")
            }
            parts.append(
                pd.DataFrame(
                    {"group": g, "time": t, "n_at_risk": _at_risk_from_table(tab, t), **cols}
                )
            )
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> str:
        pct = f"{100 * self.level:g}%"
        lines = [f"{self.method}; medians with {pct} CI"]
        first = self.table.groupby("group", sort=False).agg(
            n=("n_at_risk", "first"), events=("events", "sum")
        )
        for r in self.medians.itertuples():
            n, ev = first.loc[r.group, "n"], first.loc[r.group, "events"]
            lines.append(
                f"  {r.group!s:<16} n={int(n):,} events={int(ev):,} median "
                f"{_fmt(r.median)} ({_fmt(r.ci_low)}-{_fmt(r.ci_high)})"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class LogrankResult(ChiSquareResult):
    """A log-rank test: chi-square ``statistic`` on ``df`` degrees of freedom, ``p_value``, and
    a ``table`` with per group ``group, n, observed, expected``."""

    def _row_text(self, r) -> str:
        return f"{r.group!s:<16} n={r.n:,} observed={r.observed:g} expected={r.expected:.2f}"


def _fmt(x: float) -> str:
    return "NR" if not np.isfinite(x) else f"{x:g}"


def _at_risk_from_table(tab: pd.DataFrame, t: np.ndarray) -> np.ndarray:
    """Persons with time >= t: the at-risk count at the first table time >= t (0 beyond)."""
    grid = tab["time"].to_numpy()
    n = np.append(tab["n_at_risk"].to_numpy(), 0)
    return n[np.searchsorted(grid, t, side="left")].astype(int)


def _event_indicator(
    data: pd.DataFrame, event: str, where: str, cause: int | str | None
) -> np.ndarray:
    if cause == "any":
        cause = None
    elif cause is not None and (isinstance(cause, bool) or not isinstance(cause, int | np.integer)):
        raise AnalysisError(
            f"{where}: cause must be an event code (an integer such as 1) or 'any', got "
            f"{cause!r}; fix: pass e.g. cause=1"
        )
    if cause is not None:
        codes = numeric_column(data, event, where)
        present = sorted(int(c) for c in np.unique(codes) if c != 0 and c == int(c))
        if cause != 0 and cause not in present:
            raise AnalysisError(
                f"{where}: cause {cause!r} does not occur in column {event!r} (event codes "
                f"present: {', '.join(map(str, present)) or 'none'}); fix: pass one of them, or "
                "cause=None to count any non-zero code as the event"
            )
    return check_events(data, event, where, cause=cause)


def _require_cause(data: pd.DataFrame, event: str, where: str) -> None:
    """With several non-zero event codes, the event of interest must be named."""
    codes = numeric_column(data, event, where)
    present = sorted(int(c) for c in np.unique(codes[codes > 0]))
    if len(present) > 1:
        raise AnalysisError(
            f"{where}: column {event!r} holds several event codes ({', '.join(map(str, present))})"
            " and no cause was given; fix: pass cause=1 to test the outcome (other codes "
            "censored: a cause-specific test), or cause='any' to test any event"
        )


def _group_labels(data: pd.DataFrame, group: str | None, where: str) -> tuple[np.ndarray, list]:
    """Group value per row and the group levels (categorical order, else sorted if possible)."""
    if group is None:
        return np.full(len(data), ALL, dtype=object), [ALL]
    g = data[group]
    if g.isna().any():
        raise AnalysisError(
            f"{where}: group column {group!r} has {int(g.isna().sum())} missing value(s); "
            "fix: drop those rows or fill them with a group label"
        )
    if isinstance(g.dtype, pd.CategoricalDtype):
        present = set(g.tolist())
        levels = [c for c in g.cat.categories.tolist() if c in present]
    else:
        levels = g.drop_duplicates().tolist()
        try:
            levels = sorted(levels)
        except TypeError:
            pass
    return g.to_numpy(dtype=object), levels


def _fit_one(t: np.ndarray, d: np.ndarray, level: float) -> tuple[pd.DataFrame, tuple]:
    kmf = KaplanMeierFitter(alpha=1 - level).fit(t, d)
    et = kmf.event_table
    s = kmf.survival_function_.iloc[:, 0].to_numpy()
    n = et["at_risk"].to_numpy(dtype=float)
    dd = et["observed"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(np.where(dd > 0, dd / (n * (n - dd)), 0.0))
        se = s * np.sqrt(greenwood)
    ci = kmf.confidence_interval_.to_numpy(copy=True)
    zero = s <= 0
    se[zero] = np.nan
    ci[zero] = np.nan
    table = pd.DataFrame(
        {
            "time": et.index.to_numpy(dtype=float),
            "n_at_risk": et["at_risk"].to_numpy(dtype=int),
            "events": et["observed"].to_numpy(dtype=int),
            "censored": et["censored"].to_numpy(dtype=int),
            "survival": s,
            "se": se,
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
        }
    )
    band = kmf.confidence_interval_.to_numpy()
    med = tuple(_first_at_or_below(table["time"], curve) for curve in (s, band[:, 0], band[:, 1]))
    return table, med


def _first_at_or_below(times: pd.Series, curve: np.ndarray, q: float = 0.5) -> float:
    """First time with curve <= q (NaN if never): lifelines' ``qth_survival_time`` rule with a
    1e-10 tolerance, because lifelines forms S as exp(sum log(1 - d/n)), so an S of exactly 0.5
    can come out as 0.5000000000000001 and lifelines then skips to the next time."""
    hit = np.flatnonzero(curve <= q + 1e-10)
    return float(times.iloc[hit[0]]) if hit.size else float("nan")


@checked(skip=("data",))
def kaplan_meier(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str | None = None,
    times: Iterable[float] | None = None,
    cause: int | str | None = None,
    level: float = 0.95,
) -> KaplanMeierResult:
    """Kaplan–Meier survival per group with Greenwood SE and log(-log) confidence intervals.

    S(t) = prod_{t_i <= t} (1 - d_i / n_i) (Kaplan & Meier, JASA 1958); Var S(t) =
    S(t)^2 sum_{t_i <= t} d_i / (n_i (n_i - d_i)) (Greenwood 1926); CI S(t)^exp(-/+ z s / log S)
    with s = SE/S, the log(-log) band of Kalbfleisch & Prentice 1980 (lifelines' default,
    R ``conf.type="log-log"``).

    Parameters
    ----------
    data : DataFrame
        One row per person.
    duration : str
        Column of follow-up times (>= 0).
    event : str
        Column of event codes: 0 censored, 1, 2, ...
    group : str, optional
        Column defining the curves; None gives one curve labelled ``"all"``.
    times : iterable of float, optional
        Times for the at-risk table; default about six round numbers spanning follow-up.
    cause : int or "any", optional
        None or "any": any non-zero code is the event. k: only code k; other codes are
        censored. Under competing risks 1 - S(t) is then *not* the cumulative incidence of
        cause k (it estimates the risk in a world without the competing events and overstates
        the real one); use
        ``reawaken.analysis.competing.cumulative_incidence`` (Aalen–Johansen) for that.
    level : float
        Confidence level.

    Returns
    -------
    KaplanMeierResult
        Medians follow lifelines' ``median_survival_times`` rule: the first time the curve is
        <= 0.5 (NaN if never); their CI is the first times the lower and upper log(-log) CI
        curves are <= 0.5, i.e. the Brookmeyer & Crowley (Biometrics 1982) interval on the
        log(-log) scale as in R survival (R takes a midpoint where S is exactly 0.5 on an
        interval; we, like lifelines, take its left end).

    Examples
    --------
    >>> import reawaken as rw
    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi()
    >>> km = rw.kaplan_meier(rossi, duration="week", event="arrest", group="fin", times=[0, 26, 52])
    >>> km.survival_at([52]).round(3)[["group", "survival", "ci_low", "ci_high"]]
       group  survival  ci_low  ci_high
    0      0     0.694   0.628    0.751
    1      1     0.778   0.716    0.828
    """
    where = "kaplan_meier"
    require_frame(data, where)
    require_columns(data, [duration, event, group], where)
    if not 0 < level < 1:
        raise AnalysisError(f"{where}: level must be in (0, 1), got {level!r}; e.g. level=0.95")
    t = check_durations(data, duration, where)
    d = _event_indicator(data, event, where, cause)
    g, levels = _group_labels(data, group, where)
    grid = default_at_risk_times(float(t.max())) if times is None else check_time_grid(times, where)

    tables, medians, risks = [], [], []
    for lev in levels:
        rows = g == lev
        tab, med = _fit_one(t[rows], d[rows], level)
        tab.insert(0, "group", lev)
        tables.append(tab)
        medians.append((lev, *med))
        risks.append(
            pd.DataFrame({"group": lev, "time": grid, "n_at_risk": _at_risk_from_table(tab, grid)})
        )
    what = "any event" if cause in (None, "any") else f"cause {cause}, other codes censored"
    return KaplanMeierResult(
        table=pd.concat(tables, ignore_index=True),
        at_risk=pd.concat(risks, ignore_index=True),
        medians=pd.DataFrame(medians, columns=["group", "median", "ci_low", "ci_high"]),
        level=level,
        cause=None if cause == "any" else cause,
        method=f"Kaplan-Meier ({what}), Greenwood SE, log(-log) CI",
    )


def _logrank_sums(
    t: np.ndarray, d: np.ndarray, g: np.ndarray, s: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed, expected and covariance of O - E summed over strata, vectorized over cells.

    Per stratum and event time: E_j = d n_j / n, V_jl = d (n - d) / (n - 1) (n_j / n)
    (delta_jl - n_l / n) (Mantel 1966), with n_j the stratum members of group j still at risk.
    """
    order = np.lexsort((t, s))
    t, d, g, s = t[order], d[order], g[order], s[order]
    new_cell = np.r_[True, (s[1:] != s[:-1]) | (t[1:] != t[:-1])]
    cell = np.cumsum(new_cell) - 1
    m = int(cell[-1]) + 1
    key = cell * k + g
    leaving = np.bincount(key, minlength=m * k).reshape(m, k).astype(float)
    deaths = np.bincount(key, weights=d, minlength=m * k).reshape(m, k)
    cell_stratum = s[new_cell]
    first = np.r_[True, cell_stratum[1:] != cell_stratum[:-1]]
    starts = np.flatnonzero(first)
    which = np.cumsum(first) - 1
    before = np.cumsum(leaving, axis=0) - leaving
    at_risk = np.add.reduceat(leaving, starts, axis=0)[which] - (before - before[starts][which])
    keep = deaths.sum(axis=1) > 0
    n_j, d_j = at_risk[keep], deaths[keep]
    n, dt = n_j.sum(axis=1), d_j.sum(axis=1)
    p = n_j / n[:, None]
    expected = (dt[:, None] * p).sum(axis=0)
    w = np.where(n > 1, dt * (n - dt) / np.maximum(n - 1, 1), 0.0)
    var = np.diag((w[:, None] * p).sum(axis=0)) - np.einsum("c,cj,cl->jl", w, p, p)
    return d_j.sum(axis=0), expected, var


@checked(skip=("data",))
def logrank(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    group: str,
    strata: str | None = None,
    cause: int | str | None = None,
) -> LogrankResult:
    """k-sample log-rank test, optionally stratified (e.g. by matched set).

    X2 = U' V^- U with U = sum_strata sum_t (O_j - E_j) and V its Mantel–Haenszel covariance,
    over the first k - 1 groups, on k - 1 df (Mantel 1966; Peto & Peto 1972). A stratum adds
    only event times at which it has someone at risk; strata without events add nothing.

    Parameters
    ----------
    data : DataFrame
        One row per person.
    duration, event, group : str
        Columns of times (>= 0), event codes (0 censored, 1, 2, ...) and groups (>= 2 levels).
    strata : str, optional
        Column of stratum labels (e.g. matched set id); None for the unstratified test.
    cause : int or "any", optional
        k: only code k is the event (other codes censored, a cause-specific test); "any": any
        non-zero code. None is allowed only when the data hold a single non-zero code.

    Returns
    -------
    LogrankResult
        If V is singular (e.g. a group never at risk together with another one in any stratum)
        a generalized inverse is used and ``df`` is its rank.

    Examples
    --------
    >>> import reawaken as rw
    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi()
    >>> print(rw.logrank(rossi, duration="week", event="arrest", group="fin").summary())
    log-rank: chi2 = 3.838 on 1 df, p = 0.0501
      0                n=216 observed=66 expected=55.57
      1                n=216 observed=48 expected=58.43
    """
    where = "logrank"
    require_frame(data, where)
    require_columns(data, [duration, event, group, strata], where)
    t = check_durations(data, duration, where)
    d = _event_indicator(data, event, where, cause)
    check_two_groups(data, group, where)
    gvals, levels = _group_labels(data, group, where)
    codes = pd.Index(levels).get_indexer(gvals)
    if strata is None:
        s = np.zeros(len(t), dtype=np.int64)
    else:
        if data[strata].isna().any():
            raise AnalysisError(
                f"{where}: strata column {strata!r} has {int(data[strata].isna().sum())} missing "
                "value(s); fix: drop those rows or give them a stratum label"
            )
        s = pd.factorize(data[strata])[0]
    if cause is None:
        _require_cause(data, event, where)
    k = len(levels)
    observed, expected, var = _logrank_sums(t, d, codes, s, k)
    u, v = observed[:-1] - expected[:-1], var[:-1, :-1]
    rank = int(np.linalg.matrix_rank(v))
    if rank == 0:
        raise AnalysisError(
            f"{where}: the groups cannot be compared: at no event time were members of two "
            "groups at risk in the same stratum; fix: check the group and strata columns"
        )
    stat = float(u @ (np.linalg.solve(v, u) if rank == k - 1 else np.linalg.pinv(v) @ u))
    n_strata = int(s.max()) + 1
    label = "log-rank" if strata is None else f"stratified log-rank ({n_strata:,} strata)"
    if cause is not None:
        label += ", any event" if cause == "any" else f", cause {cause}"
    table = pd.DataFrame(
        {
            "group": levels,
            "n": np.bincount(codes, minlength=k),
            "observed": observed,
            "expected": expected,
        }
    )
    return LogrankResult(
        statistic=stat,
        df=rank,
        p_value=float(stats.chi2.sf(stat, rank)),
        method=label,
        table=table,
    )
