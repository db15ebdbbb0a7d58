"""Readers of the scenario-file values that build no scenario dataclass.

Baseline hazards, effect profiles, calendar intensities and the provenance keys
(``[calibration]``, ``finding``) of a scenario TOML; :func:`reawaken.scenario.scenario_from_dict`
assembles them with the sections it reads itself. Every bad value raises
:class:`~reawaken.errors.ScenarioError` naming the key as a dotted path.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from .errors import ScenarioError
from .simulate.effects import EffectProfile
from .simulate.exposure import CalendarIntensity
from .simulate.hazards import (
    DAYS_PER_YEAR,
    BaselineHazard,
    Exponential,
    Gompertz,
    PiecewiseConstant,
    Weibull,
)
from .spec_reader import Section

BASELINE_FAMILIES = ("exponential", "weibull", "gompertz", "piecewise")


def parse_baseline(data: Any, path: str) -> BaselineHazard:
    """Read a baseline-hazard table; rates per year and scales in years become days.

    ``exponential`` ``h0 = rate``; ``weibull`` ``H0(t) = (t / scale)^shape``; ``gompertz``
    ``h0(t) = rate exp(shape t)``; ``piecewise`` ``rate[j]`` from ``breaks[j]`` on (Bender,
    Augustin & Blettner, Stat Med 2005;24:1713-1723, Table II).

    Parameters
    ----------
    data : Any
        The parsed table, with a ``family`` key naming one of the families above.
    path : str
        Its dotted key, for the error messages.

    Returns
    -------
    BaselineHazard

    Raises
    ------
    ScenarioError
        For an unknown family, an unknown key or a value out of range.
    """
    allowed = {
        "exponential": ("family", "rate_per_year"),
        "weibull": ("family", "shape", "scale_years"),
        "gompertz": ("family", "rate_per_year", "shape_per_year"),
        "piecewise": ("family", "breaks_years", "rate_per_year"),
    }
    if not isinstance(data, Mapping):
        raise ScenarioError(f"scenario key '{path}' must be a table with a 'family' key")
    family = Section({"family": data.get("family")}, path, ("family",)).choice(
        "family", BASELINE_FAMILIES
    )
    sec = Section(data, path, allowed[family])
    if family == "exponential":
        return Exponential(sec.number("rate_per_year", lo=0, lo_open=True) / DAYS_PER_YEAR)
    if family == "weibull":
        return Weibull(
            sec.number("shape", lo=0, lo_open=True),
            sec.number("scale_years", lo=0, lo_open=True) * DAYS_PER_YEAR,
        )
    if family == "gompertz":
        return Gompertz(
            sec.number("rate_per_year", lo=0, lo_open=True) / DAYS_PER_YEAR,
            sec.number("shape_per_year") / DAYS_PER_YEAR,
        )
    breaks = sec.numbers("breaks_years", lo=0)
    rates = sec.numbers("rate_per_year", lo=0)
    if breaks[0] != 0 or any(b <= a for a, b in itertools.pairwise(breaks)):
        raise ScenarioError(f"scenario key '{path}.breaks_years' must start at 0 and increase")
    if len(rates) != len(breaks):
        raise ScenarioError(
            f"scenario key '{path}.rate_per_year' needs one rate per break ({len(breaks)})"
        )
    return PiecewiseConstant(
        tuple(b * DAYS_PER_YEAR for b in breaks), tuple(r / DAYS_PER_YEAR for r in rates)
    )


def parse_profile(data: Any, path: str) -> EffectProfile:
    """Read an effect-profile table: ``HR(u) = hazard_ratio[j]`` from ``window_start_days[j]``.

    A piecewise-constant hazard ratio by days ``u`` since infection
    (:class:`~reawaken.simulate.effects.EffectProfile`).

    Parameters
    ----------
    data : Any
        The parsed table (``window_start_days``, default ``[0]``, and ``hazard_ratio``).
    path : str
        Its dotted key, for the error messages.

    Returns
    -------
    EffectProfile

    Raises
    ------
    ScenarioError
        If the starts do not begin at 0 and increase, or the ratios do not match them.
    """
    sec = Section(data, path, ("window_start_days", "hazard_ratio"))
    starts = sec.numbers("window_start_days", [0.0], lo=0)
    hrs = sec.numbers("hazard_ratio", lo=0)
    if starts[0] != 0 or any(b <= a for a, b in itertools.pairwise(starts)):
        raise ScenarioError(f"scenario key '{path}.window_start_days' must start at 0 and increase")
    if len(hrs) != len(starts):
        raise ScenarioError(
            f"scenario key '{path}.hazard_ratio' needs one value per window ({len(starts)})"
        )
    return EffectProfile(starts, hrs)


def parse_intensity(sec: Section, multiplier: float = 1.0) -> CalendarIntensity:
    """Read ``monthly_rate_per_year``: rate in calendar month ``m`` = ``rate[m] x multiplier``.

    The monthly rates are the wave shape and ``multiplier`` the level (e.g. solved by
    ``reawaken calibrate`` for an exposed share).

    Parameters
    ----------
    sec : Section
        The ``[infection]`` or ``[testing]`` table.
    multiplier : float, default 1
        Factor applied to every monthly rate.

    Returns
    -------
    CalendarIntensity
    """
    return CalendarIntensity(
        tuple(r * multiplier for r in sec.numbers("monthly_rate_per_year", lo=0))
    )


def parse_calibration(data: Any) -> dict[str, Any] | None:
    """Read the ``[calibration]`` provenance table, kept as written (``None`` when absent).

    Parameters
    ----------
    data : Any
        The parsed table, or ``None``.

    Returns
    -------
    dict or None
        A copy of the table.

    Raises
    ------
    ScenarioError
        If it is not a table.
    """
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise ScenarioError(
            "scenario key 'calibration' must be a table ([calibration]), as written by "
            "`reawaken calibrate`"
        )
    return dict(data)


def parse_finding(data: Any) -> str | None:
    """Read the ``finding`` key: the name of the reported finding a scenario reproduces.

    Parameters
    ----------
    data : Any
        The parsed value, or ``None``.

    Returns
    -------
    str or None

    Raises
    ------
    ScenarioError
        If it is not a string.
    """
    if data is not None and not isinstance(data, str):
        raise ScenarioError("scenario key 'finding' must be a string naming a reported finding")
    return data
