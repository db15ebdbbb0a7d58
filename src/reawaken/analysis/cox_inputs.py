"""The checked inputs of a Cox fit (:func:`reawaken.analysis.cox.fit_cox`): the arrays the
engine takes (:func:`reawaken.engine.coxph.fit_coxph`), each problem with the data an
:class:`~reawaken.errors.AnalysisError` naming the column, the rows and the fix, and the
engine's failures in the model's words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine.coxph import ConvergenceError, CoxEngineFit, fit_coxph
from ..errors import AnalysisError
from ..inputs import (
    check_durations,
    check_start_stop,
    event_indicator,
    numeric_column,
    require_columns,
    require_frame,
)
from .formula import DesignMatrix, design_matrix

#: The entry point named in every message.
WHERE = "fit_cox"


def _codes_text(codes: np.ndarray) -> str:
    """The distinct codes as plain numbers, e.g. ``0, 1, 2`` (not numpy reprs)."""
    return ", ".join(f"{c:g}" for c in np.unique(codes))


def _event_indicator(data: pd.DataFrame, event: str, cause: int | None) -> np.ndarray:
    codes = numeric_column(data, event, WHERE)
    if cause is None and np.any((codes != 0.0) & (codes != 1.0)):  # no sort unless it is wrong
        raise AnalysisError(
            f"{WHERE}: column {event!r} holds codes {_codes_text(codes)}; fix: pass "
            "cause=1 (or another code) to model that cause, others being censored"
        )
    return event_indicator(codes, event, WHERE, cause=cause)


def _covariate_matrix(data: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    if len(covariates) == 0:
        raise AnalysisError(f"{WHERE}: give at least one covariate")
    x = np.column_stack([numeric_column(data, c, WHERE) for c in covariates])
    constant = [c for c, col in zip(covariates, x.T, strict=True) if np.ptp(col) == 0]
    if constant:
        raise AnalysisError(
            f"{WHERE}: covariate(s) {', '.join(map(repr, constant))} take a single value (e.g. "
            "one arm is empty); a Cox model cannot estimate their effect"
        )
    return x


def _model_columns(
    data: pd.DataFrame, covariates: Sequence[str] | None, formula: str | None
) -> tuple[list[str], np.ndarray, DesignMatrix | None]:
    """Term names, design matrix and (with a formula) its :class:`DesignMatrix`."""
    if (covariates is None) == (formula is None):
        raise AnalysisError(
            f"{WHERE}: give either covariates= (numeric columns) or formula= (e.g. "
            "'exposed + age + C(stage)'), not both or neither"
        )
    if formula is not None:
        design = design_matrix(data, formula, WHERE)
        return design.terms, design.frame.to_numpy(), design
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    require_columns(data, covariates, WHERE)
    return covariates, _covariate_matrix(data, covariates), None


def _not_converged(exc: ConvergenceError, terms: Sequence[str]) -> AnalysisError:
    """The engine's failure in the model's words: the design columns it names
    (``exc.variables``, 0-based) become the covariate terms they hold."""
    message = str(exc)
    if exc.variables:
        columns = ", ".join(str(v) for v in exc.variables)
        names = ", ".join(repr(terms[v]) for v in exc.variables)
        message = message.replace(f"x column(s) {columns} (0-based)", f"covariate(s) {names}")
    return AnalysisError(f"{WHERE}: the model did not converge: {message}")


def _times(
    data: pd.DataFrame, duration: str | None, start: str | None, stop: str | None
) -> tuple[np.ndarray | None, np.ndarray]:
    if (duration is None) == (stop is None):
        raise AnalysisError(f"{WHERE}: give either duration= (time-fixed) or stop= (with start=)")
    if duration is not None and start is not None:
        raise AnalysisError(f"{WHERE}: start= goes with stop=, not with duration=")
    if duration is not None:
        return None, check_durations(data, duration, WHERE)
    if start is not None:
        return check_start_stop(data, start, stop, WHERE)
    return None, check_durations(data, stop, WHERE)


def _weights_and_strata(
    data: pd.DataFrame, weights: str | None, strata: str | None
) -> tuple[np.ndarray | None, np.ndarray | None]:
    w = None
    if weights is not None:
        w = numeric_column(data, weights, WHERE)
        if np.any(w <= 0):
            raise AnalysisError(f"{WHERE}: weights in {weights!r} must be > 0")
    s = None
    if strata is not None:
        if data[strata].isna().any():
            raise AnalysisError(f"{WHERE}: strata column {strata!r} has missing values")
        s = pd.factorize(data[strata], sort=True)[0]
    return w, s


@dataclass(frozen=True)
class CoxInputs:
    """The checked arrays of a Cox fit: term names, design matrix ``x`` (rows of ``data``),
    times, 0/1 event indicator, weights and stratum codes, and the formula's design."""

    terms: list[str]
    x: np.ndarray
    design: DesignMatrix | None
    start: np.ndarray | None
    stop: np.ndarray
    event: np.ndarray
    weights: np.ndarray | None
    strata: np.ndarray | None


def cox_inputs(
    data: pd.DataFrame,
    columns: dict[str, str | None],
    ties: str,
    cause: int | None,
    *,
    covariates: Sequence[str] | None,
    formula: str | None,
) -> CoxInputs:
    """Every check of :func:`~reawaken.analysis.cox.fit_cox`, in its order, on the named
    ``columns`` (keys ``duration, start, stop, event, strata, cluster, weights``)."""
    require_frame(data, WHERE)
    require_columns(data, columns.values(), WHERE)
    if ties not in ("efron", "breslow"):
        raise AnalysisError(f"{WHERE}: ties must be 'efron' or 'breslow', got {ties!r}")
    terms, x, design = _model_columns(data, covariates, formula)
    t0, t1 = _times(data, columns["duration"], columns["start"], columns["stop"])
    d = _event_indicator(data, columns["event"], cause)
    w, s = _weights_and_strata(data, columns["weights"], columns["strata"])
    return CoxInputs(terms, x, design, t0, t1, d, w, s)


def engine_fit(inputs: CoxInputs, ties: str) -> CoxEngineFit:
    """The engine's fit of checked inputs; its failure in the model's words."""
    try:
        return fit_coxph(
            inputs.start,
            inputs.stop,
            inputs.event,
            inputs.x,
            weights=inputs.weights,
            strata=inputs.strata,
            ties=ties,
        )
    except ConvergenceError as exc:
        raise _not_converged(exc, inputs.terms) from exc
