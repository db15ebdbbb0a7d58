"""Infection and testing processes on calendar time.

Infection follows a non-homogeneous Poisson process in calendar days with a piecewise-constant
monthly intensity (the pandemic waves) times a covariate-dependent multiplier
``exp(x'gamma)``, so infection is confounded by the covariates that also drive the outcome.
The first infection after entry is drawn exactly by inverting the cumulative intensity.
Each infection is documented with a given probability; analyses see only documented ones.
Testing (for test-negative designs such as UK Biobank's) is a second process of the same kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hazards import DAYS_PER_YEAR, PiecewiseConstant

DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0


@dataclass(frozen=True)
class CalendarIntensity:
    """Piecewise-constant rate per calendar month since the study origin.

    Parameters
    ----------
    monthly_rate_per_year : tuple of float
        Rate (events per person-year) in month 0, 1, 2, ...; the last value holds onward.
    """

    monthly_rate_per_year: tuple[float, ...]

    @property
    def as_hazard(self) -> PiecewiseConstant:
        """The intensity as a :class:`PiecewiseConstant` hazard on calendar days."""
        k = len(self.monthly_rate_per_year)
        breaks = tuple(float(i * DAYS_PER_MONTH) for i in range(k))
        rates = tuple(float(r) / DAYS_PER_YEAR for r in self.monthly_rate_per_year)
        return PiecewiseConstant(breaks, rates)

    def first_event_after(
        self, start_day: np.ndarray, multiplier: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Draw the first event time after ``start_day`` by exact inversion.

        ``Lambda(T) - Lambda(start) = E / multiplier`` with ``E ~ Exp(1)``, where
        ``Lambda`` is the cumulative calendar intensity. Returns ``inf`` when the rate is zero
        from some month on and the draw is never reached.
        """
        start = np.asarray(start_day, dtype=float)
        draw = rng.standard_exponential(start.size)
        hazard = self.as_hazard
        level = hazard.cumulative(start) + draw / np.asarray(multiplier, dtype=float)
        return hazard.inverse_cumulative(level)


def document(
    infected: np.ndarray, probability: float | np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Which infections are documented: independent Bernoulli(``probability``) per person."""
    u = rng.random(np.asarray(infected).size)
    return np.asarray(infected, dtype=bool) & (u < probability)
