"""The exposure-density and propensity matcher as it was before vectorisation (commit 48f3b43).

Kept verbatim (imports made absolute, public names prefixed ``legacy_``) as the reference for
identical sets in ``test_matching_reference.py`` and for the speed ratios in
``tests/benchmarks/test_bench_matching.py``: a Python loop over exposed persons calling
``rng.choice`` once per set. Not part of the package.

Original module docstring:

Exposure-density (risk-set) matching and propensity-score risk-set matching, with balance.

Each exposed person opens a matched set on their exposure day ``d`` (the *index day*), and
controls are drawn from the risk set of ``d`` (Langholz & Goldstein, Stat Sci 1996):

* at risk: ``entry_day <= d < event_day``. Follow-up of the set is ``(d, stop]``, so a person
  whose follow-up ends on ``d`` (event or censoring) is not at risk and cannot be picked, while
  a person entering on ``d`` can;
* not yet exposed: ``exposure_day`` missing or ``> d``. A control may serve in several sets
  (sampling with replacement across sets, without replacement within a set) and may later open
  its own set as an exposed person; as a control it is then censored at its ``exposure_day``
  (event 0). Exposure on the event day comes after the event in the ``(start, stop]``
  convention of :mod:`reawaken.design.episodes`, so such a control keeps its event.

An exposed person exposed on their event day has no follow-up after the index day and is not
matchable (counted in the report). Every row therefore has ``time = stop_day - index_day > 0``.
Exposed persons are processed in order of exposure day, then id; the random draws of ``rng``
follow that order, so the same seed gives the same sets.

Output (:attr:`MatchedCohort.data`, the *Matched* contract): one row per person per set,
``set_id, id, exposed, index_day, time, event, stop_day, <covariates>`` (plus ``ps_logit`` for
propensity matching); the exposed person first, then the controls in cohort row order.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from reawaken import schema
from reawaken.design.balance import (
    EXPOSURE_ON_EVENT_DAY,
    NO_CONTROL,
    MatchReport,
    balance_table,
)
from reawaken.errors import AnalysisError
from reawaken.inputs import require_columns, require_frame

__all__ = ["legacy_match_exposure_density", "legacy_match_propensity"]

SET_ID, EXPOSED, INDEX_DAY, TIME, STOP_DAY = "set_id", "exposed", "index_day", "time", "stop_day"
PS_LOGIT = "ps_logit"
_RESERVED = (schema.ID, schema.EXPOSURE_DAY, schema.EVENT_DAY, schema.EVENT)


@dataclass(frozen=True, eq=False)
class MatchedCohort:
    """Matched sets in the *Matched* contract (``data``), their :class:`MatchReport`, a label."""

    data: pd.DataFrame
    report: MatchReport
    method: str

    def summary(self) -> str:
        """The method, the table size and the report's summary."""
        return f"{self.method}: {len(self.data):,} rows\n{self.report.summary()}"


def legacy_match_exposure_density(
    cohort: pd.DataFrame,
    *,
    rng: np.random.Generator,
    controls: int = 4,
    exact: Sequence[str] = (),
    caliper: Mapping[str, float] | None = None,
    test_window_days: float | None = None,
    covariates: Sequence[str] | None = None,
) -> MatchedCohort:
    """Exposure-density matching: ``controls`` random risk-set controls per exposed person.

    Rule (Langholz & Goldstein 1996): at exposure day ``d``, draw without replacement from
    persons with ``entry_day <= d < event_day``, not exposed by ``d``, equal on ``exact``,
    ``|x - x_exposed| <= caliper[x]`` and, with ``test_window_days``, ``|test_day - d| <= window``.

    Parameters
    ----------
    cohort : pandas.DataFrame
        A Cohort table (:mod:`reawaken.schema`).
    rng : numpy.random.Generator
        Source of the random draws (same seed, same sets).
    controls : int
        Controls per set; sets with fewer eligible persons keep all of them.
    exact : sequence of str
        Numeric columns that controls must equal.
    caliper : mapping of str to float, optional
        Absolute caliper (>= 0, ``inf`` allowed) per numeric column.
    test_window_days : float, optional
        Calendar-time matching of test-negative designs (e.g. UK Biobank): controls need a
        ``test_day`` within ``± test_window_days`` of ``d``.
    covariates : sequence of str, optional
        Columns copied to the output and balanced; default all cohort covariates
        (:func:`reawaken.schema.default_covariates`).

    Returns
    -------
    MatchedCohort
        See the module docstring for the table; ``report`` counts and balance.
    """
    where = "match_exposure_density"
    controls = _check_controls(controls, where)
    exact = _names(exact, "exact", where)
    caliper = dict(caliper or {})
    for name, width in caliper.items():
        _check_width(width, f"caliper[{name!r}]", "an absolute maximal difference", where)
    if test_window_days is not None:
        _check_width(test_window_days, "test_window_days", "a number of days", where)
    frame, covs = _checked_cohort(cohort, where, covariates, [*exact, *caliper])
    if test_window_days is not None and schema.TEST_DAY not in frame.columns:
        raise AnalysisError(
            f"{where}: test_window_days needs a {schema.TEST_DAY!r} column (day of a negative "
            "test); fix: add it, or leave test_window_days out"
        )
    bucket = _bucket_codes(frame, exact)
    key, width, extra = None, math.inf, []
    calipers = [(frame[c].to_numpy(dtype=float), float(w)) for c, w in caliper.items()]
    if calipers:
        (key, width), extra = calipers[0], calipers[1:]
    test = frame[schema.TEST_DAY].to_numpy(dtype=float) if test_window_days is not None else None
    window = None if test is None else (test, float(test_window_days))
    sets, reasons = _match(frame, rng, controls, bucket, (key, width), extra, window, False)
    parts = [f"{controls} control(s)"]
    if exact:
        parts.append("exact: " + ", ".join(exact))
    if caliper:
        parts.append("caliper: " + ", ".join(f"{c} ±{w:g}" for c, w in caliper.items()))
    if test_window_days is not None:
        parts.append(f"test_day within ±{test_window_days:g} days")
    method = f"exposure-density matching ({'; '.join(parts)})"
    return _assemble(frame, sets, reasons, covs, controls, method)


