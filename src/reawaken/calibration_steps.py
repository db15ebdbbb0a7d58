"""The pieces of one ``reawaken calibrate`` iteration: the problem solved, an iteration's
result, how far it misses each target, the next multipliers (knobs), and the record written
for the last one.

The replicates themselves are run by :func:`reawaken.calibration.calibrate_to_finding`; the
update rules here are pure functions of one iteration's medians:

* outcome baseline ``f <- f (SE / SE_target)^2`` (the information ``1/SE^2`` is proportional
  to the events for a rare outcome; Schoenfeld 1983);
* log effect ``kappa <- kappa log(target) / median log estimate``;
* infection rates ``r <- r log(1 - s_target) / log(1 - s)`` (exposed share ``s = 1 - exp(-c r)``).

Each step is clipped to ``[1/4, 4]``, only the knobs whose own target is missed move, and the
steps are square-rooted (halved on the log scale) from iteration :data:`DAMP_AFTER` on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .findings import ReportedFinding
from .scenario import Scenario
from .scenario_toml import EffectShape, Knobs, render_calibrated

#: Iteration from which the steps are damped (square-rooted).
DAMP_AFTER = 5


@dataclass(frozen=True)
class Problem:
    """What a calibration solves: a template, the finding it must reproduce, the effect shape
    and the target exposed share.

    Attributes
    ----------
    text, label : str
        The template's TOML text and its name (or path).
    finding : ReportedFinding
        The target: estimate and CI.
    shape : EffectShape or None
        Relative log-HR by window; ``None`` keeps the template's profile.
    exposed_share : float or None
        Target share of persons with a documented exposure; ``None`` keeps the infection rates.
    target_log, target_se : float
        The log of the reported estimate and the SE of it implied by the reported CI.
    """

    text: str
    label: str
    finding: ReportedFinding
    shape: EffectShape | None
    exposed_share: float | None
    target_log: float
    target_se: float

    def render(self, knobs: Knobs, **kwargs: Any) -> str:
        """The template rendered with ``knobs`` (and ``kwargs``) by
        :func:`~reawaken.scenario_toml.render_calibrated`."""
        return render_calibrated(
            self.text, self.label, self.finding, knobs, effect_shape=self.shape, **kwargs
        )


@dataclass(frozen=True)
class Iteration:
    """One iteration's result.

    Attributes
    ----------
    number : int
        From 1.
    knobs : Knobs
        The knobs it ran with.
    scenario : Scenario
        The scenario they gave.
    stats : dict
        The replicates' medians and their MCSEs.
    share : float
        The simulated share of persons with a documented exposure.
    """

    number: int
    knobs: Knobs
    scenario: Scenario
    stats: dict[str, float]
    share: float


@dataclass(frozen=True)
class CalibrationTolerance:
    """Stop when |median log estimate - log target| <= ``log_estimate``, |median SE / target
    SE - 1| <= ``se_relative`` and |share - target share| <= ``exposed_share``.

    The estimate's tolerance is never below ``mcse_fraction`` of the median's own Monte Carlo
    SE, ``1.2533 SD / sqrt(reps)``: with few replicates, chasing the target more closely than
    the replicates can resolve would never settle."""

    log_estimate: float = 0.005
    se_relative: float = 0.01
    exposed_share: float = 0.0025
    mcse_fraction: float = 0.25


@dataclass(frozen=True)
class Misses:
    """How far one iteration is from each target, and the tolerance each is held to.

    Attributes
    ----------
    estimate : float
        Median log estimate minus the log target.
    se : float
        Median SE over the target SE, minus 1.
    share : float
        Simulated minus target exposed share (0 without a target share).
    tol_estimate, tol_se, tol_share : float
        The tolerances of the three.
    """

    estimate: float
    se: float
    share: float
    tol_estimate: float
    tol_se: float
    tol_share: float

    @classmethod
    def of(cls, problem: Problem, last: Iteration, tol: CalibrationTolerance) -> Misses:
        """The misses of ``last``; the estimate and SE tolerances never below
        ``tol.mcse_fraction`` of their Monte Carlo SEs."""
        stats = last.stats
        return cls(
            estimate=stats["median_log_estimate"] - problem.target_log,
            se=stats["median_se"] / problem.target_se - 1,
            # more outcome events end more follow-up before an infection: the share can drift
            share=0.0 if problem.exposed_share is None else last.share - problem.exposed_share,
            tol_estimate=max(
                tol.log_estimate, tol.mcse_fraction * stats["mcse_median_log_estimate"]
            ),
            tol_se=max(tol.se_relative, tol.mcse_fraction * stats["mcse_median_se_relative"]),
            tol_share=tol.exposed_share,
        )

    @property
    def converged(self) -> bool:
        """Every miss within its tolerance."""
        return (
            abs(self.estimate) <= self.tol_estimate
            and abs(self.se) <= self.tol_se
            and abs(self.share) <= self.tol_share
        )


def next_knobs(problem: Problem, last: Iteration, misses: Misses) -> Knobs:
    """The knobs after an iteration that missed: ``f (SE/SE_target)^2``,
    ``kappa log(target)/median``, ``r log(1 - s_target)/log(1 - s)`` (Schoenfeld 1983 for
    ``f``), each only if its own target is missed.

    Parameters
    ----------
    problem : Problem
        The targets.
    last : Iteration
        The iteration: its knobs, medians and share; steps are damped from its number
        :data:`DAMP_AFTER` on.
    misses : Misses
        Its misses and tolerances.

    Returns
    -------
    Knobs
        Rounded to 6 significant digits (what the scenario file records).
    """
    stats, knobs = last.stats, last.knobs
    # full Newton-like steps first; halved from iteration DAMP_AFTER on, so that a target
    # sitting between two of the replicates' discrete outcomes is approached, not circled
    damping = 1.0 if last.number < DAMP_AFTER else 0.5
    # only the knobs whose own target is missed move: a settled knob stays put, so its
    # discrete effects (events in or out of follow-up) do not jolt the others
    f, kappa = knobs.baseline_factor, knobs.effect_factor
    if abs(misses.se) > misses.tol_se:
        f *= step((stats["median_se"] / problem.target_se) ** 2) ** damping
    if abs(misses.estimate) > misses.tol_estimate:
        kappa = effect_step(kappa, stats["median_log_estimate"], problem.target_log, damping)
    r = knobs.infection_factor
    target_share = problem.exposed_share
    if target_share is not None and abs(misses.share) > misses.tol_share:
        r *= step(math.log1p(-target_share) / math.log1p(-last.share)) ** damping
    return Knobs(round6(f), round6(kappa), round6(r))


def not_converged_message(problem: Problem, last: Iteration, max_iterations: int) -> str:
    """The error of a calibration that used up its iterations: where it stopped, and the fix.

    Parameters
    ----------
    problem : Problem
        The targets.
    last : Iteration
        The last iteration.
    max_iterations : int
        The iterations allowed.

    Returns
    -------
    str
    """
    stats = last.stats
    return (
        f"calibration did not converge in {max_iterations} iterations (median estimate "
        f"{math.exp(stats['median_log_estimate']):.3f} vs {problem.finding.estimate:g}, median "
        f"SE {stats['median_se']:.4f} vs {problem.target_se:.4f}, exposed share "
        f"{last.share:.3f}); fix: raise --reps or --max-iterations, or check that the "
        "template can reach the target"
    )


def effect_step(kappa: float, median_log: float, target_log: float, damping: float) -> float:
    """Next effect factor: ``kappa (target / median)^damping`` on the log scale.

    When both point the same way; a null target sets it to 0; a median of the wrong sign
    flips the effect's direction (a protective finding from a harmful template), one of
    exactly 0 doubles it.

    Parameters
    ----------
    kappa : float
        The current effect factor.
    median_log, target_log : float
        Median log estimate of the replicates and log target.
    damping : float
        Exponent of the step (1, or 0.5 once damped).

    Returns
    -------
    float
    """
    if target_log == 0:
        return 0.0
    if median_log * target_log > 0:
        return kappa * step(target_log / median_log) ** damping
    if median_log == 0:
        return kappa * 2.0
    return -kappa


def step(value: float, lo: float = 0.25, hi: float = 4.0) -> float:
    """A multiplicative step clipped to ``[lo, hi]``: ``min(max(value, lo), hi)``.

    Parameters
    ----------
    value : float
        The unclipped step.
    lo, hi : float
        Its bounds.

    Returns
    -------
    float
    """
    return float(np.clip(value, lo, hi))


def round6(x: float) -> float:
    """``x`` rounded to 6 significant digits (``f"{x:.6g}"``), as the scenario file writes it.

    Parameters
    ----------
    x : float

    Returns
    -------
    float
    """
    return float(f"{x:.6g}")


def calibration_record(
    problem: Problem, last: Iteration, *, command: str, reps: int, seed: int, se_target: str
) -> dict[str, Any]:
    """The ``[calibration]`` record: the command, the target, the knobs and the last check
    (median estimate ``exp(median log estimate)``, median SE and CI limits, rounded).

    Parameters
    ----------
    problem : Problem
        What was solved.
    last : Iteration
        The iteration that met every target.
    command : str
        The command line that reproduces the calibration.
    reps, seed : int
        Replicates per iteration and the root seed.
    se_target : str
        Which SE was matched to the reported one.

    Returns
    -------
    dict
        In the order the scenario file writes it.
    """
    finding, shape, stats = problem.finding, problem.shape, last.stats
    return {
        "command": command,
        "finding": finding.name,
        "measure": finding.measure,
        "estimate": finding.estimate,
        "ci": [finding.ci_low, finding.ci_high],
        "followup_months": finding.followup_months,
        "template": problem.label,
        "exposed_share": problem.exposed_share,
        "effect_shape": shape.text() if shape else None,
        "reps": reps,
        "seed": seed,
        "se_target": se_target,
        "iterations": last.number,
        "baseline_factor": last.knobs.baseline_factor,
        "effect_factor": last.knobs.effect_factor,
        "infection_factor": last.knobs.infection_factor,
        "median_estimate": round(math.exp(stats["median_log_estimate"]), 4),
        "median_se": round(stats["median_se"], 4),
        "median_ci": [round(stats["median_ci_low"], 3), round(stats["median_ci_high"], 3)],
        "mean_events": round(stats["mean_events"], 1),
        "exposed_share_simulated": round(last.share, 4),
        "failed_replicates": stats["failed_replicates"] or None,
    }
