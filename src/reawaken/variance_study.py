"""Which variance is right for matched sets that share persons: performance of each SE.

A replicate table of a matched analysis (:func:`reawaken.evaluate.run_replicates` with
``matched_or`` or ``matched_cox``) carries, per replicate, the log estimate and three SEs: the
model SE (``se_model``), the person-clustered robust SE (``se_robust``) and the SE used for
inference (``se``: the shared-members SE, or the bootstrap SE of
:func:`reawaken.bootstrap.bootstrap_analysis`). :func:`variance_performance` evaluates each one
with :func:`reawaken.performance.performance` (Morris, White & Crowther, Stat Med 2019, Table 6):

* SE ratio ``ModSE / EmpSE`` (``ModSE = sqrt(mean(se_i^2))``), MCSE by the delta method of
  their Table 6 (relative error in model SE);
* 95% Wald coverage about the truth (when known) and about the mean of the estimates
  (bias-eliminated coverage: what a variance is judged by when the estimator converges to
  something other than the truth, e.g. the non-collapsible matched OR), MCSE
  ``sqrt(p (1 - p) / n)``;
* rejection of ``theta = 0`` (type I error under the null, when the estimator is unbiased).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import AnalysisError
from .performance import performance

__all__ = ["SE_SOURCES", "format_variance_table", "variance_performance"]

#: Replicate-table column holding each variance's SE (``se`` holds the table's ``variance``).
SE_SOURCES: dict[str, str] = {"model": "se_model", "robust": "se_robust"}
RESULT_COLUMNS = (
    "variance",
    "n_reps",
    "n_failed",
    "mean_log_estimate",
    "empirical_se",
    "mean_se",
    "se_ratio",
    "se_ratio_mcse",
    "coverage",
    "coverage_mcse",
    "bias_eliminated_coverage",
    "bias_eliminated_coverage_mcse",
    "rejection_rate",
    "rejection_rate_mcse",
)


def variance_performance(
    table: object, *, true_log_effect: float = float("nan"), level: float = 0.95
) -> pd.DataFrame:
    """Performance of the model, person-robust and inference SEs of a replicate table.

    Parameters
    ----------
    table : ReplicateTable or pandas.DataFrame
        Replicates with ``log_estimate, se, se_model, se_robust, variance`` (and ``error``).
    true_log_effect : float
        The truth; NaN leaves ``coverage`` NaN (bias-eliminated coverage is always given).
    level : float
        Confidence level of the Wald intervals.

    Returns
    -------
    pandas.DataFrame
        One row per variance with :data:`RESULT_COLUMNS` (module docstring for the measures).
    """
    df = table if isinstance(table, pd.DataFrame) else table.data
    needed = {"log_estimate", "se", "se_model", "se_robust", "variance"}
    if not needed <= set(df.columns):
        raise AnalysisError(
            f"variance_performance: the table lacks {sorted(needed - set(df.columns))}; fix: "
            "use a replicate table of reawaken.evaluate.run_replicates (format v2)"
        )
    ok = df["variance"].dropna()
    own = str(ok.iloc[0]) if len(ok) else "inference"
    sources = {**SE_SOURCES, own: "se"} if own not in SE_SOURCES else dict(SE_SOURCES)
    rows = []
    for name, column in sources.items():
        if df[column].isna().all():
            continue
        perf = performance(
            df, true_log_effect=true_log_effect, level=level, se_column=column
        )
        est, mc = perf.estimate, perf.mcse
        rows.append(
            {
                "variance": name,
                "n_reps": perf.n_reps,
                "n_failed": perf.n_failed,
                "mean_log_estimate": est("mean_log_estimate"),
                "empirical_se": est("empirical_se"),
                "mean_se": est("model_se"),
                "se_ratio": perf.se_ratio[0],
                "se_ratio_mcse": perf.se_ratio[1],
                "coverage": est("coverage"),
                "coverage_mcse": mc("coverage"),
                "bias_eliminated_coverage": est("bias_eliminated_coverage"),
                "bias_eliminated_coverage_mcse": mc("bias_eliminated_coverage"),
                "rejection_rate": est("rejection_rate"),
                "rejection_rate_mcse": mc("rejection_rate"),
            }
        )
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def format_variance_table(results: pd.DataFrame) -> str:
    """Markdown table: one row per (cell, variance), each measure with its MCSE."""
    head = (
        "| cell | variance | reps (failed) | mean log est. | emp. SD | RMS SE | SE/SD | "
        "coverage vs truth | coverage vs mean | rejects 0 |\n" + "|---" * 10 + "|"
    )
    lines = [head]
    for r in results.itertuples(index=False):
        cov = "n/a" if np.isnan(r.coverage) else f"{r.coverage:.3f} ({r.coverage_mcse:.3f})"
        lines.append(
            f"| {getattr(r, 'cell', '')} | {r.variance} | {r.n_reps} ({r.n_failed}) | "
            f"{r.mean_log_estimate:.3f} | {r.empirical_se:.3f} | {r.mean_se:.3f} | "
            f"{r.se_ratio:.3f} ({r.se_ratio_mcse:.3f}) | {cov} | "
            f"{r.bias_eliminated_coverage:.3f} ({r.bias_eliminated_coverage_mcse:.3f}) | "
            f"{r.rejection_rate:.3f} ({r.rejection_rate_mcse:.3f}) |"
        )
    return "\n".join(lines)