def legacy_match_propensity(
    cohort: pd.DataFrame,
    *,
    rng: np.random.Generator,
    covariates: Sequence[str],
    controls: int = 1,
    caliper_sd: float = 0.2,
) -> MatchedCohort:
    """Risk-set matching on the logit of a propensity score, nearest within a caliper.

    Rule: PS from a statsmodels ``Logit`` of *ever exposed* (``exposure_day`` present) on the
    baseline ``covariates`` plus a constant (numeric as given: dummy-encode categorical codes
    first). At each exposure day (same risk set as :func:`match_exposure_density`) take the
    ``controls`` eligible persons nearest on the logit PS within ``caliper_sd × SD(logit PS)``
    (SD over the whole cohort; Austin, Multivariate Behav Res 2011), greedily in exposure-day
    order, without replacement within a set; ties at the k-th distance are broken at random.

    Ever-exposed is a baseline summary of a time-varying exposure: the score balances baseline
    covariates between future exposed and non-exposed, and risk-set matching keeps the timing.

    Returns
    -------
    MatchedCohort
        Same contract as :func:`match_exposure_density`, plus ``ps_logit``; the logit
        coefficients are in ``report.propensity`` and balance includes ``ps_logit``.
    """
    where = "match_propensity"
    controls = _check_controls(controls, where)
    names = _names(covariates, "covariates", where)
    if not names:
        raise AnalysisError(f"{where}: covariates is empty; fix: name the baseline covariates")
    _check_width(caliper_sd, "caliper_sd", "a multiple of SD(logit PS), e.g. 0.2", where)
    frame, covs = _checked_cohort(cohort, where, None, names)
    covs = [*covs, *(c for c in names if c not in covs)]
    ever = frame[schema.EXPOSURE_DAY].notna().to_numpy().astype(float)
    if ever.all():
        raise AnalysisError(
            f"{where}: every person is exposed at some time, so P(ever exposed) cannot be "
            "modelled; fix: use match_exposure_density"
        )
    x = sm.add_constant(frame[names].astype(float), has_constant="add")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.Logit(ever, x).fit(disp=0, maxiter=200)
    except np.linalg.LinAlgError as exc:
        raise AnalysisError(
            f"{where}: the propensity model cannot be fitted ({exc}); fix: drop collinear or "
            "constant covariates"
        ) from exc
    logit = np.asarray(x.to_numpy() @ fit.params.to_numpy(), dtype=float)
    if not fit.mle_retvals.get("converged", False) or not np.isfinite(logit).all():
        raise AnalysisError(
            f"{where}: the propensity model did not converge (perfect separation?); fix: drop "
            "covariates that predict exposure perfectly"
        )
    sd = float(np.std(logit, ddof=1))
    frame = frame.assign(**{PS_LOGIT: logit})
    bucket = np.zeros(len(frame), dtype=np.int64)
    sets, reasons = _match(frame, rng, controls, bucket, (logit, caliper_sd * sd), [], None, True)
    propensity = pd.DataFrame(
        {"term": list(fit.params.index), "coef": fit.params.to_numpy(), "se": fit.bse.to_numpy()}
    )
    method = (
        f"propensity-score risk-set matching ({controls} control(s); logit PS on "
        f"{', '.join(names)}; caliper {caliper_sd:g} SD = {caliper_sd * sd:.4g})"
    )
    return _assemble(frame, sets, reasons, [*covs, PS_LOGIT], controls, method, propensity)


