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

Bias and coverage are measured against the **defined truth** of the study analysis in the clean
scenario (:func:`reawaken.truth.compute_truth`: the mean log estimate over large clean cohorts,
here ``max(reps, 10)`` cohorts of 4 x n persons, its MCSE carried in ``reference_mcse``), never
against the HR of a design that estimates an OR: the published-style matched OR, for one, does
not converge to the true HR even without bias. A custom analysis (not in
:data:`reawaken.study.analyses.STUDY_ANALYSES`) falls back to the causal log-HR, and its rows
say so (``reference``).

Cells are only as good as their replicates. A replicate *failed* when its analysis raised (e.g.
a monotone likelihood the estimator detected) and is *separated* when it returned an estimate
without information: ``|log estimate| >`` :data:`MAX_ABS_LOG_ESTIMATE` or ``SE(log) >``
:data:`MAX_SE_LOG` (a 95% CI wider than a factor of e^19.6 ~ 3e8, the signature of a monotone
likelihood, Heinze & Schemper, Biometrics 2001). Separated replicates are left out of a cell's
measures; a cell with more than :data:`MAX_FLAGGED_SHARE` of its replicates failed or separated
is flagged (``usable = False``), and a tipping point is only interpolated between usable
strengths: past the first flagged cell it is *undetermined* (``status``), with
``max_strength`` the largest strength that could be judged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import schema
from ..checks import checked
from ..errors import AnalysisError
from ..estimate import Estimate
from ..evaluate import main_module_hidden, run_replicates
from ..findings import ReportedFinding
from ..performance import performance
from ..processes import launching, process_pool
from ..scenario import BiasSpec, CovariateSpec, HazardModel, NegativeControlSpec, Scenario
from ..simulate.biases import credit_immortal_time
from ..simulate.effects import EffectProfile
from ..study.analyses import study_analysis, time_varying_cox_hr

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
#: A replicate whose |log estimate| or SE(log) exceeds these carries no information.
MAX_ABS_LOG_ESTIMATE = 30.0
MAX_SE_LOG = 5.0
#: A cell with more failed or separated replicates than this share is flagged (not usable).
MAX_FLAGGED_SHARE = 0.05


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


@checked
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


@checked
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
            if r.status == "reached":
                where = f"strength {r.tipping_point:.3g}"
            elif r.status == "not reached":
                where = f"not reached up to {r.max_strength:g}"
            else:
                where = f"not reached up to {r.max_strength:g}, undetermined beyond ({r.note})"
            lines.append(f"  {r.mechanism:<24} null → reported at {where} ({r.meaning})")
        return "\n".join(lines)


