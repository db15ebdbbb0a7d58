"""Competing risks: Aalen–Johansen cumulative incidence, Gray's test, cause-specific Cox and
Fine–Gray subdistribution hazard models.

Event codes: 0 censored, 1, 2, ... causes; ``cause`` picks the cause of interest, every other
non-zero code is a competing event.

* :func:`cumulative_incidence` computes the Aalen–Johansen estimator from the event counts at
  each distinct time with numpy (ties are handled exactly and deterministically; lifelines'
  ``AalenJohansenFitter`` breaks tied times by random jitter, so it is only a test reference).
* :func:`gray_test` is Gray's (Ann Stat 1988) k-sample test, vectorized over event times, with
  the score and variance of R cmprsk's ``crstm`` (the tests check it against a loop written
  from the paper and against values computed with cmprsk 2.2-11).
* The Fine & Gray (JASA 1999) model lives in :mod:`reawaken.analysis.finegray`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ..checks import checked
from ..errors import AnalysisError
from ..inputs import (
    check_durations,
    check_events,
    check_time_grid,
    default_at_risk_times,
    numeric_column,
    require_columns,
    require_frame,
)
from .cox import fit_cox
from .results import ChiSquareResult, ModelResult

CIF_COLUMNS = (
    "group",
    "time",
    "n_at_risk",
    "events_cause",
    "events_other",
    "censored",
    "cif",
    "se",
    "ci_low",
    "ci_high",
)
ALL = "all"


# --------------------------------------------------------------------------- input checks


def _codes_and_times(
    data: pd.DataFrame, duration: str, event: str, cause: int, where: str, others: Sequence
) -> tuple[np.ndarray, np.ndarray]:
    """Checked durations and integer event codes; ``cause`` must be present in ``event``."""
    require_frame(data, where)
    require_columns(data, [duration, event, *others], where)
    t = check_durations(data, duration, where)
    codes = numeric_column(data, event, where)
    present = sorted(int(c) for c in np.unique(codes) if c > 0 and c == int(c))
    if isinstance(cause, bool) or not isinstance(cause, int | np.integer) or cause <= 0:
        raise AnalysisError(
            f"{where}: cause must be a positive integer event code (0 is censoring), got "
            f"{cause!r}; fix: pass one of the codes present: {present}"
        )
    check_events(data, event, where)
    if cause not in present:
        raise AnalysisError(
            f"{where}: cause {cause} does not occur in column {event!r} (event codes present: "
            f"{', '.join(map(str, present))}); fix: pass one of them"
        )
    return t, codes.astype(np.int64)


def _groups(data: pd.DataFrame, group: str | None, where: str) -> tuple[np.ndarray, list]:
    """Integer group code per row and the group labels (categorical order, else sorted)."""
    if group is None:
        return np.zeros(len(data), dtype=np.int64), [ALL]
    g = data[group]
    if g.isna().any():
        raise AnalysisError(
            f"{where}: group column {group!r} has {int(g.isna().sum())} missing value(s); fix: "
            "drop those rows or fill them with a group label"
        )
    if isinstance(g.dtype, pd.CategoricalDtype):
        levels = g.cat.categories.tolist()
        empty = [lev for lev in levels if not (g == lev).any()]
        if empty:
            raise AnalysisError(
                f"{where}: group(s) {', '.join(map(repr, empty))} of column {group!r} have no "
                "rows; fix: drop unused categories (Series.cat.remove_unused_categories())"
            )
    else:
        levels = g.drop_duplicates().tolist()
        try:
            levels = sorted(levels)
        except TypeError:
            pass
    return pd.Index(levels).get_indexer(g.to_numpy(dtype=object)).astype(np.int64), levels


# ------------------------------------------------------------------ cumulative incidence


@dataclass(frozen=True)
class CumulativeIncidenceResult:
    """Aalen–Johansen cumulative incidence of one cause, per group.

    Attributes
    ----------
    table : DataFrame
        ``group, time, n_at_risk, events_cause, events_other, censored, cif, se, ci_low,
        ci_high``: one row per distinct observed time per group, plus time 0. ``n_at_risk``
        counts persons with time >= t; ``events_other`` counts competing events at t.
    at_risk : DataFrame
        ``group, time, n_at_risk`` at the requested (or default round-number) times.
    cause : int
    level : float
    method : str
    """

    table: pd.DataFrame
    at_risk: pd.DataFrame
    cause: int
    level: float
    method: str

    @property
    def groups(self) -> list:
        return list(pd.unique(self.table["group"]))

    def cif_at(self, times: float | Iterable[float]) -> pd.DataFrame:
        """Step-function values ``group, time, n_at_risk, cif, se, ci_low, ci_high`` at ``times``.

        F(t) is the value at the last distinct time <= t. Beyond a group's last observed time it
        is NaN unless every person of the group has had an event (then F stays constant).
        """
        t = check_time_grid(times, "cif_at")
        parts = []
        for g, tab in self.table.groupby("group", sort=False):
            grid = tab["time"].to_numpy()
            idx = np.searchsorted(grid, t, side="right") - 1
            last = tab.iloc[-1]
            closed = last["n_at_risk"] == last["events_cause"] + last["events_other"]
            ok = (t <= grid[-1]) | closed
            n = np.append(tab["n_at_risk"].to_numpy(), 0)[np.searchsorted(grid, t, side="left")]
            cols = {c: np.where(ok, tab[c].to_numpy()[idx], np.nan) for c in CIF_COLUMNS[6:]}
            parts.append(pd.DataFrame({"group": g, "time": t, "n_at_risk": n, **cols}))
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> str:
        pct = f"{100 * self.level:g}%"
        lines = [f"{self.method}; final CIF with {pct} CI"]
        for g, tab in self.table.groupby("group", sort=False):
            r = tab.iloc[-1]
            lines.append(
                f"  {g!s:<16} n={int(tab['n_at_risk'].iloc[0]):,} "
                f"cause {self.cause}={int(tab['events_cause'].sum()):,} "
                f"competing={int(tab['events_other'].sum()):,}  "
                f"CIF({r['time']:g}) {r['cif']:.4f} ({r['ci_low']:.4f}-{r['ci_high']:.4f})"
            )
        return "\n".join(lines)


def _cif_one(t: np.ndarray, codes: np.ndarray, cause: int, z: float) -> pd.DataFrame:
    """Aalen–Johansen CIF, delta-method variance and log(-log) CI for one group."""
    times, inverse = np.unique(t, return_inverse=True)
    m = times.size
    leaving = np.bincount(inverse, minlength=m).astype(float)
    d1 = np.bincount(inverse, weights=(codes == cause).astype(float), minlength=m)
    d = np.bincount(inverse, weights=(codes > 0).astype(float), minlength=m)
    n = t.size - (np.cumsum(leaving) - leaving)
    if times[0] > 0:
        times, n = np.r_[0.0, times], np.r_[float(t.size), n]
        d1, d, leaving = np.r_[0.0, d1], np.r_[0.0, d], np.r_[0.0, leaving]
    surv = np.cumprod(1.0 - d / n)
    s_prev = np.r_[1.0, surv[:-1]]
    f = np.cumsum(s_prev * d1 / n)
    c = np.divide(d, n * (n - d), out=np.zeros_like(n), where=n > d)
    b = s_prev**2 * d1 * (n - d1) / n**3
    e = s_prev * d1 / n**2
    cs = np.cumsum
    var = f**2 * cs(c) - 2 * f * cs(f * c) + cs(f**2 * c) + cs(b) - 2 * f * cs(e) + 2 * cs(f * e)
    se = np.sqrt(np.clip(var, 0.0, None))
    low, high = f.copy(), f.copy()
    inner = (f > 0) & (f < 1) & (se > 0)
    fi = f[inner]
    sigma = se[inner] / (fi * np.abs(np.log(fi)))
    low[inner] = fi ** np.exp(z * sigma)
    high[inner] = fi ** np.exp(-z * sigma)
    return pd.DataFrame(
        {
            "time": times,
            "n_at_risk": n.astype(np.int64),
            "events_cause": d1.astype(np.int64),
            "events_other": (d - d1).astype(np.int64),
            "censored": (leaving - d).astype(np.int64),
            "cif": f,
            "se": se,
            "ci_low": low,
            "ci_high": high,
        }
    )


@checked(skip=("data",))
def cumulative_incidence(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    cause: int,
    group: str | None = None,
    times: Iterable[float] | None = None,
    level: float = 0.95,
) -> CumulativeIncidenceResult:
    """Aalen–Johansen cumulative incidence of ``cause``, per group, with pointwise CIs.

    F_k(t) = sum_{t_j <= t} S(t_j-) d_kj / n_j (Aalen & Johansen, Scand J Stat 1978), S the
    all-cause Kaplan–Meier. Variance: the Greenwood-type delta method (Marubini & Valsecchi
    1995; lifelines' ``AalenJohansenFitter``), with F_j = F_k(t_j), d_j = all events at t_j,
    Var F_k(t) = sum_j [(F_k(t) - F_j)^2 d_j / (n_j (n_j - d_j)) + S(t_j-)^2 d_kj (n_j - d_kj)
    / n_j^3 - 2 (F_k(t) - F_j) S(t_j-) d_kj / n_j^2]; CI on the log(-log F) scale (Choudhury,
    Stat Med 2002; lifelines): F^exp(+-z SE / (F |log F|)), which stays within (0, 1).

    Parameters
    ----------
    data : DataFrame
        One row per person.
    duration : str
        Follow-up time column (>= 0).
    event : str
        Event codes: 0 censored, 1, 2, ... causes.
    cause : int
        Code of the cause of interest; the other non-zero codes are competing events.
    group : str, optional
        Column defining the curves; None gives one curve labelled ``"all"``.
    times : iterable of float, optional
        Times of the at-risk table; default about six round numbers spanning follow-up.
    level : float
        Confidence level.

    Returns
    -------
    CumulativeIncidenceResult
        Ties between causes and with censoring are handled exactly: all events at t count at t,
        censorings at t leave the risk set after t. Where F = 0 (or SE = 0) the CI is [F, F].

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> cif = rw.cumulative_incidence(cohort.data, duration="event_day", event="event", cause=1)
    >>> float(cif.cif_at([365])["cif"].iloc[0]) < 0.05
    True
    """
    where = "cumulative_incidence"
    t, codes = _codes_and_times(data, duration, event, cause, where, [group])
    if not 0 < level < 1:
        raise AnalysisError(f"{where}: level must be in (0, 1), got {level!r}; e.g. level=0.95")
    g, levels = _groups(data, group, where)
    grid = default_at_risk_times(float(t.max())) if times is None else check_time_grid(times, where)
    z = stats.norm.ppf(0.5 + level / 2)
    tables, risks = [], []
    for k, lev in enumerate(levels):
        rows = g == k
        tab = _cif_one(t[rows], codes[rows], cause, z)
        tab.insert(0, "group", lev)
        tables.append(tab)
        sorted_t = np.sort(t[rows])
        n_risk = sorted_t.size - np.searchsorted(sorted_t, grid, side="left")
        risks.append(pd.DataFrame({"group": lev, "time": grid, "n_at_risk": n_risk}))
    return CumulativeIncidenceResult(
        table=pd.concat(tables, ignore_index=True),
        at_risk=pd.concat(risks, ignore_index=True),
        cause=cause,
        level=level,
        method=f"Aalen-Johansen cumulative incidence of cause {cause}, delta-method SE, "
        "log(-log) CI",
    )


# ----------------------------------------------------------------------------- Gray's test


@dataclass(frozen=True)
class GrayTestResult(ChiSquareResult):
    """Gray's k-sample test: chi-square ``statistic`` on ``df`` degrees of freedom, ``p_value``,
    and a ``table`` per group ``group, n, events_cause, events_other, expected, score``."""

    def _row_text(self, r) -> str:
        return (
            f"{r.group!s:<16} n={r.n:,} observed={r.events_cause:,} "
            f"expected={r.expected:.2f} competing={r.events_other:,}"
        )


def _gray_scores(
    t: np.ndarray, d1: np.ndarray, d2: np.ndarray, g: np.ndarray, k: int, rho: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score vector (k,), its covariance (k, k) and expected counts (k,), vectorized over the
    event times (the computation of R cmprsk's ``crst``, one stratum)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        times = np.unique(t[(d1 + d2) > 0])
        cell = np.searchsorted(times, t)
        ev = (d1 + d2) > 0
        key = cell[ev] * k + g[ev]
        size = times.size * k
        D1 = np.bincount(key, weights=d1[ev], minlength=size).reshape(-1, k)
        D2 = np.bincount(key, weights=d2[ev], minlength=size).reshape(-1, k)
        Y = np.column_stack(
            [(g == j).sum() - np.searchsorted(np.sort(t[g == j]), times) for j in range(k)]
        ).astype(float)
        risk = Y > 0
        safe_y = np.where(risk, Y, 1.0)
        surv = np.cumprod(1.0 - (D1 + D2) / safe_y, axis=0)
        sm = np.vstack([np.ones((1, k)), surv[:-1]])
        f1 = np.cumsum(sm * D1 / safe_y, axis=0)
        f1m = np.vstack([np.zeros((1, k)), f1[:-1]])
        safe_sm = np.where(risk, sm, 1.0)
        h = np.where(risk, Y / safe_sm, 0.0)
        r = np.where(risk, Y * (1.0 - f1m) / safe_sm, 0.0)
        tr, tq = h.sum(axis=1), r.sum(axis=1)
        nd1 = D1.sum(axis=1)
        f = np.cumsum(nd1 / tr)
        fm = np.r_[0.0, f[:-1]]
        fb = (1.0 - fm) ** rho
        expected = nd1[:, None] * r / tq[:, None]
        score = (fb[:, None] * (D1 - expected)).sum(axis=0)
        a = fb[:, None, None] * h[:, :, None] * (np.eye(k)[None] - (h / tr[:, None])[:, None, :])
        step = np.divide(nd1, tr * (1.0 - fm), out=np.zeros_like(nd1), where=nd1 > 0)
        c = np.cumsum(a * step[:, None, None], axis=0)
        c_rest = c[-1][None] - c
        # cause-of-interest increments: influence a - t4 c(t) + t4 c(tau), weight t3
        pos = surv > 0
        t4 = np.where(pos, 1.0 - (1.0 - f[:, None]) / np.where(pos, surv, 1.0), 1.0)
        tie = np.where(nd1[:, None] > 1, 1.0 - (nd1[:, None] - 1) / (tr[:, None] * sm - 1.0), 1.0)
        t3 = np.where(
            risk & (nd1[:, None] > 0), tie * sm * nd1[:, None] / (tr[:, None] * safe_y), 0
        )
        b1 = a + t4[:, None, :] * c_rest
        cov = np.einsum("mik,mjk,mk->ij", b1, b1, t3)
        # competing-event increments: influence t4 (c(tau) - c(t)), weight t3
        use = pos & (D2 > 0)
        t4 = np.where(use, (1.0 - f[:, None]) / np.where(pos, surv, 1.0), 0.0)
        tie = np.where(D2 > 1, 1.0 - (D2 - 1.0) / np.where(Y > 1, Y - 1.0, 1.0), 1.0)
        t3 = np.where(use, tie * sm**2 * D2 / safe_y**2, 0.0)
        b2 = t4[:, None, :] * c_rest
        cov += np.einsum("mik,mjk,mk->ij", b2, b2, t3)
    return score, cov, expected.sum(axis=0)


@checked(skip=("data",))
def gray_test(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    cause: int,
    group: str,
    rho: float = 0.0,
) -> GrayTestResult:
    """Gray's k-sample test of equal cumulative incidence of ``cause`` across groups.

    Score of group i (Gray, Ann Stat 1988, with R_i(t) = Y_i(t) (1 - F_i(t-)) / S_i(t-), group
    KM S_i and Aalen–Johansen F_i): z_i = sum_t (1 - F^0(t-))^rho [d_i(t) - d(t) R_i(t) /
    sum_l R_l(t)]; X2 = z' V^-1 z over the first k - 1 groups, on k - 1 df, with Gray's variance
    V (a sum over cause and competing-event increments of squared influence terms, with the
    tie corrections of R cmprsk's ``cuminc``/``crstm``). rho = 0 (default) is cmprsk's default.

    Parameters
    ----------
    data : DataFrame
        One row per person.
    duration, event : str
        Follow-up time (>= 0) and event code (0 censored, 1, 2, ...) columns.
    cause : int
        Code of the cause whose cumulative incidence is compared.
    group : str
        Group column (>= 2 non-empty groups).
    rho : float
        Power of the weight (1 - F^0(t-))^rho.

    Returns
    -------
    GrayTestResult
        If V is singular a generalized inverse is used and ``df`` is its rank.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> data = cohort.data.assign(ever_exposed=cohort.data["exposure_day"].notna().astype(int))
    >>> test = rw.gray_test(data, duration="event_day", event="event", cause=2,
    ...                     group="ever_exposed")
    >>> test.df
    1
    """
    where = "gray_test"
    t, codes = _codes_and_times(data, duration, event, cause, where, [group])
    g, levels = _groups(data, group, where)
    k = len(levels)
    if k < 2:
        raise AnalysisError(
            f"{where}: group column {group!r} has only one group ({levels[0]!r}); the test "
            "compares two or more non-empty groups"
        )
    d1 = (codes == cause).astype(float)
    d2 = ((codes > 0) & (codes != cause)).astype(float)
    score, cov, expected = _gray_scores(t, d1, d2, g, k, float(rho))
    s, v = score[:-1], cov[:-1, :-1]
    rank = int(np.linalg.matrix_rank(v))
    stat = float(s @ np.linalg.pinv(v) @ s) if rank else 0.0
    df = rank if rank else k - 1
    table = pd.DataFrame(
        {
            "group": levels,
            "n": np.bincount(g, minlength=k),
            "events_cause": np.bincount(g, weights=d1, minlength=k).astype(np.int64),
            "events_other": np.bincount(g, weights=d2, minlength=k).astype(np.int64),
            "expected": expected,
            "score": score,
        }
    )
    return GrayTestResult(
        statistic=stat,
        df=df,
        p_value=float(stats.chi2.sf(stat, df)),
        method=f"Gray's test of equal cumulative incidence of cause {cause} (rho={rho:g})",
        table=table,
    )


# ------------------------------------------------------------------- regression models


@checked(skip=("data",))
def fit_cause_specific_cox(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    cause: int,
    covariates: Sequence[str],
    ties: str = "efron",
    robust: bool = False,
) -> ModelResult:
    """Cause-specific Cox model: h_k(t | x) = h_k0(t) exp(x'beta), other causes censored.

    A wrapper of :func:`reawaken.analysis.cox.fit_cox` with ``cause=cause`` (Prentice et al.,
    Biometrics 1978). The hazard ratio concerns the cause-specific hazard, not the cumulative
    incidence; for the latter use :func:`fit_fine_gray`.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> fit = rw.fit_cause_specific_cox(cohort.data, duration="event_day", event="event", cause=2,
    ...                                 covariates=["comorbidity"])
    >>> fit.table["term"].tolist()
    ['comorbidity']
    """
    where = "fit_cause_specific_cox"
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    _codes_and_times(data, duration, event, cause, where, covariates)
    result = fit_cox(
        data,
        duration=duration,
        event=event,
        covariates=covariates,
        ties=ties,
        robust=robust,
        cause=cause,
    )
    label = f"cause-specific Cox (cause {cause}; other causes censored), {ties}"
    return replace(result, method=label + (", robust SE" if robust else ""))