def _check_width(value: object, label: str, what: str, where: str) -> None:
    number = isinstance(value, int | float | np.integer | np.floating)
    if not number or isinstance(value, bool | np.bool_) or not value >= 0:
        raise AnalysisError(
            f"{where}: {label} = {value!r} must be a number >= 0; fix: give {what} "
            "(math.inf for no limit)"
        )


def _check_controls(controls: object, where: str) -> int:
    if not isinstance(controls, int | np.integer) or isinstance(controls, bool) or controls < 1:
        raise AnalysisError(
            f"{where}: controls = {controls!r} must be a positive integer (controls per set)"
        )
    return int(controls)


def _names(names: Sequence[str], what: str, where: str) -> list[str]:
    if isinstance(names, str):
        names = (names,)
    out = [str(n) for n in names]
    bad = [n for n in out if n in _RESERVED]
    if bad:
        raise AnalysisError(
            f"{where}: {what} may not use the contract column(s) {', '.join(bad)}; fix: match "
            "on baseline covariates"
        )
    return out


def _checked_cohort(
    cohort: pd.DataFrame, where: str, covariates: Sequence[str] | None, needed: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Validate the cohort (raises CohortError) and resolve the covariates to copy."""
    frame = require_frame(cohort, where)
    require_columns(frame, needed, where)
    covs = list(schema.default_covariates(frame.columns)) if covariates is None else covariates
    covs = _names(covs, "covariates", where)
    require_columns(frame, covs, where)
    check = [*covs, *(c for c in dict.fromkeys(needed) if c not in covs)]
    schema.validate_cohort(frame, covariates=check)
    if frame[schema.EXPOSURE_DAY].isna().all():
        raise AnalysisError(
            f"{where}: nobody has an exposure_day, so there is nothing to match; fix: check "
            "that exposure dates were loaded"
        )
    return frame.reset_index(drop=True), covs


def _bucket_codes(frame: pd.DataFrame, exact: Sequence[str]) -> np.ndarray:
    """Integer code per row of its combination of ``exact`` values (all 0 without exact)."""
    if not exact:
        return np.zeros(len(frame), dtype=np.int64)
    values = frame[list(exact)].to_numpy(dtype=float)
    return np.unique(values, axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _match(
    frame: pd.DataFrame,
    rng: np.random.Generator,
    k: int,
    bucket: np.ndarray,
    sort_caliper: tuple[np.ndarray | None, float],
    extra: list[tuple[np.ndarray, float]],
    test_window: tuple[np.ndarray, float] | None,
    nearest: bool,
) -> tuple[list[tuple[int, np.ndarray]], list[tuple[int, str]]]:
    """Controls per exposed person, as cohort row positions.

    Rows are sorted by (bucket, key) so each bucket is a contiguous block in which the caliper
    ``(key, width)`` is a ``searchsorted`` slice; eligibility is a numpy mask on that slice.
    ``nearest`` picks the ``k`` nearest on ``key``, else ``k`` at random. Returns
    ``[(exposed_row, control_rows)]`` in processing order and ``[(exposed_row, reason)]``.
    """
    key, width = sort_caliper
    n = len(frame)
    entry = frame[schema.ENTRY_DAY].to_numpy(dtype=float)
    end = frame[schema.EVENT_DAY].to_numpy(dtype=float)
    expo = frame[schema.EXPOSURE_DAY].to_numpy(dtype=float)
    keyv = np.zeros(n) if key is None else key
    perm = np.lexsort((keyv, bucket))
    inv = np.empty(n, dtype=np.int64)
    inv[perm] = np.arange(n)
    bounds = np.searchsorted(bucket[perm], np.arange(int(bucket.max()) + 2))
    s_entry, s_end, s_key = entry[perm], end[perm], keyv[perm]
    s_expo = np.where(np.isnan(expo), np.inf, expo)[perm]
    s_extra = [(v[perm], w) for v, w in extra]
    s_test = None if test_window is None else test_window[0][perm]
    ordered = frame.loc[~np.isnan(expo), [schema.EXPOSURE_DAY, schema.ID]]
    ordered = ordered.sort_values([schema.EXPOSURE_DAY, schema.ID], kind="stable").index
    finite = math.isfinite(width)
    sets: list[tuple[int, np.ndarray]] = []
    unmatched: list[tuple[int, str]] = []
    for p in ordered.to_numpy():
        d = expo[p]
        if d >= end[p]:
            unmatched.append((p, EXPOSURE_ON_EVENT_DAY))
            continue
        q, b = inv[p], bucket[p]
        lo, hi = bounds[b], bounds[b + 1]
        kv = s_key[q]
        if finite:
            pad = 1e-9 * max(1.0, abs(kv), width)
            block = s_key[lo:hi]
            lo, hi = (
                lo + np.searchsorted(block, kv - width - pad, "left"),
                lo + np.searchsorted(block, kv + width + pad, "right"),
            )
        ok = (s_entry[lo:hi] <= d) & (s_end[lo:hi] > d) & (s_expo[lo:hi] > d)
        if finite:
            ok &= np.abs(s_key[lo:hi] - kv) <= width
        for values, w in s_extra:
            ok &= np.abs(values[lo:hi] - values[q]) <= w
        if s_test is not None:
            ok &= np.abs(s_test[lo:hi] - d) <= test_window[1]
        cand = np.flatnonzero(ok) + lo
        if cand.size == 0:
            unmatched.append((p, NO_CONTROL))
            continue
        if cand.size > k and nearest:
            cand = _nearest(cand, np.abs(s_key[cand] - kv), k, rng)
        elif cand.size > k:
            cand = rng.choice(cand, k, replace=False)
        sets.append((p, np.sort(perm[cand])))
    return sets, unmatched


def _nearest(cand: np.ndarray, dist: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The ``k`` smallest distances; ties at the k-th distance drawn at random."""
    kth = np.partition(dist, k - 1)[k - 1]
    sure = cand[dist < kth]
    tied = cand[dist == kth]
    return np.concatenate([sure, rng.choice(tied, k - sure.size, replace=False)])


def _assemble(
    frame: pd.DataFrame,
    sets: list[tuple[int, np.ndarray]],
    unmatched: list[tuple[int, str]],
    covs: Sequence[str],
    k: int,
    method: str,
    propensity: pd.DataFrame | None = None,
) -> MatchedCohort:
    """Build the Matched table and the report from the chosen rows."""
    n_exposed = int(frame[schema.EXPOSURE_DAY].notna().sum())
    if not sets:
        raise AnalysisError(
            f"{method}: none of the {n_exposed:,} exposed persons has an eligible control; "
            "fix: relax exact matching, widen the calipers or the test window"
        )
    sizes = np.array([c.size for _, c in sets])
    rows = np.concatenate([np.r_[p, c] for p, c in sets])
    flag = np.concatenate([np.r_[1, np.zeros(c.size, dtype=np.int64)] for _, c in sets])
    set_id = np.repeat(np.arange(1, len(sets) + 1), sizes + 1)
    index_day = frame[schema.EXPOSURE_DAY].to_numpy(dtype=float)[[p for p, _ in sets]]
    index_day = np.repeat(index_day, sizes + 1)
    end = frame[schema.EVENT_DAY].to_numpy(dtype=float)[rows]
    expo = frame[schema.EXPOSURE_DAY].to_numpy(dtype=float)[rows]
    with np.errstate(invalid="ignore"):
        censor = (flag == 0) & (expo < end)
    stop = np.where(censor, expo, end)
    data = pd.DataFrame(
        {
            SET_ID: set_id.astype(np.int64),
            schema.ID: frame[schema.ID].to_numpy()[rows],
            EXPOSED: flag.astype(np.int64),
            INDEX_DAY: index_day,
            TIME: stop - index_day,
            schema.EVENT: np.where(censor, 0, frame[schema.EVENT].to_numpy()[rows]).astype(
                np.int64
            ),
            STOP_DAY: stop,
        }
    )
    for c in covs:
        data[c] = frame[c].to_numpy()[rows]

    control_ids = data.loc[flag == 0, schema.ID]
    uses = control_ids.value_counts()
    exposed_ids = frame.loc[frame[schema.EXPOSURE_DAY].notna(), schema.ID].to_numpy()
    per_set = np.bincount(sizes, minlength=k + 1)[1:]
    reasons = [r for _, r in unmatched]
    report = MatchReport(
        n_exposed=n_exposed,
        n_matched=len(sets),
        n_partially_matched=int(np.count_nonzero(sizes < k)),
        n_unmatched_no_control=reasons.count(NO_CONTROL),
        n_unmatched_exposure_on_event_day=reasons.count(EXPOSURE_ON_EVENT_DAY),
        controls_requested=k,
        controls_per_set=pd.DataFrame({"n_controls": np.arange(1, k + 1), "n_sets": per_set}),
        n_control_rows=int(control_ids.size),
        n_distinct_controls=int(uses.size),
        n_controls_reused=int((uses > 1).sum()),
        n_controls_censored_at_exposure=int(censor.sum()),
        n_controls_also_exposed=int(np.isin(uses.index.to_numpy(), exposed_ids).sum()),
        balance=balance_table(frame, data, covs),
        unmatched=frame.loc[[p for p, _ in unmatched], [schema.ID, schema.EXPOSURE_DAY]]
        .assign(reason=pd.Series(reasons, dtype=object).to_numpy())
        .reset_index(drop=True),
        propensity=propensity,
    )
    return MatchedCohort(data=data, report=report, method=method)
