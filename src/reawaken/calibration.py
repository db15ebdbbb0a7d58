"""Calibrate a scenario so its study analysis reproduces a reported estimate and CI width.

Two knobs are solved for, everything else (exposed share, covariates, effect *shape*) being a
stated assumption of the scenario:

* the outcome's baseline hazard is multiplied by ``f``: for a rare outcome the information
  ``1/SE^2`` is proportional to the events, so ``f <- f * (SE / SE_target)^2``;
* the log hazard ratios of the effect profile are multiplied by ``kappa``, so
  ``kappa <- kappa * log(target) / mean(log estimate)`` (undocumented infections and the
  averaging of a time-varying HR attenuate the estimate by a roughly constant factor).

Each step simulates replicates at ``inflate`` times the cohort size and rescales the SE by
``sqrt(inflate)``; damped fixed-point iterations (each step's factor clipped to [0.5, 2] and
raised to ``damping``) converge in a handful of steps. See REFERENCE.md for the targets.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .analysis.study import Analysis
from .errors import AnalysisError
from .estimate import Estimate
from .evaluate import run_replicates
from .scenario import HazardModel, Scenario
from .simulate.cohort import simulate_cohort
from .simulate.effects import EffectProfile
from .simulate.hazards import Exponential, Gompertz, PiecewiseConstant, Weibull


def _replicate(scenario: Scenario, analysis: Analysis, seed: np.random.SeedSequence) -> Estimate:
    """Simulate one cohort and analyse it; the same generator then drives control sampling."""
    rng = np.random.default_rng(seed)
    return analysis(simulate_cohort(scenario, rng).data, scenario, rng)


def scale_baseline(model: HazardModel, factor: float) -> HazardModel:
    """Multiply a hazard model's baseline hazard ``h0(t)`` by ``factor`` at every ``t``."""
    b = model.baseline
    if isinstance(b, Exponential):
        nb = Exponential(b.rate_per_day * factor)
    elif isinstance(b, Weibull):
        nb = Weibull(b.shape, b.scale_days / factor ** (1.0 / b.shape))
    elif isinstance(b, Gompertz):
        nb = Gompertz(b.rate_per_day * factor, b.shape_per_day)
    elif isinstance(b, PiecewiseConstant):
        nb = PiecewiseConstant(b.breaks_days, tuple(r * factor for r in b.rates_per_day))
    else:
        raise TypeError(f"cannot scale baseline {type(b).__name__}")
    return replace(model, baseline=nb)


def scale_log_effect(profile: EffectProfile, factor: float) -> EffectProfile:
    """Multiply every window's log hazard ratio by ``factor`` (keeps the profile's shape)."""
    hrs = tuple(float(np.exp(factor * np.log(h))) for h in profile.hazard_ratios)
    return EffectProfile(profile.window_start_days, hrs)


@dataclass(frozen=True)
class CalibrationResult:
    """Calibrated scenario, the factors applied and the last iteration's check."""

    scenario: Scenario
    baseline_factor: float
    effect_factor: float
    mean_log_estimate: float
    mean_se: float
    history: pd.DataFrame

    def summary(self) -> str:
        return (
            f"{self.scenario.name}: baseline x{self.baseline_factor:.4f}, log effect "
            f"x{self.effect_factor:.4f}; mean estimate {np.exp(self.mean_log_estimate):.3f}, "
            f"mean SE {self.mean_se:.4f}"
        )


def calibrate(
    scenario: Scenario,
    analysis: Analysis,
    *,
    target_estimate: float,
    target_se: float,
    seed: int,
    reps: int = 8,
    inflate: int = 4,
    iterations: int = 5,
    damping: float = 0.8,
) -> CalibrationResult:
    """Solve the baseline and effect factors by fixed-point iteration (see module docstring)."""
    f, kappa = 1.0, 1.0
    rows = []
    seeds = np.random.SeedSequence(seed)
    for it in range(iterations):
        sc = replace(
            scenario,
            outcome=scale_baseline(scenario.outcome, f),
            effect=scale_log_effect(scenario.effect, kappa),
        )
        big = sc.with_n(scenario.n * inflate)
        ests = [_replicate(big, analysis, s) for s in seeds.spawn(reps)]
        log_est = float(np.mean([e.log_estimate for e in ests]))
        se = float(np.mean([e.se for e in ests])) * np.sqrt(inflate)
        rows.append(
            {
                "iteration": it,
                "baseline_factor": f,
                "effect_factor": kappa,
                "mean_log_estimate": log_est,
                "se_at_n": se,
                "events_at_n": float(np.mean([e.events for e in ests])) / inflate,
            }
        )
        if it == iterations - 1:
            break
        f *= float(np.clip((se / target_se) ** 2, 0.5, 2.0)) ** damping
        kappa *= float(np.clip(np.log(target_estimate) / log_est, 0.5, 2.0)) ** damping
    return CalibrationResult(sc, f, kappa, log_est, se, pd.DataFrame(rows))


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


def check_calibration(
    scenario: Scenario, analysis: Analysis, *, reps: int, seed: int
) -> CalibrationCheck:
    """Run ``reps`` seeded replicates serially with :func:`reawaken.evaluate.run_replicates`
    (seeds from ``SeedSequence(seed).spawn``); a failed replicate is an error here."""
    table = run_replicates(scenario, analysis, reps=reps, seed=seed, executor="serial").data
    failed = table["error"].dropna()
    if len(failed):
        raise AnalysisError(f"calibration check: replicate failed: {failed.iloc[0]}")
    log_est = table["log_estimate"].to_numpy()
    se = table["se"].to_numpy()
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