def separated(data: pd.DataFrame) -> np.ndarray:
    """Replicates with an estimate but no information (see module docstring)."""
    est, se = data["log_estimate"].to_numpy(float), data["se"].to_numpy(float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(est) & ((np.abs(est) > MAX_ABS_LOG_ESTIMATE) | ~(se <= MAX_SE_LOG))


def _quality(data: pd.DataFrame) -> dict:
    """Counts of failed and separated replicates, the cell's usability and the first reason."""
    failed = data["log_estimate"].isna().to_numpy()
    sep = separated(data)
    reps = len(data)
    flagged = int(failed.sum() + sep.sum())
    errors = data["error"].dropna()
    note = str(errors.iloc[0]) if len(errors) else ""
    if sep.any() and not note:
        note = f"{int(sep.sum())} replicate(s) separated (|log estimate| or SE(log) too large)"
    usable = reps > 0 and flagged <= MAX_FLAGGED_SHARE * reps and flagged < reps
    return {
        "reps": reps,
        "failed": int(failed.sum()),
        "separated": int(sep.sum()),
        "usable": bool(usable),
        "note": note[:200],
    }


def _measures(data: pd.DataFrame, reference_log: float) -> dict:
    """Mean log estimate, bias (against ``reference_log``), coverage and rejection rate with
    MCSEs (NaN when fewer than two replicates have an estimate: :func:`_quality` flags it)."""
    names = ("mean_log_estimate", "bias", "coverage", "rejection_rate")
    try:
        perf = performance(data, true_log_effect=reference_log).table.set_index("measure")
    except AnalysisError:
        return {k: np.nan for m in names for k in (m, f"{m}_mcse")}
    out = {}
    for m in names:
        out[m] = perf.loc[m, "estimate"]
        out[f"{m}_mcse"] = perf.loc[m, "mcse"]
    return out


def _row(mechanism, strength, truth, reference, table, nc_table) -> dict:
    quality = _quality(table.data)
    data = table.data.copy()
    data.loc[separated(data), ["log_estimate", "se"]] = np.nan  # out of the measures
    ref_log, ref_mcse, ref_label = reference
    row = {"mechanism": mechanism, "strength": strength, "true_effect": truth}
    row |= {"reference_log_effect": ref_log, "reference_mcse": ref_mcse, "reference": ref_label}
    row.update(_measures(data, ref_log))
    row["mean_estimate"] = float(np.exp(row["mean_log_estimate"]))
    row.update(quality)
    if nc_table is not None:
        nc = nc_table.data["log_estimate"]
        row["negative_control_estimate"] = float(np.exp(nc.mean()))
        row["negative_control_mcse"] = float(nc.std(ddof=1) / np.sqrt(nc.notna().sum()))
    return row


def _run_cell(cell: tuple, opts: dict) -> dict:
    """Replicates of one mechanism × strength × truth (and the negative control at the null)."""
    mech, strength, truth, reference, sc, an = cell
    opts = {"executor": "serial", **opts}
    table = run_replicates(sc, an, true_effect=truth, **opts)
    nc = None
    if truth == 1.0:
        nc = run_replicates(sc, negative_control_hr, true_effect=1.0, **opts)
    return _row(mech, strength, truth, reference, table, nc)


def _usable_prefix(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows (in strength order) before the first flagged cell."""
    rows = rows.sort_values("strength", kind="stable")
    if "usable" not in rows:
        return rows
    ok = rows["usable"].to_numpy(bool) & np.isfinite(rows["mean_log_estimate"].to_numpy(float))
    stop = int(np.argmin(ok)) if not ok.all() else len(rows)
    return rows.iloc[:stop]


def _tipping(rows: pd.DataFrame, target_log: float) -> float:
    """Strength at which the mean log estimate reaches ``target_log``, linearly interpolated
    between neighbouring usable strengths (NaN if not reached before a flagged cell)."""
    rows = _usable_prefix(rows)
    x, y = rows["strength"].to_numpy(), rows["mean_log_estimate"].to_numpy()
    for i in range(1, len(x)):
        lo, hi = y[i - 1] - target_log, y[i] - target_log
        if lo == 0:
            return float(x[i - 1])
        if lo * hi <= 0 and hi != lo:
            return float(x[i - 1] + (x[i] - x[i - 1]) * lo / (lo - hi))
    return float("nan")


def _mechanism_names(scenario: Scenario, mechanisms: Sequence[str] | None) -> list[str]:
    """The mechanisms to run: all (test-negative selection only with testing) or those named."""
    if mechanisms is None:
        return [m for m in MECHANISMS if m != "test_negative_selection" or scenario.testing]
    names = list(mechanisms)
    unknown = [m for m in names if m not in MECHANISMS]
    if unknown or not names:
        raise AnalysisError(
            f"unknown mechanism(s) {', '.join(map(str, unknown)) or '(none given)'}; fix: "
            f"choose from {', '.join(MECHANISMS)}"
        )
    if scenario.testing is None and "test_negative_selection" in names:
        raise AnalysisError(
            f"test_negative_selection needs a scenario with a [testing] table and "
            f"{scenario.name} has none; fix: leave it out of the mechanisms, or stress a "
            "test-negative scenario such as ukb_cancer_mortality"
        )
    return names


def _tipping_row(mech: str, rows: list[dict], target_log: float) -> dict:
    """Tipping point of one mechanism under the null, with how far it could be judged."""
    null = pd.DataFrame([r for r in rows if r["mechanism"] == mech and r["true_effect"] == 1.0])
    null = null.sort_values("strength", kind="stable")
    judged = _usable_prefix(null)
    tip = _tipping(null, target_log)
    flagged = null.iloc[len(judged) :]
    if np.isfinite(tip):
        status, note = "reached", ""
    elif flagged.empty:
        status, note = "not reached", ""
    else:
        first = flagged.iloc[0]
        status = "undetermined"
        note = (
            f"strength {first['strength']:g}: {first['failed'] + first['separated']} of "
            f"{first['reps']} replicates failed or separated: {first['note'][:120]}"
        )
    return {
        "mechanism": mech,
        "meaning": MECHANISMS[mech][1],
        "tipping_point": tip,
        "max_strength": float(judged["strength"].max()) if len(judged) else float("nan"),
        "status": status,
        "note": note,
    }


def _run_cells(cells: list[tuple], opts: dict, executor: str, workers, scheduler, progress, hide):
    """Rows of every cell, in cell order, with a labelled progress bar over cells."""
    bar = tqdm(
        total=len(cells),
        desc=f"stress battery ({hide[0].name})",
        unit="cell",
        disable=None if progress else True,
    )
    with bar:
        if executor == "processes":
            # One pool for the whole battery (cells run serially inside workers): identical
            # results to the serial executor, without a pool start-up per cell.
            with process_pool(workers) as pool:
                with main_module_hidden(*hide), launching():
                    futures = [pool.submit(_run_cell, cell, opts) for cell in cells]
                for future in as_completed(futures):
                    future.result()
                    bar.update()
                return [f.result() for f in futures]
        cell_opts = {**opts, "executor": executor, "workers": workers, "scheduler": scheduler}
        rows = []
        for cell in cells:
            rows.append(_run_cell(cell, cell_opts))
            bar.update()
        return rows


@checked
def _reference(
    clean: Scenario, analysis: Callable[..., Estimate], reps: int, n: int | None, seed: int,
    executor: str, progress: bool = False,
) -> tuple[float, float, str]:
    """``(log truth, MCSE, label)`` of the study analysis in a clean scenario (module
    docstring); the causal log-HR for an analysis that is not a registered study analysis.
    ``progress``: a bar labelled "stress battery reference, true HR ..." over its cohorts."""
    from ..truth import analysis_name, compute_truth

    name = analysis_name(analysis)
    causal = float(np.log(clean.effect.hazard_ratios[0]))
    if name is None:
        return causal, 0.0, "causal log-HR (custom analysis: no defined truth)"
    sized = clean if n is None else clean.with_n(n)
    # The bar is labelled with the scenario's name; the truth's fingerprint ignores names.
    label = f"stress battery reference, true HR {np.exp(causal):g}"
    truth = compute_truth(
        replace(sized, name=label), name, cohorts=max(reps, 10), multiplier=4, seed=seed + 1,
        executor=executor if executor != "dask" else "serial", progress=progress,
    )
    return truth.log_truth, truth.mcse, f"defined truth of {name} in the clean scenario"


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
    checkpoint: str | None = None,
) -> StressResult:
    """Run the battery (see module docstring) and find each mechanism's tipping point.

    ``checkpoint`` is a folder of per-cell checkpoints (``run_replicates(checkpoint=...)``):
    a rerun after an interruption computes only the missing replicates.

    Raises
    ------
    AnalysisError
        For an unknown mechanism, test-negative selection without testing, or fewer than 2
        replicates per cell.
    """
    names = _mechanism_names(scenario, mechanisms)
    if reps < 2:
        raise AnalysisError(
            f"the stress battery needs >= 2 replicates per cell, got {reps}; fix: pass e.g. reps=10"
        )
    analysis = study_analysis(scenario)
    references = {
        truth: _reference(
            clean_scenario(scenario, truth), analysis, reps, n, seed, executor, progress
        )
        for truth in (finding.estimate, 1.0)
    }
    cells = []
    for mech in names:
        grid = list((strengths or {}).get(mech, MECHANISMS[mech][0]))
        for truth in (finding.estimate, 1.0):
            base = clean_scenario(scenario, truth)
            for s in grid:
                sc, an = apply_mechanism(base, mech, s, analysis)
                cells.append((mech, s, truth, references[truth], sc, an))
    opts = {"reps": reps, "seed": seed, "n": n, "checkpoint": checkpoint}
    rows = _run_cells(cells, opts, executor, workers, scheduler, progress, (scenario, analysis))
    target = np.log(finding.estimate)
    tips = [_tipping_row(mech, rows, target) for mech in names]
    return StressResult(pd.DataFrame(rows), pd.DataFrame(tips), finding.name, finding.estimate)
