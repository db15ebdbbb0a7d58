"""The bias battery: each mechanism at a few strengths, through the study's own analysis.

For a finding's preset, a *clean* version of the scenario is built first (every infection
documented, a constant true hazard ratio, a negative-control outcome that shares the
covariates but is not caused by infection). Each mechanism of :data:`MECHANISMS` is then
switched on at increasing strengths (strength 0 = off), and ``reps`` seeded replicates are
analysed with the study's design. Two truths are run:

* the reported effect (true HR = the reported estimate): bias, coverage and rejection rate with
  Monte Carlo SEs (Morris, White & Crowther 2019) show what each bias does to the estimate;
* the null (true HR = 1): the **tipping point** is the strength at which the mean log estimate
  reaches the reported log estimate (linear interpolation between strengths), i.e. how strong
  the bias must be to produce the finding with no true effect. The negative-control estimate
  under the null flags mechanisms that also bias an outcome infection cannot cause.

For the OR designs the true HR is used as the reference value; with a rare outcome and short
windows the OR and HR nearly coincide, which the strength-0 rows let the reader check.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .. import schema
from ..analysis.study import study_analysis, time_varying_cox_hr
from ..errors import AnalysisError
from ..estimate import Estimate
from ..evaluate import _mp_context, main_module_hidden, run_replicates
from ..findings import ReportedFinding
from ..performance import performance
from ..scenario import BiasSpec, CovariateSpec, HazardModel, NegativeControlSpec, Scenario
from ..simulate.biases import credit_immortal_time
from ..simulate.effects import EffectProfile

#: Mechanism → strengths (the first is always "off") and what the strength means.
MECHANISMS: dict[str, tuple[tuple[float, ...], str]] = {
    "immortal_time": ((0.0, 0.25, 0.5, 1.0), "share of pre-exposure time credited to exposure"),
    "misclassification": ((0.0, 0.3, 0.5, 0.7), "share of infections not documented"),
    "unmeasured_confounding": (
        (0.0, 0.4, 0.8, 1.2),
        "log-HR of a latent frailty (30%) on infection and outcome",
    ),
    "detection": (
        (0.0, 60.0, 180.0, 365.0),
        "lead time (days) found by imaging after 50% of documented infections",
    ),
    "test_negative_selection": (
        (0.0, 0.5, 1.0, 1.5),
        "log-HR of a latent frailty on testing and on the outcome",
    ),
    "death_misattribution": (
        (0.0, 0.1, 0.25, 0.5),
        "share of post-infection competing deaths recorded as the outcome",
    ),
    "informative_censoring": ((1.0, 2.0, 4.0, 8.0), "loss-to-follow-up HR after infection"),
    "effect_shape": (
        (0.0, 0.5, 0.75, 1.0),
        "share of the true effect that is transient (first 90 days only)",
    ),
}
FRAILTY = "frailty"


class _ImmortalTimeAnalysis:
    """The study analysis on exposure dates moved back by ``share`` (picklable)."""

    def __init__(self, analysis: Callable[..., Estimate], share: float):
        self.analysis = analysis
        self.share = share

    def __call__(self, cohort: pd.DataFrame, scenario: Scenario, rng=None) -> Estimate:
        return self.analysis(credit_immortal_time(cohort, self.share), scenario, rng)


def negative_control_hr(cohort: pd.DataFrame, scenario: Scenario, rng=None) -> Estimate:
    """Time-varying Cox HR of documented exposure on the negative-control outcome."""
    nc_day, nc_event = schema.NEGATIVE_CONTROL_COLUMNS
    if nc_day not in cohort:
        raise AnalysisError("the cohort has no negative-control outcome columns")
    data = cohort.assign(**{schema.EVENT_DAY: cohort[nc_day], schema.EVENT: cohort[nc_event]})
    late = data[schema.EXPOSURE_DAY] >= data[schema.EVENT_DAY]
    data.loc[late, schema.EXPOSURE_DAY] = np.nan
    if schema.TEST_DAY in data:
        data.loc[data[schema.TEST_DAY] >= data[schema.EVENT_DAY], schema.TEST_DAY] = np.nan
    return time_varying_cox_hr(data, scenario, rng)


def clean_scenario(scenario: Scenario, true_hr: float) -> Scenario:
    """The preset without built-in biases: all infections documented, constant ``true_hr``,
    a latent (inactive) frailty and a negative-control outcome sharing the covariates."""
    frailty = CovariateSpec(FRAILTY, "binary", p=0.3, observed=False)
    nc = NegativeControlSpec(
        HazardModel(scenario.outcome.baseline, dict(scenario.outcome.log_hr)),
        "negative-control outcome",
    )
    return replace(
        scenario,
        covariates=(*scenario.covariates, frailty),
        effect=EffectProfile.constant(true_hr),
        infection=replace(scenario.infection, documented_probability=1.0),
        biases=BiasSpec(),
        negative_control=nc,
    )


def _with_log_hr(model, name: str, value: float):
    return replace(model, log_hr={**dict(model.log_hr), name: value})


def apply_mechanism(
    scenario: Scenario, mechanism: str, strength: float, analysis: Callable[..., Estimate]
) -> tuple[Scenario, Callable[..., Estimate]]:
    """Scenario and analysis with ``mechanism`` switched on at ``strength``."""
    if mechanism not in MECHANISMS:
        raise AnalysisError(f"unknown mechanism {mechanism!r}; choose from {', '.join(MECHANISMS)}")
    sc = scenario
    if mechanism == "immortal_time":
        return sc, _ImmortalTimeAnalysis(analysis, strength)
    if mechanism == "misclassification":
        sc = replace(sc, infection=replace(sc.infection, documented_probability=1 - strength))
    elif mechanism == "unmeasured_confounding":
        sc = replace(
            sc,
            infection=_with_log_hr(sc.infection, FRAILTY, strength),
            outcome=_with_log_hr(sc.outcome, FRAILTY, strength),
        )
        if sc.negative_control is not None:
            sc = replace(
                sc,
                negative_control=replace(
                    sc.negative_control,
                    model=_with_log_hr(sc.negative_control.model, FRAILTY, strength),
                ),
            )
    elif mechanism == "detection":
        sc = replace(
            sc, biases=replace(sc.biases, detection_probability=0.5, detection_lead_days=strength)
        )
    elif mechanism == "test_negative_selection":
        if sc.testing is None:
            raise AnalysisError("test-negative selection needs a scenario with testing")
        sc = replace(
            sc,
            testing=_with_log_hr(sc.testing, FRAILTY, strength),
            outcome=_with_log_hr(sc.outcome, FRAILTY, strength),
        )
    elif mechanism == "death_misattribution":
        sc = replace(sc, biases=replace(sc.biases, death_to_outcome=strength))
    elif mechanism == "informative_censoring":
        sc = replace(sc, biases=replace(sc.biases, loss_hr_after_infection=strength))
    elif mechanism == "effect_shape":
        # Same early HR, but only (1 - strength) of its log effect is sustained after 90 days:
        # a single HR averages the two, more so the longer the follow-up.
        hr = sc.effect.hazard_ratios[0]
        sc = replace(sc, effect=EffectProfile((0.0, 90.0), (hr, hr ** (1.0 - strength))))
    return sc, analysis


@dataclass(frozen=True, eq=False)
class StressResult:
    """Battery results: one row per mechanism × strength × truth, and the tipping points."""

    table: pd.DataFrame
    tipping_points: pd.DataFrame
    finding: str
    reported: float

    def summary(self) -> str:
        lines = [f"stress battery for {self.finding} (reported {self.reported:.2f}):"]
        for r in self.tipping_points.itertuples():
            where = (
                f"strength {r.tipping_point:.3g}"
                if np.isfinite(r.tipping_point)
                else f"not reached up to {r.max_strength:g}"
            )
            lines.append(f"  {r.mechanism:<24} null → reported at {where} ({r.meaning})")
        return "\n".join(lines)


def _row(mechanism, strength, truth, table, nc_table) -> dict:
    perf = performance(table, true_log_effect=np.log(truth)).table.set_index("measure")
    row = {"mechanism": mechanism, "strength": strength, "true_effect": truth}
    for m in ("mean_log_estimate", "bias", "coverage", "rejection_rate"):
        row[m] = perf.loc[m, "estimate"]
        row[f"{m}_mcse"] = perf.loc[m, "mcse"]
    row["mean_estimate"] = float(np.exp(row["mean_log_estimate"]))
    row["failed"] = int(table.data["log_estimate"].isna().sum())
    if nc_table is not None:
        nc = nc_table.data["log_estimate"]
        row["negative_control_estimate"] = float(np.exp(nc.mean()))
        row["negative_control_mcse"] = float(nc.std(ddof=1) / np.sqrt(nc.notna().sum()))
    return row


def _run_cell(cell: tuple, opts: dict) -> dict:
    """Replicates of one mechanism × strength × truth (and the negative control at the null)."""
    mech, strength, truth, sc, an = cell
    opts = {"executor": "serial", **opts}
    table = run_replicates(sc, an, true_effect=truth, **opts)
    nc = None
    if truth == 1.0:
        nc = run_replicates(sc, negative_control_hr, true_effect=1.0, **opts)
    return _row(mech, strength, truth, table, nc)


def _tipping(rows: pd.DataFrame, target_log: float) -> float:
    x, y = rows["strength"].to_numpy(), rows["mean_log_estimate"].to_numpy()
    for i in range(1, len(x)):
        lo, hi = y[i - 1] - target_log, y[i] - target_log
        if lo == 0:
            return float(x[i - 1])
        if lo * hi <= 0 and hi != lo:
            return float(x[i - 1] + (x[i] - x[i - 1]) * lo / (lo - hi))
    return float("nan")


def run_battery(
    scenario: Scenario,
    finding: ReportedFinding,
    *,
    reps: int,
    seed: int,
    mechanisms: Sequence[str] | None = None,
    strengths: dict[str, Sequence[float]] | None = None,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    n: int | None = None,
    progress: bool = False,
) -> StressResult:
    """Run the battery (see module docstring) and find each mechanism's tipping point."""
    names = list(mechanisms or MECHANISMS)
    if scenario.testing is None and "test_negative_selection" in names:
        names.remove("test_negative_selection")
    unknown = [m for m in names if m not in MECHANISMS]
    if unknown:
        raise AnalysisError(f"unknown mechanism(s) {unknown}; choose from {', '.join(MECHANISMS)}")
    analysis = study_analysis(scenario)
    cells = []
    for mech in names:
        grid = list((strengths or {}).get(mech, MECHANISMS[mech][0]))
        for truth in (finding.estimate, 1.0):
            base = clean_scenario(scenario, truth)
            for s in grid:
                sc, an = apply_mechanism(base, mech, s, analysis)
                cells.append((mech, s, truth, sc, an))
    opts = {"reps": reps, "seed": seed, "n": n}
    if executor == "processes":
        # One pool for the whole battery (cells run serially inside workers): identical results
        # to the serial executor, without a pool start-up per cell.
        with (
            main_module_hidden(scenario, analysis),
            ProcessPoolExecutor(workers or os.cpu_count(), mp_context=_mp_context()) as pool,
        ):
            rows = list(pool.map(_run_cell, cells, [opts] * len(cells)))
    else:
        cell_opts = {
            **opts,
            "executor": executor,
            "workers": workers,
            "scheduler": scheduler,
            "progress": progress,
        }
        rows = [_run_cell(cell, cell_opts) for cell in cells]
    tips = []
    for mech in names:
        null_rows = pd.DataFrame(
            [r for r in rows if r["mechanism"] == mech and r["true_effect"] == 1.0]
        )
        tips.append(
            {
                "mechanism": mech,
                "meaning": MECHANISMS[mech][1],
                "tipping_point": _tipping(null_rows, np.log(finding.estimate)),
                "max_strength": float(null_rows["strength"].max()),
            }
        )
    return StressResult(pd.DataFrame(rows), pd.DataFrame(tips), finding.name, finding.estimate)
