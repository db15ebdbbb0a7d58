"""Exposure-density (risk-set) matching and propensity-score risk-set matching, with balance.

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

Draw order (fixed: the same seed gives the same sets). Exposed persons are processed in order
of exposure day, then id. A set's eligible persons are listed by exact-matching cell, then the
first caliper column, then cohort row; with more than ``controls`` of them the set takes
``rng.choice(listed, controls, replace=False)``, one such call per set in processing order.
The implementation (:mod:`reawaken.design.sampling`, :mod:`reawaken.design.riskset`) counts and
picks for all exposed persons with array operations and reproduces exactly those calls and
the generator's final state.

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

from .. import schema
from ..checks import checked
from ..errors import AnalysisError
from ..inputs import require_columns, require_frame
from .balance import (
    EXPOSURE_ON_EVENT_DAY,
    NO_CONTROL,
    MatchReport,
    balance_table,
    standardized_mean_difference,
)
from .sampling import MatchedSets, draw_sets

__all__ = [
    "MatchReport",
    "MatchedCohort",
    "match_exposure_density",
    "match_propensity",
    "standardized_mean_difference",
]

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


@checked(skip=("data", "controls"))  # controls: its own "positive integer" message
def match_exposure_density(
    data: pd.DataFrame,
    *,
    rng: np.random.Generator,
    controls: int = 4,
    exact: Sequence[str] = (),
    caliper: Mapping[str, float] | None = None,
    test_window_days: float | None = None,
    covariates: Sequence[str] | None = None,
    progress: bool = False,
) -> MatchedCohort:
    """Exposure-density matching: ``controls`` random risk-set controls per exposed person.

    Rule (Langholz & Goldstein 1996): at exposure day ``d``, draw without replacement from
    persons with ``entry_day <= d < event_day``, not exposed by ``d``, equal on ``exact``,
    ``|x - x_exposed| <= caliper[x]`` and, with ``test_window_days``, ``|test_day - d| <= window``.

    Parameters
    ----------
    data : pandas.DataFrame
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
    progress : bool
        Show a progress bar (sets drawn) for cohorts of at least
        :data:`reawaken.design.sampling.PROGRESS_MIN_PERSONS` persons, when stderr is a
        terminal.

    Returns
    -------
    MatchedCohort
        See the module docstring for the table and the draw order; ``report`` counts and
        balance.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> matched = rw.match_exposure_density(cohort.data, rng=np.random.default_rng(2), controls=4,
    ...                                     exact=["stage", "her2"], caliper={"age": 2.0})
    >>> bool(matched.data.groupby("set_id")["exposed"].sum().eq(1).all())
    True
    """
    where = "match_exposure_density"
    controls = _check_controls(controls, where)
    exact = _names(exact, "exact", where)
    caliper = dict(caliper or {})
    for name, width in caliper.items():
        _check_width(width, f"caliper[{name!r}]", "an absolute maximal difference", where)
    if test_window_days is not None:
        _check_width(test_window_days, "test_window_days", "a number of days", where)
    frame, covs = _checked_cohort(data, where, covariates, [*exact, *caliper])
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
    sets = draw_sets(frame, rng, controls, bucket, (key, width), extra, window, False, progress)
    parts = [f"{controls} control(s)"]
    if exact:
        parts.append("exact: " + ", ".join(exact))
    if caliper:
        parts.append("caliper: " + ", ".join(f"{c} ±{w:g}" for c, w in caliper.items()))
    if test_window_days is not None:
        parts.append(f"test_day within ±{test_window_days:g} days")
    method = f"exposure-density matching ({'; '.join(parts)})"
    return _assemble(frame, sets, covs, controls, method)


@checked(skip=("data",))
def match_propensity(
    data: pd.DataFrame,
    *,
    rng: np.random.Generator,
    covariates: Sequence[str],
    controls: int = 1,
    caliper_sd: float = 0.2,
    progress: bool = False,
) -> MatchedCohort:
    """Risk-set matching on the logit of a propensity score, nearest within a caliper.

    Rule: PS from a statsmodels ``Logit`` of *ever exposed* (``exposure_day`` present) on the
    baseline ``covariates`` plus a constant (numeric as given: dummy-encode categorical codes
    first). At each exposure day (same risk set as :func:`match_exposure_density`) take the
    ``controls`` eligible persons nearest on the logit PS within ``caliper_sd × SD(logit PS)``
    (SD over the whole cohort; Austin, Multivariate Behav Res 2011), greedily in exposure-day
    order, without replacement within a set; ties at the k-th distance are broken at random
    (``rng.choice(tied, k - closer, replace=False)``, tied persons listed by PS then row).
    ``progress`` as in :func:`match_exposure_density`.

    Ever-exposed is a baseline summary of a time-varying exposure: the score balances baseline
    covariates between future exposed and non-exposed, and risk-set matching keeps the timing.

    Returns
    -------
    MatchedCohort
        Same contract as :func:`match_exposure_density`, plus ``ps_logit``; the logit
        coefficients are in ``report.propensity`` and balance includes ``ps_logit``.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> data = cohort.data.assign(exposed=cohort.data["exposure_day"].notna().astype(int))
    >>> matched = rw.match_propensity(data, rng=np.random.default_rng(2),
    ...                               covariates=["age", "comorbidity"])
    >>> sorted(matched.data["exposed"].unique().tolist())
    [0, 1]
    """
    where = "match_propensity"
    controls = _check_controls(controls, where)
    names = _names(covariates, "covariates", where)
    if not names:
        raise AnalysisError(f"{where}: covariates is empty; fix: name the baseline covariates")
    _check_width(caliper_sd, "caliper_sd", "a multiple of SD(logit PS), e.g. 0.2", where)
    frame, covs = _checked_cohort(data, where, None, names)
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
    sets = draw_sets(
        frame, rng, controls, bucket, (logit, caliper_sd * sd), [], None, True, progress
    )
    propensity = pd.DataFrame(
        {"term": list(fit.params.index), "coef": fit.params.to_numpy(), "se": fit.bse.to_numpy()}
    )
    method = (
        f"propensity-score risk-set matching ({controls} control(s); logit PS on "
        f"{', '.join(names)}; caliper {caliper_sd:g} SD = {caliper_sd * sd:.4g})"
    )
    return _assemble(frame, sets, [*covs, PS_LOGIT], controls, method, propensity)


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
    codes = np.zeros(len(frame), dtype=np.int64)
    for name in exact:
        code, values = pd.factorize(frame[name].to_numpy(dtype=float))
        codes = pd.factorize(codes * values.size + code)[0].astype(np.int64)
    return codes


def _assemble(
    frame: pd.DataFrame,
    sets: MatchedSets,
    covs: Sequence[str],
    k: int,
    method: str,
    propensity: pd.DataFrame | None = None,
) -> MatchedCohort:
    """Build the Matched table and the report from the chosen rows."""
    n_exposed = int(frame[schema.EXPOSURE_DAY].notna().sum())
    if not sets.exposed.size:
        raise AnalysisError(
            f"{method}: none of the {n_exposed:,} exposed persons has an eligible control; "
            "fix: relax exact matching, widen the calipers or the test window"
        )
    sizes = sets.sizes
    first = np.cumsum(sizes + 1) - (sizes + 1)
    flag = np.zeros(int((sizes + 1).sum()), dtype=np.int64)
    flag[first] = 1
    rows = np.empty(flag.size, dtype=np.int64)
    rows[first] = sets.exposed
    rows[flag == 0] = sets.controls
    set_id = np.repeat(np.arange(1, sizes.size + 1), sizes + 1)
    expo_all = frame[schema.EXPOSURE_DAY].to_numpy(dtype=float)
    index_day = np.repeat(expo_all[sets.exposed], sizes + 1)
    end = frame[schema.EVENT_DAY].to_numpy(dtype=float)[rows]
    expo = expo_all[rows]
    with np.errstate(invalid="ignore"):
        censor = (flag == 0) & (expo < end)
    stop = np.where(censor, expo, end)
    columns = {
        SET_ID: set_id.astype(np.int64),
        schema.ID: frame[schema.ID].to_numpy()[rows],
        EXPOSED: flag,
        INDEX_DAY: index_day,
        TIME: stop - index_day,
        schema.EVENT: np.where(censor, 0, frame[schema.EVENT].to_numpy()[rows]).astype(np.int64),
        STOP_DAY: stop,
    }
    covariates = {c: frame[c].to_numpy()[rows] for c in covs}
    data = pd.DataFrame({**columns, **covariates}, copy=False)  # fresh arrays: no copy
    report = _report(frame, data, sets, covs, k, n_exposed, int(censor.sum()), propensity)
    return MatchedCohort(data=data, report=report, method=method)


def _report(
    frame: pd.DataFrame,
    data: pd.DataFrame,
    sets: MatchedSets,
    covs: Sequence[str],
    k: int,
    n_exposed: int,
    n_censored: int,
    propensity: pd.DataFrame | None,
) -> MatchReport:
    """Counts, reuse of controls and balance of the matched table."""
    uses = np.bincount(sets.controls, minlength=len(frame))
    used = uses > 0
    exposed = frame[schema.EXPOSURE_DAY].notna().to_numpy()
    per_set = np.bincount(sets.sizes, minlength=k + 1)[1:]
    reasons = sets.reasons
    return MatchReport(
        n_exposed=n_exposed,
        n_matched=int(sets.sizes.size),
        n_partially_matched=int(np.count_nonzero(sets.sizes < k)),
        n_unmatched_no_control=int((reasons == NO_CONTROL).sum()),
        n_unmatched_exposure_on_event_day=int((reasons == EXPOSURE_ON_EVENT_DAY).sum()),
        controls_requested=k,
        controls_per_set=pd.DataFrame({"n_controls": np.arange(1, k + 1), "n_sets": per_set}),
        n_control_rows=int(sets.controls.size),
        n_distinct_controls=int(used.sum()),
        n_controls_reused=int((uses > 1).sum()),
        n_controls_censored_at_exposure=n_censored,
        n_controls_also_exposed=int((used & exposed).sum()),
        balance=balance_table(frame, data, covs),
        unmatched=frame.loc[sets.unmatched, [schema.ID, schema.EXPOSURE_DAY]]
        .assign(reason=reasons)
        .reset_index(drop=True),
        propensity=propensity,
    )
