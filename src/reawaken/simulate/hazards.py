"""Baseline hazards and exact inversion of piecewise cumulative hazards.

Every family works on time in **days** and exposes the cumulative hazard ``H0(t)`` and its
inverse, vectorized over NumPy arrays. Survival times with a proportional-hazards multiplier
that changes at person-specific breakpoints (an infection and the windows after it) are drawn
by solving ``H(T) = E`` with ``E ~ Exp(1)`` exactly, segment by segment (Bender, Augustin &
Blettner, Stat Med 2005; Austin, Stat Med 2012; Hendry, Stat Med 2014) — never by
day-by-day coin flips.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

DAYS_PER_YEAR = 365.25


class BaselineHazard(Protocol):
    """A baseline hazard ``h0(t)`` on days, with cumulative ``H0`` and its inverse."""

    def cumulative(self, t_days: np.ndarray) -> np.ndarray:
        """Return ``H0(t)``; ``H0(inf) = inf`` unless the hazard dies out."""

    def inverse_cumulative(self, h: np.ndarray) -> np.ndarray:
        """Return ``t`` with ``H0(t) = h``; ``inf`` where ``h`` exceeds ``H0(inf)``."""

    def hazard(self, t_days: np.ndarray) -> np.ndarray:
        """Return ``h0(t)`` per day."""


def survival(baseline: BaselineHazard, t_days: np.ndarray) -> np.ndarray:
    """Baseline survival ``S0(t) = exp(-H0(t))``."""
    return np.exp(-baseline.cumulative(np.asarray(t_days, dtype=float)))


@dataclass(frozen=True)
class Exponential:
    """Constant hazard ``h0(t) = rate``; ``H0(t) = rate * t``.

    Parameters
    ----------
    rate_per_day : float
        Hazard per day (> 0).
    """

    rate_per_day: float

    def hazard(self, t_days: np.ndarray) -> np.ndarray:
        return np.full_like(np.asarray(t_days, dtype=float), self.rate_per_day)

    def cumulative(self, t_days: np.ndarray) -> np.ndarray:
        return self.rate_per_day * np.asarray(t_days, dtype=float)

    def inverse_cumulative(self, h: np.ndarray) -> np.ndarray:
        return np.asarray(h, dtype=float) / self.rate_per_day


@dataclass(frozen=True)
class Weibull:
    """Weibull hazard, ``H0(t) = (t / scale)^shape`` (Bender et al. 2005, Table II).

    Parameters
    ----------
    shape : float
        Shape ``k`` (> 0); ``k < 1`` gives a falling hazard, ``k > 1`` a rising one.
    scale_days : float
        Scale (> 0): ``H0(scale) = 1``.
    """

    shape: float
    scale_days: float

    def hazard(self, t_days: np.ndarray) -> np.ndarray:
        t = np.asarray(t_days, dtype=float)
        with np.errstate(divide="ignore"):
            return self.shape / self.scale_days * (t / self.scale_days) ** (self.shape - 1.0)

    def cumulative(self, t_days: np.ndarray) -> np.ndarray:
        return (np.asarray(t_days, dtype=float) / self.scale_days) ** self.shape

    def inverse_cumulative(self, h: np.ndarray) -> np.ndarray:
        return self.scale_days * np.asarray(h, dtype=float) ** (1.0 / self.shape)


@dataclass(frozen=True)
class Gompertz:
    """Gompertz hazard ``h0(t) = rate * exp(shape * t)``; ``H0 = rate/shape (e^{shape t} - 1)``.

    Bender et al. 2005, Table II. With ``shape < 0`` the hazard dies out and
    ``H0(inf) = -rate/shape``: a share ``exp(rate/shape)`` never has the event.

    Parameters
    ----------
    rate_per_day : float
        Hazard at ``t = 0`` per day (> 0).
    shape_per_day : float
        Log-hazard slope per day (any sign; 0 reduces to exponential).
    """

    rate_per_day: float
    shape_per_day: float

    def hazard(self, t_days: np.ndarray) -> np.ndarray:
        return self.rate_per_day * np.exp(self.shape_per_day * np.asarray(t_days, dtype=float))

    def cumulative(self, t_days: np.ndarray) -> np.ndarray:
        t = np.asarray(t_days, dtype=float)
        b = self.shape_per_day
        if b == 0.0:
            return self.rate_per_day * t
        with np.errstate(over="ignore"):
            return self.rate_per_day / b * np.expm1(b * t)

    def inverse_cumulative(self, h: np.ndarray) -> np.ndarray:
        h = np.asarray(h, dtype=float)
        b = self.shape_per_day
        if b == 0.0:
            return h / self.rate_per_day
        arg = b * h / self.rate_per_day
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log1p(arg) / b
        return np.where(arg <= -1.0, np.inf, out)


@dataclass(frozen=True)
class PiecewiseConstant:
    """Piecewise-constant hazard: ``rates[j]`` on ``[breaks[j], breaks[j+1])``, last rate onward.

    ``H0`` is piecewise linear, so both it and its inverse are exact linear interpolations.

    Parameters
    ----------
    breaks_days : tuple of float
        Increasing interval starts, the first one 0.
    rates_per_day : tuple of float
        One non-negative rate per interval; the last applies from ``breaks[-1]`` to infinity.
    """

    breaks_days: tuple[float, ...]
    rates_per_day: tuple[float, ...]

    def __post_init__(self) -> None:
        b = np.asarray(self.breaks_days, dtype=float)
        r = np.asarray(self.rates_per_day, dtype=float)
        if b.ndim != 1 or b.size == 0 or b[0] != 0.0 or np.any(np.diff(b) <= 0):
            raise ValueError("breaks_days must start at 0 and increase strictly")
        if r.shape != b.shape or np.any(r < 0) or not np.all(np.isfinite(r)):
            raise ValueError("rates_per_day needs one finite non-negative rate per break")

    @property
    def _knots(self) -> tuple[np.ndarray, np.ndarray]:
        b = np.asarray(self.breaks_days, dtype=float)
        r = np.asarray(self.rates_per_day, dtype=float)
        cum = np.concatenate([[0.0], np.cumsum(r[:-1] * np.diff(b))])
        return b, cum

    def hazard(self, t_days: np.ndarray) -> np.ndarray:
        t = np.asarray(t_days, dtype=float)
        idx = np.searchsorted(np.asarray(self.breaks_days), t, side="right") - 1
        return np.asarray(self.rates_per_day)[np.clip(idx, 0, None)]

    def cumulative(self, t_days: np.ndarray) -> np.ndarray:
        t = np.asarray(t_days, dtype=float)
        b, cum = self._knots
        last_rate = self.rates_per_day[-1]
        inside = np.interp(t, b, cum)
        with np.errstate(invalid="ignore"):
            beyond = cum[-1] + last_rate * (t - b[-1])
        out = np.where(t > b[-1], beyond, inside)
        return np.where(np.isposinf(t) & (last_rate == 0.0), cum[-1], out)

    def inverse_cumulative(self, h: np.ndarray) -> np.ndarray:
        h = np.asarray(h, dtype=float)
        b, cum = self._knots
        r = np.asarray(self.rates_per_day, dtype=float)
        # Interval j holds h when cum[j] < h <= cum[j+1]; zero-rate intervals add no mass and are
        # never chosen for h > cum[j], so the inverse is the first time H0 reaches h.
        j = np.clip(np.searchsorted(cum, h, side="left") - 1, 0, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = b[j] + (h - cum[j]) / r[j]
        t = np.where(h <= 0.0, 0.0, t)
        return np.where(np.isnan(t), np.inf, t)


def invert_piecewise_cumulative_hazard(
    baseline: BaselineHazard,
    target: np.ndarray,
    scale: np.ndarray,
    breaks_days: np.ndarray,
    multipliers: np.ndarray,
) -> np.ndarray:
    """Solve ``H(T) = target`` exactly for a multiplier that changes at person-specific breaks.

    ``H(t) = scale * sum_j m_j * [H0(min(t, b_{j+1})) - H0(b_j)]^+`` with ``b_0 = 0``:
    a Cox model whose time-varying covariate (e.g. time since infection) is piecewise
    constant on each person's time axis (Austin 2012; Hendry 2014). The segment holding the
    target is found from the cumulative hazard at the breaks, then ``H0`` is inverted inside it.

    Parameters
    ----------
    baseline : BaselineHazard
        ``H0`` on the same time axis as ``breaks_days`` (days since the person's start).
    target : ndarray, shape (n,)
        Draws of ``Exp(1)`` (or any cumulative-hazard level to reach).
    scale : ndarray, shape (n,)
        Time-fixed multiplier ``exp(x'beta)`` per person (> 0).
    breaks_days : ndarray, shape (n, K)
        Non-decreasing breakpoints per person (> 0; ``inf`` where absent).
    multipliers : ndarray, shape (n, K + 1)
        Hazard multiplier on each segment (>= 0); segment 0 runs from 0 to ``breaks[:, 0]``.

    Returns
    -------
    ndarray, shape (n,)
        Event times in days; ``inf`` where the hazard never accumulates ``target``.
    """
    target = np.asarray(target, dtype=float)
    scale = np.asarray(scale, dtype=float)
    n = target.shape[0]
    breaks = np.asarray(breaks_days, dtype=float).reshape(n, -1)
    mult = np.asarray(multipliers, dtype=float).reshape(n, breaks.shape[1] + 1)
    edges = np.concatenate([np.zeros((n, 1)), breaks], axis=1)  # (n, K+1) segment starts
    h0_edges = baseline.cumulative(edges)
    # Column by column (segments are few, persons many). An absent (infinite) break
    # contributes nothing more than the remaining mass, handled by treating inf - inf as inf.
    cum_at_edges, mass = [0.0 * scale], None
    for j in range(1, edges.shape[1]):
        with np.errstate(invalid="ignore"):
            d_h0 = h0_edges[:, j] - h0_edges[:, j - 1]
        d_h0 = np.where(np.isnan(d_h0), np.inf, d_h0)
        seg_mass = np.where(mult[:, j - 1] == 0.0, 0.0, mult[:, j - 1] * d_h0)
        mass = seg_mass if mass is None else mass + seg_mass  # as np.cumsum
        cum_at_edges.append(mass * scale)
    # the segment holding the target: the number of edges not beyond it, minus one
    seg = np.sum([cum <= target for cum in cum_at_edges], axis=0) - 1
    seg[seg < 0] = len(cum_at_edges) - 1  # (never for targets >= 0) as negative indexing
    start_h0, start_cum, m = h0_edges[:, 0], cum_at_edges[0], mult[:, 0]
    for j in range(1, edges.shape[1]):
        at = seg == j
        start_h0 = np.where(at, h0_edges[:, j], start_h0)
        start_cum = np.where(at, cum_at_edges[j], start_cum)
        m = np.where(at, mult[:, j], m)
    with np.errstate(divide="ignore", invalid="ignore"):
        h0_target = start_h0 + (target - start_cum) / (scale * m)
    times = baseline.inverse_cumulative(np.where(m > 0, h0_target, np.inf))
    return np.where((m > 0) & np.isfinite(h0_target), times, np.inf)
