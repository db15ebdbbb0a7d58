"""Exposure effect profiles: hazard ratio by time since infection.

A profile is a step function ``HR(u)`` of ``u`` = days since (true) infection: ``hazard_ratios[j]``
applies on ``[window_start_days[j], window_start_days[j+1])`` and the last one from its start
onward. A constant HR is the one-window profile ``([0], [hr])``. The reported UK Biobank
association was strongest in the first months after infection and faded later, which a profile
such as ``([0, 90, 365], [3.0, 1.5, 1.1])`` encodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import check_argument
from ..errors import ScenarioError


@dataclass(frozen=True)
class EffectProfile:
    """Piecewise-constant hazard ratio by days since infection.

    Parameters
    ----------
    window_start_days : tuple of float
        Increasing window starts, the first one 0.
    hazard_ratios : tuple of float
        Hazard ratio (> 0, or 0 to switch the hazard off) in each window.
    """

    window_start_days: tuple[float, ...] = (0.0,)
    hazard_ratios: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        for name in ("window_start_days", "hazard_ratios"):
            check_argument("EffectProfile", name, getattr(self, name), tuple[float, ...])
        starts = np.asarray(self.window_start_days, dtype=float)
        hrs = np.asarray(self.hazard_ratios, dtype=float)
        if starts.ndim != 1 or starts.size == 0 or starts[0] != 0.0:
            raise ScenarioError(
                f"window_start_days must start at 0, got {list(starts)}; fix: e.g. (0, 90, 365)"
            )
        if np.any(np.diff(starts) <= 0) or not np.all(np.isfinite(starts)):
            raise ScenarioError(
                f"window_start_days must be finite and increase strictly, got {list(starts)}; "
                "fix: e.g. (0, 90, 365)"
            )
        if hrs.shape != starts.shape or np.any(hrs < 0) or not np.all(np.isfinite(hrs)):
            raise ScenarioError(
                f"hazard_ratios needs one finite non-negative value per window ({starts.size}), "
                f"got {list(hrs)}; fix: e.g. (3.0, 1.5, 1.1) for three windows"
            )

    @classmethod
    def constant(cls, hazard_ratio: float) -> EffectProfile:
        """The profile with one hazard ratio from infection onward."""
        check_argument("EffectProfile.constant", "hazard_ratio", hazard_ratio, float)
        return cls((0.0,), (float(hazard_ratio),))

    @property
    def is_constant(self) -> bool:
        return len(self.hazard_ratios) == 1

    def hazard_ratio(self, days_since_infection: np.ndarray) -> np.ndarray:
        """``HR(u)``; 1 before infection (``u < 0``) and where ``u`` is NaN (never infected)."""
        u = np.asarray(days_since_infection, dtype=float)
        idx = np.searchsorted(np.asarray(self.window_start_days), u, side="right") - 1
        hr = np.asarray(self.hazard_ratios)[np.clip(idx, 0, None)]
        return np.where((u >= 0) & ~np.isnan(u), hr, 1.0)

    def breakpoints(self, infection_offset_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-person breaks and multipliers for :func:`invert_piecewise_cumulative_hazard`.

        Parameters
        ----------
        infection_offset_days : ndarray, shape (n,)
            Days from each person's time origin to infection (``inf`` if never infected).

        Returns
        -------
        breaks : ndarray, shape (n, W)
            ``offset + window_start_days`` (``inf`` for the never infected).
        multipliers : ndarray, shape (n, W + 1)
            1 before infection, then each window's hazard ratio.
        """
        offset = np.asarray(infection_offset_days, dtype=float)
        starts = np.asarray(self.window_start_days, dtype=float)
        breaks = offset[:, None] + starts[None, :]
        mult = np.concatenate([[1.0], np.asarray(self.hazard_ratios, dtype=float)])
        return breaks, np.broadcast_to(mult, (offset.size, mult.size))

    def describe(self) -> str:
        """One line, e.g. ``HR 3.00 on days 0-90, 1.50 on 90-365, 1.10 from 365``."""
        if self.is_constant:
            return f"constant HR {self.hazard_ratios[0]:.3g}"
        parts = []
        ends = [*self.window_start_days[1:], None]
        for start, end, hr in zip(self.window_start_days, ends, self.hazard_ratios, strict=True):
            span = f"days {start:g}-{end:g}" if end is not None else f"from day {start:g}"
            parts.append(f"{hr:.3g} on {span}")
        return "HR " + ", ".join(parts)
