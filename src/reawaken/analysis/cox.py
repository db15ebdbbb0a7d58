"""The Cox model family: one entry point, :func:`fit_cox`, for time-fixed, (start, stop],
stratified, weighted and cluster-robust fits, and the study-design wrappers built on it.

Estimation uses :mod:`reawaken.engine` (vectorized Newton–Raphson, R survival's risk-set rule:
a row entering at ``t`` is not at risk at ``t``), validated against lifelines and statsmodels in
the tests. Robust variance: Lin & Wei (JASA 1989) sandwich ``V I_c V`` with score residuals
summed within clusters (persons who recur across episodes). Matched sets that share persons
get the shared-members sandwich as well (:func:`fit_matched_cox`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ..checks import checked
from ..engine.coxph import score_residuals
from ..errors import AnalysisError
from ..inputs import require_columns, require_frame
from .cox_inputs import WHERE, cox_inputs, engine_fit
from .formula import formula_variables
from .matched_variance import (
    check_variance,
    clipping_note,
    matched_coefficient_table,
    matched_variances,
)
from .results import SE_COLUMNS, ModelResult, coefficient_table


def _cluster_sums(data: pd.DataFrame, resid: np.ndarray, cluster: str | None) -> np.ndarray:
    """Score residuals summed within clusters (rows when ``cluster`` is None)."""
    if cluster is None:
        return resid
    if data[cluster].isna().any():
        raise AnalysisError(f"{WHERE}: cluster column {cluster!r} has missing values")
    codes = pd.factorize(data[cluster])[0]
    summed = np.zeros((codes.max() + 1, resid.shape[1]))
    np.add.at(summed, codes, resid)
    return summed


@checked(skip=("data",))
def fit_cox(
    data: pd.DataFrame,
    *,
    duration: str | None = None,
    start: str | None = None,
    stop: str | None = None,
    event: str,
    covariates: Sequence[str] | None = None,
    formula: str | None = None,
    strata: str | None = None,
    cluster: str | None = None,
    robust: bool = False,
    ties: str = "efron",
    weights: str | None = None,
    cause: int | None = None,
) -> ModelResult:
    """Fit a Cox proportional-hazards model.

    ``h(t | x) = h0_s(t) exp(x'beta)`` with a baseline per stratum ``s`` (Cox 1972); ties by
    Efron or Breslow; robust (sandwich) SEs clustered on ``cluster`` (Lin & Wei 1989).

    Parameters
    ----------
    data : DataFrame
    duration : str, optional
        Follow-up time column for time-fixed data (give this, or ``stop``).
    start, stop : str, optional
        Counting-process interval ``(start, stop]`` columns; ``start`` optional.
    event : str
        Event column: 0 censored, 1 event — or several causes (1, 2, ...) with ``cause``.
    covariates : sequence of str, optional
        Numeric model columns (give this or ``formula``).
    formula : str, optional
        Right-hand-side formula, e.g. ``"exposed + age + C(stage) + bs(age, df=4) +
        exposed:her2"``: dummy coding, splines and interactions
        (:mod:`reawaken.analysis.formula`; the terms are formulaic's column names, as in
        lifelines' ``CoxPHFitter(formula=...)``).
    strata : str, optional
        Stratification column (e.g. matched set id): conditional Cox model.
    cluster : str, optional
        Cluster column for robust SEs (e.g. person id); implies ``robust``.
    robust : bool
        Robust SEs; without ``cluster`` each row is its own cluster.
    ties : {"efron", "breslow"}
    weights : str, optional
        Case-weight column (> 0), e.g. inverse-probability weights.
    cause : int, optional
        Event code of interest when ``event`` holds several causes (others censored).

    Returns
    -------
    ModelResult
        ``table`` with ``term, coef, se, [robust_se,] hr, ci_low, ci_high, p_value``; with a
        robust variance, ``extra["score_residuals"]`` holds the per-row (weighted) score
        residuals at the estimate, in the row order of ``data``; with a formula,
        ``extra["design"]`` holds the :class:`~reawaken.analysis.formula.DesignMatrix`.

    Examples
    --------
    >>> import reawaken as rw
    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi()
    >>> fit = rw.fit_cox(rossi, duration="week", event="arrest",
    ...                  covariates=["fin", "age", "race", "wexp", "mar", "paro", "prio"])
    >>> round(fit.coef("fin"), 3), round(fit.coef("prio"), 3)
    (-0.379, 0.091)
    """
    columns = {"duration": duration, "start": start, "stop": stop, "event": event}
    columns |= {"strata": strata, "cluster": cluster, "weights": weights}
    inputs = cox_inputs(data, columns, ties, cause, covariates=covariates, formula=formula)
    terms, x, design = inputs.terms, inputs.x, inputs.design
    t0, t1, d, w, s = inputs.start, inputs.stop, inputs.event, inputs.weights, inputs.strata
    fit = engine_fit(inputs, ties)
    se = np.sqrt(np.diag(fit.variance))
    robust_se, variance, resid = None, fit.variance, None
    if cluster is not None or robust:
        resid = score_residuals(t0, t1, d, x, fit.coef, weights=w, strata=s, ties=ties)
        if w is not None:
            resid = resid * w[:, None]
        summed = _cluster_sums(data, resid, cluster)
        variance = fit.variance @ (summed.T @ summed) @ fit.variance
        robust_se = np.sqrt(np.diag(variance))
    table = coefficient_table(terms, fit.coef, se, robust_se=robust_se)
    label = "Cox" + (" stratified" if strata else "") + (" (start, stop]" if start else "")
    label += f", {ties}" + (", robust SE" if robust_se is not None else "")
    return ModelResult(
        table=table,
        method=label,
        n=len(data),
        events=int(d.sum()),
        loglik=fit.loglik,
        variance=variance,
        extra={
            "loglik_null": fit.loglik_null,
            "iterations": fit.iterations,
            "model_variance": fit.variance,
            "score_residuals": resid,
            "arrays": {"start": t0, "stop": t1, "event": d, "x": x, "weights": w, "strata": s},
            "ties": ties,
            "covariates": terms,
            "formula": formula,
            "design": design,
        },
    )


@checked(skip=("data",))
def fit_time_varying_cox(
    data: pd.DataFrame,
    *,
    covariates: Sequence[str] | None = None,
    formula: str | None = None,
    start: str = "start",
    stop: str = "stop",
    event: str = "event",
    ties: str = "efron",
    cluster: str | None = None,
) -> ModelResult:
    """Cox model on (start, stop] episodes (e.g. from :func:`split_at_exposure`).

    A thin wrapper of :func:`fit_cox` (``covariates`` or ``formula``); with ``cluster="id"``
    the SEs are robust to the within-person correlation of a person's episodes (they equal the
    model SEs asymptotically when each person contributes one event at most, as here).

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> episodes = rw.split_at_exposure(cohort.data, covariates=["age", "comorbidity"])
    >>> fit = rw.fit_time_varying_cox(episodes, covariates=["exposed", "age", "comorbidity"])
    >>> fit.table["term"].tolist()
    ['exposed', 'age', 'comorbidity']
    """
    return fit_cox(
        data,
        start=start,
        stop=stop,
        event=event,
        covariates=covariates,
        formula=formula,
        ties=ties,
        cluster=cluster,
    )


def time_varying_cox_term(
    data: pd.DataFrame,
    term: str,
    *,
    covariates: Sequence[str],
    start: str = "start",
    stop: str = "stop",
    event: str = "event",
) -> tuple[float, float]:
    """Coefficient and model SE of one ``term`` of a time-varying Cox fit (Efron ties):
    ``fit_time_varying_cox(data, covariates=covariates)``'s ``coef(term)`` and ``se(term)``.

    ``se = sqrt((I^{-1})_jj)``, ``I`` the observed information at the estimate (Cox 1972;
    Efron 1977). The same checks and the same engine call as :func:`fit_cox`, bit for bit,
    without the coefficient table: the lean path of replicate runs, which need one term.
    """
    if term not in covariates:
        raise AnalysisError(
            f"{WHERE}: term {term!r} is not among the covariates {list(covariates)}; fix: "
            "name one of them"
        )
    columns = {"duration": None, "start": start, "stop": stop, "event": event}
    columns |= {"strata": None, "cluster": None, "weights": None}
    inputs = cox_inputs(data, columns, "efron", None, covariates=covariates, formula=None)
    fit = engine_fit(inputs, "efron")
    j = inputs.terms.index(term)
    return float(fit.coef[j]), float(np.sqrt(fit.variance[j, j]))


@checked(skip=("data",))
def fit_matched_cox(
    data: pd.DataFrame,
    *,
    covariates: Sequence[str] = (),
    exposure: str = "exposed",
    cause: int = 1,
    ties: str = "efron",
    strata: str = "set_id",
    cluster: str = "id",
    duration: str = "time",
    event: str = "event",
    variance: str = "shared-members",
) -> ModelResult:
    """Conditional (set-stratified) Cox model on matched sets, with three variances.

    ``h_s(t | x) = h0_s(t) exp(x'beta)`` with a baseline per matched set ``s``; follow-up starts
    at the set's index day (``duration`` = days since index); competing events are censored
    (cause-specific). The partial likelihood is a product over sets, so the score is a sum of
    set scores ``U_s`` (the set's score residuals summed, as R's ``residuals(fit, "score")``).

    Persons appearing in many sets (a control reused across sets, a control that later opens
    its own set as exposed) make set scores dependent. The table gives, side by side, the model
    SE (``se``, inverse information: assumes independent sets), the person-clustered robust SE
    (``robust_se``, Lin & Wei 1989, R's ``cluster(id)``: drops the within-set cross-person
    terms) and the shared-members SE (``shared_members_se``: ``A^{-1} B A^{-1}`` with ``B`` the
    sum of ``U_s U_t'`` over every pair of sets sharing a person; Aronow, Samii & Assenova
    2015; :mod:`reawaken.analysis.matched_variance`). ``variance`` picks the one used for CI,
    p-value and :meth:`ModelResult.se`: ``"shared-members"`` (default), ``"robust"`` or
    ``"model"``. ``extra["variances"]`` holds all three matrices.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> matched = rw.match_exposure_density(cohort.data, rng=np.random.default_rng(2), controls=4)
    >>> fit = rw.fit_matched_cox(matched.data)
    >>> fit.variance_name, fit.table.columns.tolist()[2:5]
    ('shared-members', ['se', 'robust_se', 'shared_members_se'])
    """
    variance = check_variance(variance, "fit_matched_cox")
    fit = fit_cox(
        data,
        duration=duration,
        event=event,
        covariates=[exposure, *covariates],
        strata=strata,
        cluster=cluster,
        ties=ties,
        cause=cause,
    )
    variances = matched_variances(
        fit.extra["model_variance"],
        fit.extra["score_residuals"],
        data[strata],
        data[cluster],
    )
    terms = [exposure, *covariates]
    return replace(
        fit,
        table=matched_coefficient_table(terms, fit.table["coef"].to_numpy(), variances, variance),
        method=f"Cox stratified by matched set, {ties}, {variance} SE" + clipping_note(variances),
        variance=variances.matrix(variance),
        se_used=SE_COLUMNS[variance],
        extra={**fit.extra, "variances": variances},
    )


@checked(skip=("data",))
def fit_naive_ever_exposed(
    data: pd.DataFrame,
    *,
    covariates: Sequence[str] = (),
    cause: int = 1,
    ties: str = "efron",
    formula: str | None = None,
) -> ModelResult:
    """The naive "ever exposed" Cox model — it commits **immortal time bias** (Suissa 2008).

    Exposure is classified from the start of follow-up by whether an exposure is *ever*
    recorded, so the exposed group's person-time before exposure (during which they had to
    survive event-free to become exposed) is credited to exposure. Kept, clearly labelled, for
    teaching and stress tests; use the time-varying or matched designs for estimates. With a
    ``formula``, the ever-exposed indicator is the variable ``exposed`` (e.g.
    ``"exposed + age + C(stage)"``); otherwise the term is ``ever_exposed``.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> naive = rw.fit_naive_ever_exposed(cohort.data)
    >>> naive.table["term"].tolist()
    ['ever_exposed']
    """
    from .. import schema

    where = "fit_naive_ever_exposed"
    require_frame(data, where)
    used = formula_variables(formula, where) if formula is not None else list(covariates)
    used = [c for c in used if c != "exposed"]
    require_columns(data, [*schema.REQUIRED_COLUMNS, *used], where)
    frame = data[[*schema.REQUIRED_COLUMNS, *used]].copy()
    frame["ever_exposed"] = frame[schema.EXPOSURE_DAY].notna().astype(float)
    frame["_time"] = frame[schema.EVENT_DAY] - frame[schema.ENTRY_DAY]
    if formula is not None:
        frame["exposed"] = frame["ever_exposed"]
    result = fit_cox(
        frame,
        duration="_time",
        event=schema.EVENT,
        covariates=None if formula is not None else ["ever_exposed", *covariates],
        formula=formula,
        ties=ties,
        cause=cause,
    )
    return _relabel(result, "naive ever-exposed Cox (IMMORTAL TIME BIAS; teaching only)")


@checked(skip=("data",))
def hr_by_window(
    data: pd.DataFrame,
    *,
    window_start_days: Sequence[float] = (0.0, 90.0, 365.0),
    covariates: Sequence[str] = (),
    cause: int = 1,
    ties: str = "efron",
    adjust: str | None = None,
) -> ModelResult:
    """Hazard ratio by window of time since exposure, from one time-varying Cox model.

    Follow-up is split at the exposure day and at ``exposure + window_start_days[j]``; window
    ``j`` gets its own indicator ``window_<a>_<b>`` (days), unexposed time is the reference.
    Adjustment by ``covariates`` (numeric columns) or by an ``adjust`` formula without the
    exposure (e.g. ``"age + C(stage)"``; :mod:`reawaken.analysis.formula`).

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> windows = rw.hr_by_window(cohort.data, window_start_days=(0, 365))
    >>> windows.table["term"].tolist()
    ['window_0_365', 'window_365_plus']
    """
    from ..design.episodes import split_at_windows

    variables = formula_variables(adjust, "hr_by_window") if adjust else list(covariates)
    episodes, terms = split_at_windows(
        data, window_start_days=window_start_days, covariates=variables, cause=cause
    )
    result = fit_cox(
        episodes,
        start="start",
        stop="stop",
        event="event",
        covariates=None if adjust else [*terms, *covariates],
        formula=" + ".join([*terms, adjust]) if adjust else None,
        ties=ties,
        cluster="id",
    )
    return _relabel(result, "time-varying Cox, HR by window since exposure, robust SE")


def _relabel(result: ModelResult, method: str) -> ModelResult:
    return replace(result, method=method)
