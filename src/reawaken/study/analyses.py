"""Study analyses: the designs a reported finding used, run on a Cohort table.

Every analysis has the signature ``(cohort, scenario, rng=None) -> Estimate`` (``rng`` drives
control sampling in the matched designs; ``None`` means ``default_rng(0)``), and the scenario's
``[design]`` table picks one (:func:`study_analysis`):

* ``time_varying_cox`` (Flatiron, HR): Cox model on documented exposure as a time-varying
  covariate, adjusted for the scenario's covariates (Efron ties, R survival's risk sets;
  competing deaths censored: a cause-specific HR).
* ``matched_cox`` (HR): exposure-density matching, then a set-stratified Cox model with the
  shared-members SE (sets that share a person are dependent;
  :mod:`reawaken.analysis.matched_variance`).
* ``matched_or`` (UK Biobank, OR): exposure-density matching of test-positive persons to
  test-negative controls tested within a window of the index day; conditional logistic
  regression of the outcome after the index day, shared-members SE.
* ``test_negative_logistic`` (OR): the unmatched version, logistic regression of the outcome
  after the index test on positivity (index = ``exposure_day`` or ``test_day``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    HessianInversionWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from .. import schema
from ..analysis.cox import fit_matched_cox, time_varying_cox_term
from ..analysis.matched_or import matched_odds_ratio
from ..analysis.results import ModelResult
from ..checks import checked
from ..design.episodes import EXPOSED, split_at_exposure
from ..design.matching import match_exposure_density
from ..errors import AnalysisError
from ..estimate import Estimate
from ..scenario import DesignSpec, Scenario
from .registry import STUDY_DESIGNS, matched_design_names, study_design_names


def covariate_design(cohort: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """Model columns for the scenario's covariates: numeric as is, categorical as dummies
    (``stage_2, stage_3, ...`` against the first level); constant columns (an empty level)
    are dropped (:func:`_varies`)."""
    columns = _design_columns(cohort, scenario)
    return pd.DataFrame(columns, index=cohort.index, columns=list(columns))


def _design_columns(cohort: pd.DataFrame, scenario: Scenario) -> dict[str, np.ndarray]:
    """The columns of :func:`covariate_design` as float arrays, by name, in order."""
    cols: dict[str, np.ndarray] = {}
    for spec in scenario.observed_covariates:
        x = cohort[spec.name].to_numpy()
        if spec.kind == "categorical":
            for level in spec.levels[1:]:
                cols[f"{spec.name}_{level}"] = (x == level).astype(float)
        else:
            cols[spec.name] = x.astype(float)
    return {name: x for name, x in cols.items() if _varies(x)}


def _varies(x: np.ndarray) -> bool:
    """``pd.Series(x).std() > 0`` for a float column, computed as pandas computes it (the
    two-pass sample variance over the non-missing values, ``sum((x - mean)^2) / (m - 1)``;
    pandas.core.nanops.nanvar) without building a Series: the same decision, bit for bit."""
    missing = np.isnan(x)
    count = x.size - int(missing.sum())
    if count <= 1:  # pandas: NaN
        return False
    values = np.where(missing, 0.0, x) if count < x.size else x
    with np.errstate(over="ignore", invalid="ignore"):  # inf or huge values: as pandas
        squares = (values.sum(dtype=np.float64) / count - values) ** 2
        if count < x.size:
            squares[missing] = 0.0
        return bool(squares.sum(dtype=np.float64) / (count - 1) > 0)


def index_at_first_test(cohort: pd.DataFrame) -> pd.DataFrame:
    """Tested persons only, with follow-up starting at their first test.

    The index day is the negative ``test_day`` or, if earlier or the only test, the positive
    test (``exposure_day``): a test-negative design followed in time, where a negative person
    who later tests positive switches to exposed on that day.
    """
    if schema.TEST_DAY not in cohort:
        raise AnalysisError(
            "indexing at the first test needs a 'test_day' column (day of a negative test)"
        )
    first = np.fmin(cohort[schema.TEST_DAY].to_numpy(), cohort[schema.EXPOSURE_DAY].to_numpy())
    tested = ~np.isnan(first)
    out = cohort.loc[tested].copy()
    out[schema.ENTRY_DAY] = first[tested]
    return out


@checked(skip=("data",))
def time_varying_cox_hr(
    data: pd.DataFrame, scenario: Scenario, rng: np.random.Generator | None = None
) -> Estimate:
    """Adjusted HR of documented exposure from a time-varying Cox fit (Efron ties).

    For scenarios that select tested persons, follow-up starts at the first test
    (:func:`index_at_first_test`); otherwise at ``entry_day``.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> estimate = rw.time_varying_cox_hr(cohort.data, scenario)
    >>> estimate.measure, estimate.n
    ('HR', 4000)
    """
    method = "time-varying Cox (Efron), adjusted"
    if scenario.testing is not None and scenario.testing.select_tested:
        data = index_at_first_test(data)
        method += ", follow-up from first test"
    design = _design_columns(data, scenario)
    # the Cohort columns and the design side by side (no copies: the split makes new arrays)
    frame = {c: data[c].array for c in schema.REQUIRED_COLUMNS} | design
    episodes = split_at_exposure(pd.DataFrame(frame, copy=False), covariates=list(design))
    event = episodes[schema.EVENT].to_numpy()
    exposed = episodes[EXPOSED].to_numpy()
    events, exposed_events = int(event.sum()), int(event[exposed == 1].sum())
    if events == 0 or exposed.sum() == 0 or exposed_events == 0:
        raise AnalysisError(
            f"cannot fit a time-varying Cox model: {events} outcome events, "
            f"{exposed_events} among exposed; simulate a larger cohort"
        )
    # only the exposure's coefficient and SE: fit_time_varying_cox's, without its table
    coef, se = time_varying_cox_term(episodes, EXPOSED, covariates=[EXPOSED, *design])
    return Estimate.from_log("HR", method, coef, se, n=len(data), events=events)


@checked(skip=("data",))
def logistic_or_test_negative(
    data: pd.DataFrame, scenario: Scenario, rng: np.random.Generator | None = None
) -> Estimate:
    """Adjusted OR of the outcome after the index test, test-positive vs test-negative.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("ukb_cancer_mortality").with_n(3000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> estimate = rw.logistic_or_test_negative(cohort.data, scenario)
    >>> estimate.measure
    'OR'
    """
    if schema.TEST_DAY not in data:
        raise AnalysisError(
            "the test-negative analysis needs a 'test_day' column (day of a negative test)"
        )
    positive = data[schema.EXPOSURE_DAY].notna().to_numpy()
    tested = positive | data[schema.TEST_DAY].notna().to_numpy()
    data = data.loc[tested]
    positive = positive[tested]
    y = (data[schema.EVENT].to_numpy() == 1).astype(float)
    if positive.all() or not positive.any():
        raise AnalysisError("the test-negative analysis needs both positive and negative persons")
    if y.sum() == 0:
        raise AnalysisError("no outcome events among tested persons; simulate a larger cohort")
    design = covariate_design(data, scenario)
    x = sm.add_constant(
        pd.concat(
            [pd.Series(positive.astype(float), index=data.index, name="positive"), design], axis=1
        )
    )
    fit = _fit_logit(y, x)
    return Estimate.from_log(
        "OR",
        "test-negative logistic regression (statsmodels), adjusted",
        float(fit.params["positive"]),
        float(fit.bse["positive"]),
        n=len(data),
        events=int(y.sum()),
    )


def _fit_logit(y: np.ndarray, x: pd.DataFrame):
    """statsmodels ``Logit`` (Newton); a fit that does not converge raises AnalysisError."""
    where = "test-negative logistic regression"
    try:
        with warnings.catch_warnings():
            # convergence is checked below from mle_retvals and raised as an AnalysisError
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            # (quasi-)separation makes the MLE infinite: raise rather than report it
            warnings.filterwarnings("error", category=PerfectSeparationWarning)
            # a singular Hessian means collinear columns: raise rather than report NaN SEs
            warnings.filterwarnings("error", category=HessianInversionWarning)
            fit = sm.Logit(y, x).fit(disp=0, maxiter=100)
    except (PerfectSeparationWarning, PerfectSeparationError) as exc:
        raise AnalysisError(
            f"{where}: perfect separation ({exc}); the OR is infinite; fix: drop covariates "
            "that predict the outcome perfectly, or use more data"
        ) from exc
    except (HessianInversionWarning, np.linalg.LinAlgError) as exc:
        raise AnalysisError(
            f"{where}: singular information ({exc}); fix: drop collinear covariates"
        ) from exc
    if not fit.mle_retvals.get("converged", False):
        raise AnalysisError(
            f"{where}: Newton-Raphson did not converge in {fit.mle_retvals.get('iterations')} "
            "iterations (mle_retvals['converged'] is False); fix: use more data or fewer covariates"
        )
    finite = np.isfinite(fit.params.to_numpy()).all() and np.isfinite(fit.bse.to_numpy()).all()
    if not finite:
        raise AnalysisError(f"{where}: non-finite estimates or SEs; fix: use more data")
    return fit


def _matched(cohort: pd.DataFrame, scenario: Scenario, rng: np.random.Generator | None):
    design = scenario.design or DesignSpec()
    return match_exposure_density(
        cohort,
        rng=np.random.default_rng(0) if rng is None else rng,
        controls=design.controls,
        exact=design.exact,
        caliper=dict(design.caliper),
        test_window_days=design.test_window_days,
        covariates=list(scenario.covariate_names),
    )


def _matched_estimate(
    measure: str, method: str, fit: ModelResult, matched: pd.DataFrame
) -> Estimate:
    """The exposure estimate of a matched fit with its three SEs (inference: the fit's).

    ``n`` counts person-set rows; ``events`` counts *distinct persons* with the outcome (a
    person whose outcome recurs in several sets, as a control and later as exposed, adds one):
    the count Schoenfeld-style planning needs (the matched fit's own ``events`` counts rows).
    """
    row = fit.row("exposed")
    outcome = matched[schema.EVENT].to_numpy() == 1
    return Estimate.from_log(
        measure,
        method,
        fit.coef("exposed"),
        fit.se("exposed"),
        n=len(matched),
        events=int(matched.loc[outcome, schema.ID].nunique()),
        variance=fit.variance_name,
        se_model=float(row["se"]),
        se_robust=float(row["robust_se"]),
    )


def matched_cox_hr(
    data: pd.DataFrame, scenario: Scenario, rng: np.random.Generator | None = None
) -> Estimate:
    """HR from exposure-density matched sets: set-stratified Cox with the shared-members SE.

    Persons serving in several sets (reused controls, controls later exposed) are accounted
    for by the shared-members sandwich (:func:`reawaken.analysis.cox.fit_matched_cox`); the
    Estimate also carries the model and person-clustered robust SEs.
    """
    matched = _matched(data, scenario, rng)
    fit = fit_matched_cox(matched.data)
    method = "exposure-density matched, conditional Cox, shared-members SE"
    return _matched_estimate("HR", method + _clip_flag(fit), fit, matched.data)


def matched_or(
    data: pd.DataFrame, scenario: Scenario, rng: np.random.Generator | None = None
) -> Estimate:
    """OR from exposure-density matched sets by conditional logistic regression, with the
    shared-members SE (sets sharing persons; :func:`matched_odds_ratio`); the Estimate also
    carries the model and person-clustered robust SEs."""
    matched = _matched(data, scenario, rng)
    fit = matched_odds_ratio(matched.data)
    method = "exposure-density matched, conditional logistic regression, shared-members SE"
    return _matched_estimate("OR", method + _clip_flag(fit), fit, matched.data)


def _clip_flag(fit: ModelResult) -> str:
    clipped = fit.extra["variances"].shared.clipped
    return f" (variance clipped to PSD: {clipped})" if clipped else ""


Analysis = Callable[..., Estimate]

#: Study analysis callables by design name (:data:`reawaken.study.registry.STUDY_DESIGNS`).
STUDY_ANALYSES: dict[str, Analysis] = {
    name: STUDY_DESIGNS[name].function() for name in study_design_names()
}
#: The effect measure of each study analysis (HR or OR), from the registry.
STUDY_MEASURES: dict[str, str] = {name: STUDY_DESIGNS[name].measure for name in STUDY_ANALYSES}
#: The analyses on exposure-density matched sets, from the registry.
MATCHED_ANALYSES: tuple[str, ...] = matched_design_names()


@checked
def study_analysis(scenario: Scenario) -> Analysis:
    """The scenario's study analysis: its ``[design]``, else by whether it has testing.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> analysis = rw.study_analysis(scenario)
    >>> estimate = analysis(cohort.data, scenario, np.random.default_rng(3))
    >>> estimate.measure
    'HR'
    """
    if scenario.design is not None:
        return STUDY_ANALYSES[scenario.design.analysis]
    return logistic_or_test_negative if scenario.testing is not None else time_varying_cox_hr
