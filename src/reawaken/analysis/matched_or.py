"""Matched odds ratio by conditional logistic regression over matched sets.

``P(y | set) ∝ exp(x'beta)`` conditional on the number of cases per set (Breslow & Day 1980,
ch. 7): statsmodels ``ConditionalLogit``. For 1:1 pairs and a binary exposure the estimate is
the discordant-pair ratio ``n10 / n01`` with SE ``sqrt(1/n10 + 1/n01)`` (tested). This is the
estimand the UK Biobank finding reports (OR of cancer death, test-positive vs matched
test-negative).

Sets that share persons (exposure-density matching reuses controls) are handled by the
shared-members sandwich of :mod:`reawaken.analysis.matched_variance`, built from per-row
contributions to the exact conditional score (:func:`conditional_logit_row_scores`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.discrete.conditional_models import ConditionalLogit
from statsmodels.tools.sm_exceptions import ConvergenceWarning, HessianInversionWarning

from ..checks import checked
from ..errors import AnalysisError
from ..inputs import numeric_column, require_columns, require_frame
from .matched_variance import (
    check_variance,
    clipping_note,
    matched_coefficient_table,
    matched_variances,
)
from .results import SE_COLUMNS, ModelResult

WHERE = "matched_odds_ratio"
#: |log OR| beyond which the conditional likelihood is taken as monotone (OR > 1e13).
MONOTONE_BOUND = 30.0
#: Largest accepted Newton decrement ``sqrt(U' V U)`` at the estimate (in SE units).
#: statsmodels' ConditionalLogit results carry no ``mle_retvals``, so convergence is checked
#: from the analytic score at the returned estimate.
CONVERGENCE_TOL = 1e-6


def _inclusion_probabilities(w: np.ndarray, m: int) -> np.ndarray:
    """``pi_i = w_i e_{m-1}(w_{-i}) / e_m(w)``: probability that member ``i`` is among the ``m``
    cases under the conditional model, ``e_k`` the elementary symmetric polynomials."""
    n = w.size
    others = np.where(np.eye(n, dtype=bool), 0.0, w[None, :])  # row i: weights without i
    e = np.zeros((n, m))
    e[:, 0] = 1.0
    for j in range(n):
        e[:, 1:] = e[:, 1:] + others[:, j, None] * e[:, :-1]
    numerator = w * e[:, m - 1]
    return numerator * m / numerator.sum()  # sum_i w_i e_{m-1}(w_-i) = m e_m(w)


def conditional_logit_row_scores(
    y: np.ndarray, x: np.ndarray, groups: np.ndarray, coef: np.ndarray
) -> np.ndarray:
    """Per-row contributions to the conditional-logistic score, ``(n, p)``.

    Row ``i`` of set ``s`` (``m_s`` cases) gets ``r_i = (y_i - pi_i)(x_i - xbar_s)``,
    ``pi_i = P(i among the cases | m_s)`` and ``xbar_s = sum_j pi_j x_j / m_s``; their sum over
    the set is the exact conditional score ``sum_i y_i x_i - E[sum_{cases} x]`` (Breslow & Day
    1980, ch. 7). With one case per set this is R's ``coxph`` score residual of the equivalent
    stratified Cox fit (``clogit``); sets without outcome contrast contribute zero.
    """
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    out = np.zeros_like(x)
    eta = x @ np.asarray(coef, dtype=float)
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    for rows in np.split(order, bounds):
        m = int(y[rows].sum())
        if m == 0 or m == rows.size:
            continue
        w = np.exp(eta[rows] - eta[rows].max())
        pi = _inclusion_probabilities(w, m)
        xbar = pi @ x[rows] / m
        out[rows] = (y[rows] - pi)[:, None] * (x[rows] - xbar)
    return out


def _fit_conditional_logit(y: np.ndarray, x: np.ndarray, groups: np.ndarray):
    """statsmodels ``ConditionalLogit`` by BFGS then Newton; non-convergence raises.

    Convergence: finite ``|coef| <= MONOTONE_BOUND`` and Newton decrement ``sqrt(U'VU)`` at the
    estimate below ``CONVERGENCE_TOL`` (``U`` statsmodels' analytic score, ``V`` its variance).
    """
    try:
        # exp() may overflow while BFGS explores a monotone likelihood: the checks below catch it
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore"):
            # convergence is checked below (Newton decrement) and raised as an AnalysisError
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            # a singular Hessian means the OR is not estimable: raise instead of a NaN SE
            warnings.filterwarnings("error", category=HessianInversionWarning)
            # only sets with outcome contrast carry information (statsmodels would drop the
            # others after a slow per-set pass)
            contrast = pd.Series(y).groupby(groups).transform("nunique").to_numpy() > 1
            model = ConditionalLogit(
                y[contrast].astype(float), x[contrast], groups=groups[contrast]
            )
            start = model.fit(disp=0, method="bfgs", maxiter=500)
            fit = model.fit(disp=0, start_params=start.params, method="newton", maxiter=50)
            coef = np.asarray(fit.params, dtype=float)
            cov = np.asarray(fit.cov_params(), dtype=float)
    except (np.linalg.LinAlgError, ValueError, HessianInversionWarning) as exc:
        raise AnalysisError(
            f"{WHERE}: the information matrix is singular ({exc}); the OR is not estimable "
            "(e.g. the likelihood is monotone, or covariates are collinear within sets); fix: "
            "drop collinear covariates or use more data"
        ) from exc
    if not np.all(np.isfinite(coef)) or np.any(np.abs(coef) > MONOTONE_BOUND):
        raise AnalysisError(
            f"{WHERE}: the conditional likelihood is monotone (e.g. every informative set has "
            "the outcome only in exposed persons); the OR is not estimable; fix: use more data"
        )
    score = np.asarray(fit.model.score(coef), dtype=float)
    decrement = float(np.sqrt(abs(score @ cov @ score)))  # distance to the maximum, in SEs
    if not np.isfinite(decrement) or decrement > CONVERGENCE_TOL:
        raise AnalysisError(
            f"{WHERE}: the fit did not converge (Newton decrement sqrt(U'VU) = {decrement:.3g} "
            f"> {CONVERGENCE_TOL:g}: the score is not zero at the estimate); the OR is not "
            "estimable; fix: use more data or fewer covariates"
        )
    if not np.all(np.isfinite(np.diag(cov))) or np.any(np.diag(cov) <= 0):
        raise AnalysisError(
            f"{WHERE}: the model variance is not positive ({np.diag(cov)}); the OR is not "
            "estimable; fix: use more data"
        )
    return fit, coef, cov


@checked(skip=("data",))
def matched_odds_ratio(
    data: pd.DataFrame,
    *,
    exposure: str = "exposed",
    covariates: Sequence[str] = (),
    cause: int = 1,
    horizon_days: float | None = None,
    strata: str = "set_id",
    event: str = "event",
    duration: str = "time",
    cluster: str = "id",
    variance: str = "shared-members",
) -> ModelResult:
    """Conditional logistic regression of "outcome after index" on exposure within sets.

    Persons appearing in many sets (reused controls, controls that later open their own set)
    make set scores dependent. The table gives the model SE (``se``: statsmodels' inverse
    information, sets assumed independent), the person-clustered robust SE (``robust_se``:
    per-row scores summed by person, as R's ``clogit(... + cluster(id))``) and the
    shared-members SE (``shared_members_se``: ``A^{-1} B A^{-1}``, ``B`` the sum of ``U_s U_t'``
    over every pair of sets sharing a person; :mod:`reawaken.analysis.matched_variance`).

    Parameters
    ----------
    data : DataFrame
        Matched table (``set_id, id, exposed, index_day, time, event, ...``).
    exposure : str
        Exposure indicator column.
    covariates : sequence of str
        Extra adjustment columns (those matched on exactly are absorbed by the sets).
    cause : int
        Event code counted as the outcome (other codes and censoring count as no outcome).
    horizon_days : float, optional
        Count the outcome only within this many days of the index day.
    cluster : str
        Person id column (needed by the robust and shared-members variances; without it,
        ``variance="model"`` treats every row as its own person in the other two columns).
    variance : {"shared-members", "robust", "model"}
        The variance used for CI, p-value and :meth:`ModelResult.se`.

    Returns
    -------
    ModelResult
        ``table`` rows per term; ``hr`` holds the odds ratio ``exp(coef)``;
        ``extra["variances"]`` the three covariance matrices.

    Raises
    ------
    AnalysisError
        Bad input, no informative set, or a fit that does not converge (monotone likelihood,
        singular information, Newton-Raphson not converged).

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> matched = rw.match_exposure_density(cohort.data, rng=np.random.default_rng(2), controls=4)
    >>> fit = rw.matched_odds_ratio(matched.data)
    >>> fit.variance_name
    'shared-members'
    """
    require_frame(data, WHERE)
    variance = check_variance(variance, WHERE)
    covariates = list(covariates)
    require_columns(data, [exposure, strata, event, duration, *covariates], WHERE)
    if cluster not in data.columns and variance != "model":
        raise AnalysisError(
            f"{WHERE}: no person id column {cluster!r}, which the robust and shared-members "
            "variances need; fix: pass cluster=, or variance='model' for independent sets"
        )
    columns = (exposure, strata, event, duration)
    y, x, groups = _model_arrays(data, columns, covariates, cause, horizon_days)
    per_set = pd.DataFrame({"g": groups, "y": y, "x": x[:, 0]}).groupby("g")
    informative = (per_set["y"].nunique() > 1) & (per_set["x"].nunique() > 1)
    if not informative.any():
        raise AnalysisError(
            f"{WHERE}: no matched set has both an outcome and exposure contrast; "
            "the conditional OR is not estimable"
        )
    fit, coef, cov = _fit_conditional_logit(y, x, groups)
    scores = conditional_logit_row_scores(y, x, groups, coef)
    # without an id column (variance="model" only) every row counts as its own person
    persons = data[cluster] if cluster in data.columns else np.arange(len(data))
    variances = matched_variances(cov, scores, groups, np.asarray(persons))
    terms = [exposure, *covariates]
    return ModelResult(
        table=matched_coefficient_table(terms, coef, variances, variance),
        method="conditional logistic regression (statsmodels ConditionalLogit), OR, "
        f"{variance} SE" + clipping_note(variances),
        n=len(data),
        events=int(y.sum()),
        loglik=float(fit.llf),
        variance=variances.matrix(variance),
        measure="OR",
        extra={
            "informative_sets": int(informative.sum()),
            "sets": int(groups.max() + 1),
            "variances": variances,
            "score_residuals": scores,
        },
        se_used=SE_COLUMNS[variance],
    )


def _model_arrays(
    matched: pd.DataFrame,
    columns: tuple[str, str, str, str],
    covariates: list[str],
    cause: int,
    horizon_days: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome indicator, design matrix and set codes of the conditional logistic model;
    ``columns`` is ``(exposure, set, event, time)``."""
    exposure, set_column, event, time = columns
    y = numeric_column(matched, event, WHERE) == cause
    if horizon_days is not None:
        if horizon_days <= 0:
            raise AnalysisError(f"{WHERE}: horizon_days must be > 0, got {horizon_days}")
        y &= numeric_column(matched, time, WHERE) <= horizon_days
    if not y.any():
        raise AnalysisError(f"{WHERE}: no outcome (event code {cause}) in the matched sets")
    x = np.column_stack([numeric_column(matched, c, WHERE) for c in [exposure, *covariates]])
    if matched[set_column].isna().any():
        raise AnalysisError(
            f"{WHERE}: set column {set_column!r} has missing values; fix: give every row its set"
        )
    groups = pd.factorize(matched[set_column])[0].astype(np.int64)
    return y, x, groups
