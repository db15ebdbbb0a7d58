"""Calibrate a scenario template so its study design reproduces a reported estimate and CI.

``reawaken calibrate`` takes a reported finding (n, follow-up, HR or OR, estimate, 95% CI) and
a template scenario (every assumption: covariates, waves, competing deaths, the design) and
solves three multipliers, everything else staying as the template states it:

* the outcome baseline hazard ``x f``: for a rare outcome the information ``1/SE^2`` is
  proportional to the events, so ``f <- f (SE / SE_target)^2`` (Schoenfeld 1983);
* the log hazard ratios of the effect profile ``x kappa``: undocumented infections and the
  averaging of a time-varying HR attenuate the estimate by a roughly constant factor, so
  ``kappa <- kappa log(target) / median log estimate``;
* the infection rates ``x r`` for an assumed exposed share ``s``: with a cumulative intensity
  ``s = 1 - exp(-c r)``, ``r <- r log(1 - s_target) / log(1 - s)``.

Each iteration simulates and analyses the same ``reps`` replicates (common random numbers:
seeds ``SeedSequence(seed).spawn(reps)``), so the iteration is a deterministic map and stops
when the median log estimate, the median SE and the share are all within tolerance; the
file written is exactly the text that was checked last. Only the knobs whose own target is
missed move, steps are halved after the fourth iteration, and a template whose events are far
from the Schoenfeld-implied ones starts there (cheap simulations, before any replicate).
Medians match the reproduction certificate (:mod:`reawaken.certificate`).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .calibration_steps import (
    CalibrationTolerance,
    Iteration,
    Misses,
    Problem,
    calibration_record,
    next_knobs,
    not_converged_message,
    round6,
    step,
)
from .checks import checked
from .errors import AnalysisError, ScenarioError
from .evaluate import replicate_pool, run_replicates
from .findings import ReportedFinding, template_text
from .power.analytic import exposed_share_for_matching
from .scenario import Scenario, parse_scenario_text
from .scenario_toml import EffectShape, Knobs, render_calibrated, se_label
from .simulate.cohort import simulate_cohort
from .study.analyses import MATCHED_ANALYSES, STUDY_MEASURES, Analysis

#: The template used for a finding's measure when none is named.
DEFAULT_TEMPLATE = {"HR": "time_varying_cohort", "OR": "matched_test_negative"}
SHARE_PERSONS = 200_000
START_EVENTS_BAND = (1 / 3, 3.0)
MAX_FAILED_SHARE = 0.05


#: How the reported SE is matched: "model" (the median model-based SE of the replicates, as a
#: study with model-based CIs reported it) or "empirical" (the SD of the replicate estimates).
SE_TARGETS: tuple[str, ...] = ("model", "empirical")
DEFAULT_SE_TARGET = "model"


def canonical_command(
    finding: str,
    template: str,
    *,
    reps: int,
    seed: int,
    exposed_share: float | None = None,
    effect_shape: str | None = None,
    finding_flags: str = "",
    se_target: str = "model",
) -> str:
    """The ``reawaken calibrate`` command line that reproduces a calibration (no ``--out``);
    names and paths are shell-quoted (:func:`shlex.quote`), so ``shlex.split`` gives them back."""
    parts = [
        "reawaken calibrate",
        finding_flags or f"--finding {shlex.quote(finding)}",
        f"--template {shlex.quote(template)}",
    ]
    if exposed_share is not None:
        parts.append(f"--exposed-share {exposed_share:g}")
    if effect_shape is not None:
        parts.append(f"--effect-shape {effect_shape}")
    if se_target != DEFAULT_SE_TARGET:
        parts.append(f"--se-target {se_target}")
    parts.append(f"--reps {reps} --seed {seed}")
    return " ".join(parts)


@checked
def implied_information(
    finding: ReportedFinding, scenario: Scenario, exposed_share: float
) -> dict[str, Any]:
    """Information ``1/SE^2`` implied by the CI and the events it implies (Schoenfeld 1983:
    ``D = 1 / (SE^2 p (1 - p))``; ``p = 1/(k+1)`` in 1:k matched sets, else the exposed share).
    In matched designs ``D`` is the number of distinct persons with the outcome: a person whose
    outcome recurs in several sets (reused as a control, later exposed) adds no information,
    and the study analyses count events the same way."""
    information = 1.0 / finding.implied_se**2
    design = scenario.design
    if design is not None and design.analysis in MATCHED_ANALYSES:
        p = exposed_share_for_matching(design.controls)
        formula = (
            f"Schoenfeld, 1:{design.controls} matched sets, p = {p:.3g}; D counts distinct "
            "persons with the outcome"
        )
    else:
        p = exposed_share
        formula = f"Schoenfeld, p = exposed share {p:.3g}"
    return {
        "information": information,
        "events": information / (p * (1 - p)),
        "events_formula": formula,
    }


def _simulated_rates(scenario: Scenario, seed: int, persons: int) -> tuple[float, float]:
    data = simulate_cohort(scenario.with_n(persons), np.random.default_rng(seed)).data
    return float(data["exposure_day"].notna().mean()), float((data["event"] == 1).mean())


@checked
def documented_share(scenario: Scenario, seed: int, persons: int = SHARE_PERSONS) -> float:
    """Share of simulated persons with a documented exposure (``exposure_day`` set), from one
    cohort of ``persons`` drawn with ``default_rng(seed)`` (MC SE ``< 0.0012``)."""
    return _simulated_rates(scenario, seed, persons)[0]


@dataclass(frozen=True)
class CalibrationResult:
    """The calibrated scenario (``text`` is the file), its knobs, record and iteration history."""

    text: str
    scenario: Scenario
    knobs: Knobs
    record: Mapping[str, Any]
    implied: Mapping[str, Any]
    history: pd.DataFrame = field(repr=False)

    def summary(self) -> str:
        r = self.record
        measure = r["measure"]
        lo, hi = r["median_ci"]
        share = r.get("exposed_share")
        target_share = f" (target {share:g})" if share is not None else ""
        return (
            f"calibrated {self.scenario.name} in {r['iterations']} iterations ({r['reps']} "
            f"replicates, seed {r['seed']}): baseline x{r['baseline_factor']:.6g}, log effect "
            f"x{r['effect_factor']:.6g}, infection rates x{r['infection_factor']:.6g}\n"
            f"  median {measure} {r['median_estimate']:.4g}, {se_label(r)} {r['median_se']:.4f}, "
            f"median CI {lo:.3g}-{hi:.3g}, {r['mean_events']:.1f} persons with the outcome, "
            f"exposed share {r['exposed_share_simulated']:.3f}{target_share}"
            + (
                f"\n  {r['failed_replicates']} replicates failed (left out of the medians)"
                if r.get("failed_replicates")
                else ""
            )
        )


def target_se_column(table: pd.DataFrame, se_target: str) -> pd.Series:
    """Per replicate, the SE that is matched to the reported SE (see :data:`SE_TARGETS`):
    the model-based SE, or the empirical SD of the log estimates (the same for every row)."""
    if se_target == "model":
        return table["se_model"]
    sd = float(table["log_estimate"].std(ddof=1))
    return pd.Series(np.full(len(table), sd), index=table.index)


def _evaluate(
    scenario: Scenario,
    reps: int,
    seed: int,
    executor: str | Executor,
    workers: int | None,
    progress: bool,
    se_target: str = "model",
    checkpoint: str | None = None,
) -> dict[str, float]:
    table = run_replicates(
        scenario,
        reps=reps,
        seed=seed,
        executor=executor,
        workers=workers,
        progress=progress,
        checkpoint=checkpoint,
    ).data
    failed = table["error"].dropna()
    if len(failed) > MAX_FAILED_SHARE * reps:
        raise AnalysisError(
            f"calibration: {len(failed)} of {reps} replicates failed ({failed.iloc[0]}); "
            "fix: raise the outcome rate or the exposure share in the template"
        )
    table = table[table["error"].isna()]
    se = target_se_column(table, se_target)
    z = 1.959963984540054
    low, high = np.exp(table["log_estimate"] - z * se), np.exp(table["log_estimate"] + z * se)
    relative_mcse = (
        1.2533 * (se / se.median()).std(ddof=1) / math.sqrt(len(table))
        if se_target == "model"
        else 1.0 / math.sqrt(2 * (len(table) - 1))
    )
    return {
        "median_log_estimate": float(table["log_estimate"].median()),
        "mcse_median_log_estimate": float(
            1.2533 * table["log_estimate"].std(ddof=1) / math.sqrt(len(table))
        ),
        "median_se": float(se.median()),
        "median_ci_low": float(low.median()),
        "median_ci_high": float(high.median()),
        "median_ci_width": float(2 * z * se.median()),
        "mean_events": float(table["events"].astype(float).mean()),
        "failed_replicates": len(failed),
        "mcse_median_se_relative": float(relative_mcse),
    }


def _starting_knobs(
    text: str,
    label: str,
    finding: ReportedFinding,
    shape: EffectShape | None,
    exposed_share: float | None,
    seed: int,
    tolerance: float,
    max_iterations: int = 12,
) -> Knobs:
    """Knobs before the replicate iterations, from cheap simulations alone (fixed seed).

    The infection multiplier is solved for the exposed share first (the share hardly depends
    on the outcome). A template whose outcome events at n are off by more than
    :data:`START_EVENTS_BAND` from the Schoenfeld-implied events is moved there (a start with
    too few events gives non-converging fits); otherwise its level is the start.
    """
    knobs = Knobs()
    for _ in range(max_iterations):
        scenario = parse_scenario_text(
            render_calibrated(text, label, finding, knobs, effect_shape=shape), label
        )
        share, outcome_rate = _simulated_rates(scenario, seed, SHARE_PERSONS)
        if exposed_share is None or abs(share - exposed_share) <= tolerance:
            break
        if share <= 0 or share >= 1:
            raise AnalysisError(
                f"template {label} gives an exposed share of {share:g}; fix: raise its "
                "infection rates or documentation probability"
            )
        factor = step(math.log1p(-exposed_share) / math.log1p(-share), 0.1, 10.0)
        knobs = replace(knobs, infection_factor=round6(knobs.infection_factor * factor))
    else:
        raise AnalysisError(
            f"cannot reach an exposed share of {exposed_share:g} by scaling the infection rates "
            f"of template {label} (last: {share:.3f}); fix: change --exposed-share or the "
            "template's infection, testing or documentation settings"
        )
    if outcome_rate == 0:
        raise AnalysisError(
            f"template {label} gives no outcome events in {SHARE_PERSONS:,} persons; fix: "
            "raise its outcome baseline hazard"
        )
    implied = implied_information(finding, scenario, share)["events"]
    ratio = implied / (outcome_rate * finding.n)
    lo, hi = START_EVENTS_BAND
    if not lo <= ratio <= hi:
        knobs = replace(knobs, baseline_factor=round6(ratio))
    return knobs


@checked
def calibrate_to_finding(
    template: str,
    finding: ReportedFinding,
    *,
    exposed_share: float | None = None,
    effect_shape: str | None = None,
    reps: int = 400,
    seed: int = 2025,
    executor: str | Executor = "processes",
    workers: int | None = None,
    max_iterations: int = 15,
    tolerance: CalibrationTolerance | None = None,
    command: str | None = None,
    progress: bool = False,
    se_target: str = DEFAULT_SE_TARGET,
    checkpoint: str | None = None,
) -> CalibrationResult:
    """Solve a template's baseline, effect and infection level for a reported finding.

    Parameters
    ----------
    template : str
        Shipped template name (:func:`reawaken.findings.list_templates`) or scenario TOML path.
    finding : ReportedFinding
        The target: measure, estimate, CI, n and follow-up months.
    exposed_share : float, optional
        Assumed share of persons with a documented exposure, in (0, 1); ``None`` keeps the
        template's infection rates (and reports the share they give).
    effect_shape : str, optional
        ``"0:1,90:0.45,365:0.15"``: relative log-HR by window start day (see
        :class:`~reawaken.scenario_toml.EffectShape`); default: the template's profile.
    reps, seed : int
        Replicates per iteration and the root seed (same seed, same file).
    executor, workers, checkpoint
        Passed to :func:`reawaken.evaluate.run_replicates` (``checkpoint``: a folder of
        per-iteration checkpoints, so a rerun resumes where it stopped).
    max_iterations : int
        An :class:`AnalysisError` if not converged by then (nothing is written).
    command : str, optional
        The command line recorded in the file (default :func:`canonical_command`).
    se_target : {"model", "empirical"}
        Which SE the reported SE is matched by (:data:`SE_TARGETS`): the median model-based SE
        of the replicates (what a study that printed a model-based CI reported; the default)
        or the empirical SD of their log estimates.

    Returns
    -------
    CalibrationResult

    Examples
    --------
    >>> import reawaken as rw
    >>> finding = rw.load_finding("flatiron_lung_mets")
    >>> result = rw.calibrate_to_finding("time_varying_cohort", finding, exposed_share=0.25,
    ...                                  reps=8, seed=1, executor="serial")
    >>> type(result).__name__
    'CalibrationResult'
    """
    tol = tolerance or CalibrationTolerance()
    _check_options(se_target, exposed_share, reps, max_iterations)
    shape = EffectShape.parse(effect_shape) if effect_shape is not None else None
    text, label = template_text(template)
    _check_template(text, label, finding, shape)
    target_log, target_se = math.log(finding.estimate), finding.implied_se
    problem = Problem(text, label, finding, shape, exposed_share, target_log, target_se)
    knobs = _starting_knobs(text, label, finding, shape, exposed_share, seed, tol.exposed_share)
    with replicate_pool(executor, workers) as pool:  # one pool for all iterations
        evaluate = partial(
            _evaluate,
            reps=reps,
            seed=seed,
            executor=pool,
            workers=workers,
            progress=progress,
            se_target=se_target,
            checkpoint=checkpoint,
        )
        last, rows = _solve(problem, knobs, evaluate, seed, tol, max_iterations)
    implied = implied_information(
        finding, last.scenario, exposed_share if exposed_share is not None else last.share
    )
    record = calibration_record(
        problem,
        last,
        command=command
        or canonical_command(
            finding.name,
            label,
            reps=reps,
            seed=seed,
            exposed_share=exposed_share,
            effect_shape=shape.text() if shape else None,
            se_target=se_target,
        ),
        reps=reps,
        seed=seed,
        se_target=se_target,
    )
    final = problem.render(last.knobs, record=record, implied=implied)
    return CalibrationResult(
        text=final,
        scenario=parse_scenario_text(final, f"calibrated {label}"),
        knobs=last.knobs,
        record=record,
        implied=implied,
        history=pd.DataFrame(rows),
    )


def _check_options(
    se_target: str, exposed_share: float | None, reps: int, max_iterations: int
) -> None:
    """Reject an unknown SE target, a share outside (0, 1), too few reps or iterations."""
    if se_target not in SE_TARGETS:
        raise ScenarioError(
            f"se_target must be one of {', '.join(SE_TARGETS)}, got {se_target!r}; fix: "
            "'model' for a reported model-based CI, 'empirical' to match the sampling SD"
        )
    if exposed_share is not None and not 0 < exposed_share < 1:
        raise ScenarioError(f"exposed share must be in (0, 1), got {exposed_share}")
    if reps < 8:
        raise ScenarioError(f"calibration needs at least 8 replicates per iteration, got {reps}")
    if max_iterations < 1:
        raise ScenarioError(f"max_iterations must be >= 1, got {max_iterations}")


def _check_template(
    text: str, label: str, finding: ReportedFinding, shape: EffectShape | None
) -> None:
    """Reject a template without a [design] or whose analysis estimates another measure."""
    base = parse_scenario_text(render_calibrated(text, label, finding, Knobs(), effect_shape=shape))
    analysis = base.design.analysis if base.design is not None else None
    if analysis is None:
        raise ScenarioError(
            f"template {label} has no [design] table; add one naming the study analysis"
        )
    if STUDY_MEASURES[analysis] != finding.measure:
        raise ScenarioError(
            f"template {label} estimates an {STUDY_MEASURES[analysis]} ({analysis}) but "
            f"finding {finding.name} reports an {finding.measure}; fix: pick a template for "
            f"{finding.measure}s (e.g. --template {DEFAULT_TEMPLATE[finding.measure]})"
        )


def _solve(
    problem: Problem,
    knobs: Knobs,
    evaluate: Callable[[Scenario], dict[str, float]],
    seed: int,
    tol: CalibrationTolerance,
    max_iterations: int,
) -> tuple[Iteration, list[dict[str, Any]]]:
    """Iterate the knobs until the replicates meet every target; the last iteration and the
    history rows. The same seeds every iteration (common random numbers)."""
    rows: list[dict[str, Any]] = []
    number = 0
    while True:
        number += 1
        body = problem.render(knobs)
        scenario = parse_scenario_text(body, f"calibrated {problem.label}")
        stats = evaluate(scenario)
        share = documented_share(scenario, seed)
        rows.append({"iteration": number, **vars(knobs), **stats, "exposed_share": share})
        last = Iteration(number, knobs, scenario, stats, share)
        misses = Misses.of(problem, last, tol)
        if misses.converged:
            return last, rows
        if number == max_iterations:
            raise AnalysisError(not_converged_message(problem, last, max_iterations))
        knobs = next_knobs(problem, last, misses)


@dataclass(frozen=True)
class CalibrationCheck:
    """Replicates of the study analysis at the scenario's size, against a reported finding.

    ``mean_log_estimate`` and ``mean_se`` average over replicates; their Monte Carlo SEs are
    ``sd / sqrt(reps)`` (Morris, White & Crowther 2019).
    """

    reps: int
    mean_log_estimate: float
    mcse_log_estimate: float
    mean_se: float
    mcse_se: float
    empirical_se: float
    mean_events: float

    @property
    def geometric_mean_estimate(self) -> float:
        return float(np.exp(self.mean_log_estimate))

    def summary(self) -> str:
        return (
            f"{self.reps} replicates: geometric-mean estimate {self.geometric_mean_estimate:.3f} "
            f"(MCSE of log {self.mcse_log_estimate:.4f}), mean SE {self.mean_se:.4f} "
            f"(MCSE {self.mcse_se:.4f}), empirical SE {self.empirical_se:.4f}, "
            f"{self.mean_events:.1f} events"
        )


@checked
def check_calibration(
    scenario: Scenario, analysis: Analysis, *, reps: int, seed: int
) -> CalibrationCheck:
    """Run ``reps`` seeded replicates serially with :func:`reawaken.evaluate.run_replicates`
    (seeds from ``SeedSequence(seed).spawn``); a failed replicate is an error here. ``mean_se``
    averages the SE the scenario was calibrated on (its record's ``se_target``; model-based
    when it has no record)."""
    table = run_replicates(scenario, analysis, reps=reps, seed=seed, executor="serial").data
    failed = table["error"].dropna()
    if len(failed):
        raise AnalysisError(f"calibration check: replicate failed: {failed.iloc[0]}")
    log_est = table["log_estimate"].to_numpy()
    se_target = (scenario.calibration or {}).get("se_target", DEFAULT_SE_TARGET)
    se = target_se_column(table, se_target).to_numpy()
    root = np.sqrt(reps)
    return CalibrationCheck(
        reps=reps,
        mean_log_estimate=float(log_est.mean()),
        mcse_log_estimate=float(log_est.std(ddof=1) / root),
        mean_se=float(se.mean()),
        mcse_se=float(se.std(ddof=1) / root),
        empirical_se=float(log_est.std(ddof=1)),
        mean_events=float(table["events"].astype(float).mean()),
    )


@checked
def render_from_record(text: str, source: str = "<scenario>") -> str:
    """Re-render a calibrated scenario from its own ``[calibration]`` record and template.

    Equal to ``text`` exactly when the file is what ``reawaken calibrate`` wrote for the
    recorded knobs and check (no hand edits): the cheap half of "presets are outputs of
    calibrate"; rerunning the recorded command checks the knobs themselves.

    Examples
    --------
    >>> from pathlib import Path
    >>> import reawaken as rw
    >>> path = Path(rw.__file__).parent / "findings" / "presets" / "flatiron_lung_mets.toml"
    >>> rw.render_from_record(path.read_text()) == path.read_text()
    True
    """
    scenario = parse_scenario_text(text, source)
    record = scenario.calibration
    if record is None:
        raise ScenarioError(f"{source} has no [calibration] table; it was not calibrated")
    lo, hi = record["ci"]
    finding = ReportedFinding(
        name=record["finding"],
        title=record["finding"],
        source="",
        n=scenario.n,
        followup_months=record["followup_months"],
        measure=record["measure"],
        estimate=record["estimate"],
        ci_low=lo,
        ci_high=hi,
    )
    tmpl, label = template_text(record["template"])
    shape = record.get("effect_shape")
    share = record.get("exposed_share")
    knobs = Knobs(record["baseline_factor"], record["effect_factor"], record["infection_factor"])
    implied = implied_information(
        finding, scenario, share if share is not None else record["exposed_share_simulated"]
    )
    return render_calibrated(
        tmpl,
        label,
        finding,
        knobs,
        effect_shape=EffectShape.parse(shape) if shape is not None else None,
        record=dict(record),
        implied=implied,
    )
