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

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .estimate import Estimate
from .scenario import HazardModel, Scenario
from .simulate.cohort import simulate_cohort
from .simulate.effects import EffectProfile
from .simulate.hazards import Exponential, Gompertz, PiecewiseConstant, Weibull

Analysis = Callable[[pd.DataFrame, Scenario], Estimate]


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
        ests = [
            analysis(simulate_cohort(big, np.random.default_rng(s)).data, big)
            for s in seeds.spawn(reps)
        ]
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
