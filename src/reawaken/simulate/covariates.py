"""Baseline covariates: draws from a scenario's specs and log-linear predictors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..scenario import CovariateSpec


def draw_covariates(
    specs: Sequence[CovariateSpec], n: int, rng: np.random.Generator
) -> pd.DataFrame:
    """Draw ``n`` persons' covariates, one column per spec, in spec order.

    ``normal`` columns are float (clipped to ``[lower, upper]``); ``binary`` columns are 0/1 and
    ``categorical`` columns hold the integer level codes, both as int64.
    """
    columns: dict[str, np.ndarray] = {}
    for spec in specs:
        if spec.kind == "normal":
            x = np.clip(rng.normal(spec.mean, spec.sd, n), spec.lower, spec.upper)
        elif spec.kind == "binary":
            x = (rng.random(n) < spec.p).astype(np.int64)
        else:
            x = rng.choice(np.asarray(spec.levels, dtype=np.int64), size=n, p=spec.probs)
        columns[spec.name] = x
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


def linear_predictor(
    covariates: pd.DataFrame,
    specs: Sequence[CovariateSpec],
    log_hr: Mapping[str, float | tuple[float, ...]],
) -> np.ndarray:
    """``x'beta`` per person: ``beta*(x - center)`` for normal, ``beta*x`` for binary, and the
    level's own coefficient for categorical covariates; covariates without a coefficient add 0."""
    lp = np.zeros(len(covariates))
    for spec in specs:
        if spec.name not in log_hr:
            continue
        beta = log_hr[spec.name]
        x = covariates[spec.name].to_numpy()
        if spec.kind == "categorical":
            coef = np.asarray(beta, dtype=float)
            lp += coef[np.searchsorted(np.asarray(spec.levels), x)]
        elif spec.kind == "normal":
            lp += float(beta) * (x - spec.center)
        else:
            lp += float(beta) * x
    return lp
