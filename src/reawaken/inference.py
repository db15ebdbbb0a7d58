"""Is the inference of a study analysis honest? SE ratio, coverage, size and power, side by side.

For one scenario and its study analysis, two replicate tables (:func:`reawaken.evaluate.
run_replicates`): one under the scenario's effect, one under its null version
(:func:`reawaken.truth.null_scenario`). For every variance a replicate table carries (the
default ``se`` — shared-members for matched designs — and the model-based ``se_model``), each
with its Monte Carlo SE (Morris, White & Crowther, Stat Med 2019, Table 6):

* **SE ratio**: root-mean-square SE / empirical SD of the log estimates (1 when the SE is right);
* **coverage** of the 95% Wald CI of the analysis' *defined truth* (:mod:`reawaken.truth`: the
  value the analysis converges to in that scenario, never the HR of a design that estimates an
  OR);
* **rejection rate under the null** (the size of the Wald test of ratio = 1);
* **power** at the scenario's effect: rejections over *all* replicates, a failed replicate
  counting as a non-rejection.

Beside them, the power that the reported CI implies (Gelman & Carlin 2014 design analysis),
which assumes the reported SE is the true sampling SD, and the type M exaggeration computed
with the reported SE and with the empirical SD of the replicates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .checks import checked
from .findings import ReportedFinding
from .performance import performance
from .power.design_analysis import design_analysis
from .truth import Truth

__all__ = ["InferenceCheck", "VarianceCheck", "check_inference"]

ALPHA = 0.05


@dataclass(frozen=True)
class VarianceCheck:
    """Performance of one SE column: ratio, coverage, null rejection and power, with MCSEs."""

    column: str
    label: str
    se_ratio: float
    se_ratio_mcse: float
    coverage: float
    coverage_mcse: float
    null_rejection: float
    null_rejection_mcse: float
    power: float
    power_mcse: float


@dataclass(frozen=True)
class InferenceCheck:
    """Honesty of one analysis' inference in a scenario (see the module docstring)."""

    analysis: str
    measure: str
    reps: int
    failed: int
    null_failed: int
    truth: Truth | None
    null_truth: Truth | None
    variances: tuple[VarianceCheck, ...]
    implied_power: float
    type_m_reported_se: float
    type_m_empirical_sd: float
    empirical_sd: float

    @property
    def null_bias(self) -> float:
        """Log-scale limit of the analysis when nothing happens (0 if null-preserving)."""
        return math.nan if self.null_truth is None else self.null_truth.log_truth

    def summary(self) -> str:
        lines = [f"{self.analysis} ({self.measure}): {self.reps} replicates, {self.failed} failed"]
        for v in self.variances:
            lines.append(
                f"  {v.label}: SE ratio {v.se_ratio:.2f} ({v.se_ratio_mcse:.2f}), coverage "
                f"{v.coverage:.3f} ({v.coverage_mcse:.3f}), null rejection "
                f"{v.null_rejection:.3f} ({v.null_rejection_mcse:.3f}), power {v.power:.3f}"
            )
        return "\n".join(lines)


def _power(table: pd.DataFrame, column: str) -> tuple[float, float]:
    """Rejections of ratio = 1 at :data:`ALPHA` over all replicates (failed = not rejected)."""
    est = table["log_estimate"].to_numpy(float)
    se = table[column].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(est) / se
    hits = np.isfinite(z) & (z > 1.959963984540054)
    if "error" in table:
        hits &= table["error"].isna().to_numpy()
    p = float(hits.mean())
    return p, math.sqrt(p * (1 - p) / len(table))


def _variance_check(
    column: str, label: str, table: pd.DataFrame, null_table: pd.DataFrame, truth, null_truth
) -> VarianceCheck:
    nan = math.nan
    effect = performance(
        table,
        true_log_effect=truth.log_truth if truth else nan,
        true_log_effect_mcse=truth.mcse if truth else 0.0,
        se_column=column,
        alpha=ALPHA,
    )
    null = performance(null_table, true_log_effect=0.0, se_column=column, alpha=ALPHA)
    power, power_mcse = _power(table, column)
    return VarianceCheck(
        column=column,
        label=label,
        se_ratio=effect.se_ratio[0],
        se_ratio_mcse=effect.se_ratio[1],
        coverage=effect.estimate("coverage"),
        coverage_mcse=effect.mcse("coverage"),
        null_rejection=null.estimate("rejection_rate"),
        null_rejection_mcse=null.mcse("rejection_rate"),
        power=power,
        power_mcse=power_mcse,
    )


def _labels(table: pd.DataFrame) -> list[tuple[str, str]]:
    ok = table["error"].isna()
    kind = "/".join(sorted(set(table.loc[ok, "variance"].dropna()))) or "model"
    out = [("se", f"{kind} SE")]
    model = table.loc[ok, "se_model"].to_numpy(float)
    if kind != "model" and np.isfinite(model).sum() >= 2:
        out.append(("se_model", "model SE"))
    return out


@checked(skip=("table",))
def check_inference(
    table: pd.DataFrame,
    null_table: pd.DataFrame,
    *,
    analysis: str,
    measure: str,
    finding: ReportedFinding,
    truth: Truth | None,
    null_truth: Truth | None,
) -> InferenceCheck:
    """SE ratio, coverage, null rejection and power of every SE column, with the design
    analysis of the reported CI (see the module docstring).

    ``table`` and ``null_table`` are replicate tables (``data`` of
    :class:`~reawaken.evaluate.ReplicateTable`) under the scenario and its null version;
    ``truth``/``null_truth`` the stored defined truths (coverage is NaN without one).

    Examples
    --------
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets")
    >>> table = rw.run_replicates(scenario, reps=3, seed=1, executor="serial", n=3000)
    >>> null = rw.run_replicates(rw.null_scenario(scenario), reps=3, seed=2, executor="serial",
    ...                          n=3000)
    >>> check = rw.check_inference(table.data, null.data, analysis="time_varying_cox",
    ...                            measure="HR", finding=rw.load_finding("flatiron_lung_mets"),
    ...                            truth=None, null_truth=None)
    >>> type(check).__name__
    'InferenceCheck'
    """
    ok = table["error"].isna() & np.isfinite(table["log_estimate"].to_numpy(float))
    empirical_sd = float(table.loc[ok, "log_estimate"].std(ddof=1))
    checks = tuple(
        _variance_check(col, label, table, null_table, truth, null_truth)
        for col, label in _labels(table)
    )
    reported = design_analysis(
        estimate=finding.estimate, ci=(finding.ci_low, finding.ci_high),
        true_effects=[finding.estimate],
    ).table.iloc[0]
    empirical = design_analysis(se=empirical_sd, true_effects=[finding.estimate]).table.iloc[0]
    return InferenceCheck(
        analysis=analysis,
        measure=measure,
        reps=len(table),
        failed=int((~ok).sum()),
        null_failed=int(null_table["error"].notna().sum()),
        truth=truth,
        null_truth=null_truth,
        variances=checks,
        implied_power=float(reported["power"]),
        type_m_reported_se=float(reported["exaggeration"]),
        type_m_empirical_sd=float(empirical["exaggeration"]),
        empirical_sd=empirical_sd,
    )
