"""Baseline covariates: draws from a scenario's specs and log-linear predictors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ScenarioError
from ..scenario import CovariateSpec

#: Largest |x'beta| accepted: a hazard ratio of e^50 (5e21) between two persons only arises
#: from a coefficient on the wrong scale (e.g. per day instead of per year of age).
MAX_ABS_LINEAR_PREDICTOR = 50.0


def draw_covariates(
    specs: Sequence[CovariateSpec], n: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Draw ``n`` persons' covariates, one column per spec, in spec order.

    ``normal`` columns are float (clipped to ``[lower, upper]``); ``binary`` columns are 0/1 and
    ``categorical`` columns hold the integer level codes, both as int64.
    """
    return pd.DataFrame(draw_covariate_arrays(specs, n, rng), index=pd.RangeIndex(n))


def draw_covariate_arrays(
    specs: Sequence[CovariateSpec], n: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """:func:`draw_covariates` as a dict of arrays (the same draws), for the simulator."""
    columns: dict[str, np.ndarray] = {}
    for spec in specs:
        if spec.kind == "normal":
            x = np.clip(rng.normal(spec.mean, spec.sd, n), spec.lower, spec.upper)
        elif spec.kind == "binary":
            x = (rng.random(n) < spec.p).astype(np.int64)
        else:
            x = rng.choice(np.asarray(spec.levels, dtype=np.int64), size=n, p=spec.probs)
        columns[spec.name] = x
    return columns


def linear_predictor(
    covariates: pd.DataFrame | Mapping[str, np.ndarray],
    specs: Sequence[CovariateSpec],
    log_hr: Mapping[str, float | tuple[float, ...]],
) -> np.ndarray:
    """``x'beta`` per person: ``beta*(x - center)`` for normal, ``beta*x`` for binary, and the
    level's own coefficient for categorical covariates; covariates without a coefficient add 0.
    ``covariates`` is a table or a dict of equal-length arrays, one per spec."""
    lp = np.zeros(_rows(covariates, specs))
    for spec in specs:
        if spec.name not in log_hr:
            continue
        beta = log_hr[spec.name]
        x = np.asarray(covariates[spec.name])
        if spec.kind == "categorical":
            coef = np.asarray(beta, dtype=float)
            lp += coef[np.searchsorted(np.asarray(spec.levels), x)]
        elif spec.kind == "normal":
            lp += float(beta) * (x - spec.center)
        else:
            lp += float(beta) * x
    return lp


def _rows(covariates: pd.DataFrame | Mapping[str, np.ndarray], specs) -> int:
    """Persons in a table, or in a dict of arrays (give a table when there are no columns)."""
    if isinstance(covariates, pd.DataFrame) or not specs:
        return len(covariates)
    return len(covariates[specs[0].name])


def risk_multiplier(
    covariates: pd.DataFrame | Mapping[str, np.ndarray],
    specs: Sequence[CovariateSpec],
    log_hr: Mapping[str, float | tuple[float, ...]],
    what: str,
) -> np.ndarray:
    """``exp(x'beta)`` per person, refusing a linear predictor beyond
    :data:`MAX_ABS_LINEAR_PREDICTOR` (``exp`` would overflow, or every event would be
    certain or impossible); ``what`` names the scenario key in the message."""
    lp = linear_predictor(covariates, specs, log_hr)
    worst = float(np.max(np.abs(lp))) if lp.size else 0.0
    if not worst <= MAX_ABS_LINEAR_PREDICTOR:
        raise ScenarioError(
            f"scenario key '{what}' gives |x'beta| up to {worst:.3g} (a hazard ratio of "
            f"e^{worst:.3g} between persons); fix: log hazard ratios are per unit of the "
            "covariate, measured from its center (e.g. age = 0.04 per year), so keep "
            f"|x'beta| <= {MAX_ABS_LINEAR_PREDICTOR:g}"
        )
    return np.exp(lp)
