"""Closed-form power and required events for a hazard ratio of a binary exposure.

Two classical approximations for the (log-rank / Cox score) test of ``HR = 1``, each written as
one equation in the number of events ``D``, the hazard ratio ``HR`` and the power ``1 - beta``;
:func:`schoenfeld` and :func:`freedman` solve it for whichever of the three is left ``None``:

* Schoenfeld (Biometrics 1983): ``D = (z_{1-a/s} + z_{1-b})^2 / (p (1 - p) (log HR)^2)``, with
  ``p`` the exposed share of the persons at risk (allocation);
* Freedman (Stat Med 1982): ``D = (z_{1-a/s} + z_{1-b})^2 (1 + phi HR)^2 / (phi (1 - HR)^2)``,
  with ``phi = n_exposed / n_unexposed``: the form lifelines implements (after R's powerSurvEpi)
  in ``sample_size_necessary_under_cph`` and ``power_under_cph``, matched to 1e-8 in the tests.

``s`` is 2 for a two-sided test and 1 for a one-sided one. As in both papers (and lifelines), the
power is the inverse of the events equation, ``power = Phi(delta - z_{1-a/s})`` with ``delta``
the standardized effect: the chance of a two-sided rejection in the wrong direction is left out
(it is below ``a/2`` and negligible at useful power). :mod:`.design_analysis` gives the exact
two-tailed power together with the type S and type M errors.

Information and matched designs: ``1 / SE(log HR)^2 ~ D p (1 - p)`` (Schoenfeld), so a reported
CI implies ``D p (1 - p)`` and, with it, the power at any assumed HR. A 1:k matched design has
``p = 1 / (k + 1)`` (:func:`exposed_share_for_matching`). Holding the number of exposed events
``D_1 = p D`` fixed, the information is ``D p (1 - p) = D_1 (1 - p) = D_1 k / (k + 1)``, against
``D_1`` for a full cohort whose unexposed are unlimited (``p -> 0``): the classical efficiency
``k / (k + 1)`` of 1:k matching (Ury, Biometrics 1975) falls out of the formula
(:func:`matching_efficiency`).

Events are turned into persons through the probability that a person contributes an event over
the study (:func:`persons_for_events`): in closed form for exponential hazards with uniform
accrual (:func:`event_probability_exponential`) or by simulating a scenario
(:func:`event_probability_from_scenario`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from .. import schema
from ..checks import checked
from ..errors import AnalysisError
from ..scenario import Scenario
from ..simulate.cohort import simulate_cohort

METHODS = ("schoenfeld", "freedman")
DIRECTIONS = ("increase", "decrease")
_CEIL_ATOL = 1e-6  # 247.0000000001 from a round trip is 247 events, not 248


@dataclass(frozen=True)
class PowerResult:
    """One solved power calculation: events, hazard ratio and power, with the design.

    Attributes
    ----------
    method : str
        ``"schoenfeld"`` or ``"freedman"``.
    solved_for : str
        The quantity that was solved for: ``"events"``, ``"hr"`` or ``"power"``.
    events : float
        Number of events (exact, not rounded; :attr:`required_events` rounds up).
    hr : float
        Hazard ratio (exposed vs unexposed).
    power : float
        Power of the test of ``HR = 1`` at level ``alpha``.
    alpha : float
        Type I error rate (in total over both tails when ``sided == 2``).
    sided : int
        1 (one-sided test) or 2 (two-sided).
    exposed_share : float
        ``p``, the exposed share of the persons at risk.
    allocation_ratio : float
        ``phi = p / (1 - p)``, exposed per unexposed person.
    event_probability : float or None
        Probability that a person contributes an event, when given.
    persons : int or None
        Persons needed for :attr:`events` at :attr:`event_probability`, when given.
    """

    method: str
    solved_for: str
    events: float
    hr: float
    power: float
    alpha: float
    sided: int
    exposed_share: float
    allocation_ratio: float
    event_probability: float | None = None
    persons: int | None = None

    @property
    def required_events(self) -> int:
        """Events rounded up to a whole number (the usual statement of a required D)."""
        return _ceil(self.events)

    @property
    def information(self) -> float:
        """Schoenfeld information of the log HR, ``D p (1 - p) ~ 1 / SE(log HR)^2``."""
        return self.events * self.exposed_share * (1.0 - self.exposed_share)

    def to_dict(self) -> dict[str, Any]:
        """Fields plus ``required_events`` and ``information``, as plain Python values."""
        out = asdict(self)
        out["required_events"] = self.required_events
        out["information"] = self.information
        return out

    def summary(self) -> str:
        """One line: method, events, HR, power, test, allocation and (when known) persons."""
        test = f"{'two' if self.sided == 2 else 'one'}-sided alpha {self.alpha:g}"
        text = (
            f"{self.method.capitalize()} (solved for {self.solved_for}): "
            f"{self.required_events:,} events ({self.events:.2f}) for HR {self.hr:.3f} with "
            f"{self.power:.1%} power, {test}, exposed share {self.exposed_share:.3f} "
            f"(allocation 1:{1.0 / self.allocation_ratio:.2f} exposed:unexposed)"
        )
        if self.persons is not None:
            text += f"; {self.persons:,} persons at event probability {self.event_probability:.4g}"
        return text


def _ceil(x: float) -> int:
    """Round up, but take values within ``_CEIL_ATOL`` of a whole number as that number."""
    nearest = round(x)
    return int(nearest) if abs(x - nearest) < _CEIL_ATOL else math.ceil(x)


def _z(q: float) -> float:
    return float(stats.norm.ppf(q))


def _fail(where: str, message: str) -> AnalysisError:
    return AnalysisError(f"{where}: {message}")


def _check_design(where: str, alpha: float, sided: int, direction: str) -> None:
    if not 0.0 < alpha < 1.0:
        raise _fail(where, f"alpha = {alpha} is not in (0, 1); fix: pass e.g. alpha=0.05")
    if sided not in (1, 2):
        raise _fail(where, f"sided = {sided!r}; fix: pass sided=2 (two-sided) or sided=1")
    if direction not in DIRECTIONS:
        raise _fail(where, f"direction = {direction!r}; fix: pass one of {', '.join(DIRECTIONS)}")


def _check_unknowns(
    where: str, events: float | None, hr: float | None, power: float | None, alpha: float
) -> str:
    """Validate the two given quantities and return the name of the one left ``None``."""
    given = {"events": events, "hr": hr, "power": power}
    unknown = [k for k, v in given.items() if v is None]
    if len(unknown) != 1:
        left = ", ".join(unknown) if unknown else "none"
        raise _fail(
            where,
            f"exactly one of events, hr, power must be None (the one to solve for); None: {left}; "
            "fix: pass the other two",
        )
    if events is not None and not (math.isfinite(events) and events > 0):
        raise _fail(where, f"events = {events} must be a positive number; fix: pass events > 0")
    if hr is not None:
        if not (math.isfinite(hr) and hr > 0):
            raise _fail(
                where, f"hr = {hr} must be a positive finite hazard ratio; fix: pass e.g. hr=1.44"
            )
        if hr == 1.0:
            raise _fail(
                where,
                "hr = 1 is the null hypothesis: no number of events gives power against it (the "
                "rejection rate is alpha); fix: pass the HR you want to detect, e.g. hr=1.44",
            )
    if power is not None and not alpha < power < 1.0:
        raise _fail(
            where,
            f"power = {power} must lie in (alpha, 1) = ({alpha:g}, 1); a test rejects with "
            "probability alpha without any effect; fix: pass e.g. power=0.8",
        )
    return unknown[0]


def _check_share(where: str, exposed_share: float) -> None:
    if not (math.isfinite(exposed_share) and 0.0 < exposed_share < 1.0):
        raise _fail(
            where,
            f"exposed_share = {exposed_share} must be in (0, 1); fix: pass the exposed share of "
            "the persons at risk, e.g. 0.5 for 1:1, exposed_share_for_matching(4) for 1:4",
        )


def _result(
    method: str,
    solved_for: str,
    events: float,
    hr: float,
    power: float,
    alpha: float,
    sided: int,
    exposed_share: float,
    event_probability: float | None,
) -> PowerResult:
    persons = None
    if event_probability is not None:
        persons = persons_for_events(events, event_probability=event_probability)
    return PowerResult(
        method=method,
        solved_for=solved_for,
        events=float(events),
        hr=float(hr),
        power=float(power),
        alpha=float(alpha),
        sided=int(sided),
        exposed_share=float(exposed_share),
        allocation_ratio=float(exposed_share / (1.0 - exposed_share)),
        event_probability=None if event_probability is None else float(event_probability),
        persons=persons,
    )


@checked
def schoenfeld(
    *,
    events: float | None = None,
    hr: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    exposed_share: float = 0.5,
    sided: int = 2,
    direction: str = "increase",
    event_probability: float | None = None,
) -> PowerResult:
    """Schoenfeld's events–HR–power relation, solved for the argument left ``None``.

    ``D = (z_{1-a/s} + z_{1-b})^2 / (p (1 - p) (log HR)^2)`` (Schoenfeld, Biometrics 1983).

    Parameters
    ----------
    events, hr, power : float or None
        Exactly one must be None: it is solved for. For ``hr`` the answer is
        ``exp(+-(z_{1-a/s} + z_{1-b}) / sqrt(D p (1 - p)))``, ``+`` for
        ``direction="increase"`` (HR > 1), ``-`` for ``"decrease"``.
    alpha : float
        Type I error rate (two-sided total when ``sided=2``).
    exposed_share : float
        ``p``, the exposed share of the persons at risk: 0.5 for 1:1, ``1 / (k + 1)`` for 1:k
        matching (:func:`exposed_share_for_matching`).
    sided : {2, 1}
        Two-sided or one-sided test.
    direction : {"increase", "decrease"}
        Which root to return when solving for ``hr``.
    event_probability : float, optional
        Probability that a person contributes an event; adds ``persons = ceil(D / prob)``.

    Returns
    -------
    PowerResult

    Examples
    --------
    >>> import reawaken as rw
    >>> plan = rw.schoenfeld(hr=0.7, power=0.8)
    >>> round(plan.events, 2)
    246.79
    >>> round(rw.schoenfeld(events=189, hr=1.44, exposed_share=0.2).power, 3)
    0.518
    """
    where = "schoenfeld"
    _check_design(where, alpha, sided, direction)
    _check_share(where, exposed_share)
    unknown = _check_unknowns(where, events, hr, power, alpha)
    q = exposed_share * (1.0 - exposed_share)
    z_a = _z(1.0 - alpha / sided)
    if unknown == "events":
        events = (z_a + _z(power)) ** 2 / (q * math.log(hr) ** 2)
    elif unknown == "power":
        power = float(stats.norm.cdf(math.sqrt(events * q) * abs(math.log(hr)) - z_a))
    else:
        log_hr = (z_a + _z(power)) / math.sqrt(events * q)
        hr = math.exp(log_hr if direction == "increase" else -log_hr)
    return _result(
        "schoenfeld", unknown, events, hr, power, alpha, sided, exposed_share, event_probability
    )


@checked
def freedman(
    *,
    events: float | None = None,
    hr: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    allocation_ratio: float = 1.0,
    sided: int = 2,
    direction: str = "increase",
    event_probability: float | None = None,
) -> PowerResult:
    """Freedman's events–HR–power relation, solved for the argument left ``None``.

    ``D = (z_{1-a/s} + z_{1-b})^2 (1 + phi HR)^2 / (phi (1 - HR)^2)`` (Freedman, Stat Med 1982).

    Parameters
    ----------
    events, hr, power : float or None
        Exactly one must be None: it is solved for. For ``hr``, with
        ``c = sqrt(D phi) / (z_{1-a/s} + z_{1-b})``, the roots are ``HR = (1 + c) / (c - phi)``
        (increase; needs ``c > phi``) and ``HR = (c - 1) / (c + phi)`` (decrease; needs
        ``c > 1``). Beyond those bounds no HR reaches the power: Freedman's standardized effect
        ``sqrt(D phi) |1 - HR| / (1 + phi HR)`` stays below ``sqrt(D / phi)`` as HR grows and
        below ``sqrt(D phi)`` as HR falls to 0.
    alpha : float
        Type I error rate (two-sided total when ``sided=2``).
    allocation_ratio : float
        ``phi = n_exposed / n_unexposed`` (lifelines' ``ratio_of_participants``); 1/k for 1:k
        matching.
    sided : {2, 1}
        Two-sided or one-sided test.
    direction : {"increase", "decrease"}
        Which root to return when solving for ``hr``.
    event_probability : float, optional
        Probability that a person contributes an event; adds ``persons = ceil(D / prob)``.

    Returns
    -------
    PowerResult

    Examples
    --------
    >>> import reawaken as rw
    >>> round(rw.freedman(hr=0.7, power=0.8).events, 2)
    252.04
    """
    where = "freedman"
    _check_design(where, alpha, sided, direction)
    phi = allocation_ratio
    if not (math.isfinite(phi) and phi > 0):
        raise _fail(
            where,
            f"allocation_ratio = {phi} must be positive (n_exposed / n_unexposed); fix: pass "
            "e.g. 1.0 for 1:1 or 0.25 for 1:4",
        )
    unknown = _check_unknowns(where, events, hr, power, alpha)
    z_a = _z(1.0 - alpha / sided)
    if unknown == "events":
        events = (z_a + _z(power)) ** 2 * (1.0 + phi * hr) ** 2 / (phi * (1.0 - hr) ** 2)
    elif unknown == "power":
        delta = math.sqrt(events * phi) * abs(1.0 - hr) / (1.0 + phi * hr)
        power = float(stats.norm.cdf(delta - z_a))
    else:
        c = math.sqrt(events * phi) / (z_a + _z(power))
        bound = phi if direction == "increase" else 1.0
        if c <= bound:
            raise _fail(
                where,
                f"with {events:g} events and allocation ratio {phi:g} no HR "
                f"{'above' if direction == 'increase' else 'below'} 1 reaches {power:.1%} power "
                "under Freedman's formula; fix: more events, lower power, or a more balanced "
                "allocation",
            )
        hr = (1.0 + c) / (c - phi) if direction == "increase" else (c - 1.0) / (c + phi)
    share = phi / (1.0 + phi)
    return _result("freedman", unknown, events, hr, power, alpha, sided, share, event_probability)


@checked
def minimum_detectable_hr(
    events: float,
    *,
    power: float = 0.8,
    alpha: float = 0.05,
    exposed_share: float = 0.5,
    sided: int = 2,
    direction: str = "increase",
    method: str = "schoenfeld",
) -> float:
    """Smallest HR (or, for ``direction="decrease"``, largest HR < 1) detected with ``power``.

    Schoenfeld: ``exp(+-(z_{1-a/s} + z_{1-b}) / sqrt(D p (1 - p)))`` (Schoenfeld 1983); Freedman:
    the root of its events equation at ``phi = p / (1 - p)`` (Freedman 1982).

    Examples
    --------
    >>> import reawaken as rw
    >>> round(rw.minimum_detectable_hr(200), 3)
    1.486
    """
    if method not in METHODS:
        raise AnalysisError(
            f"minimum_detectable_hr: method = {method!r}; fix: pass one of {', '.join(METHODS)}"
        )
    common = {"events": events, "power": power, "alpha": alpha, "sided": sided}
    if method == "schoenfeld":
        res = schoenfeld(**common, exposed_share=exposed_share, direction=direction)
    else:
        _check_share("minimum_detectable_hr", exposed_share)
        phi = exposed_share / (1.0 - exposed_share)
        res = freedman(**common, allocation_ratio=phi, direction=direction)
    return res.hr


@checked
def exposed_share_for_matching(controls: int) -> float:
    """Exposed share ``p = 1 / (k + 1)`` of a 1:k matched design (k controls per exposed)."""
    if int(controls) != controls or controls < 1:
        raise AnalysisError(
            f"exposed_share_for_matching: controls = {controls} must be a whole number >= 1 "
            "(controls per exposed person); fix: pass e.g. 4 for 1:4 matching"
        )
    return 1.0 / (int(controls) + 1.0)


@checked
def matching_efficiency(controls: int) -> float:
    """Information of 1:k matching relative to a full cohort, ``(1 - p)|_{p=1/(k+1)} = k/(k+1)``.

    From ``D p (1 - p) = D_1 (1 - p)`` at fixed exposed events ``D_1`` (Schoenfeld 1983), against
    ``D_1`` as ``p -> 0`` (unlimited unexposed); the classical result of Ury (Biometrics 1975).
    """
    return 1.0 - exposed_share_for_matching(controls)


@checked
def persons_for_events(events: float, *, event_probability: float) -> int:
    """Persons expected to yield ``events`` events, ``ceil(D / P(event))``."""
    if not (math.isfinite(events) and events > 0):
        raise AnalysisError(
            f"persons_for_events: events = {events} must be a positive number; fix: pass the "
            "required events (e.g. PowerResult.events)"
        )
    if not 0.0 < event_probability <= 1.0:
        raise AnalysisError(
            f"persons_for_events: event_probability = {event_probability} must be in (0, 1]; "
            "fix: pass the probability that a person has the event during the study"
        )
    return _ceil(events / event_probability)


@checked
def event_probability_exponential(
    rate_per_year: float,
    followup_years: float,
    *,
    accrual_years: float = 0.0,
    loss_rate_per_year: float = 0.0,
) -> float:
    """Probability of an observed event with exponential event and loss hazards, uniform accrual.

    With event hazard ``l``, loss hazard ``m``, ``v = l + m``, accrual over ``a`` years and
    follow-up ``f`` years after the end of accrual (so each person's potential follow-up is
    uniform on ``[f, f + a]``): ``P = l/v (1 - exp(-v f) (1 - exp(-v a)) / (v a))``, which is
    ``l/v (1 - exp(-v f))`` at ``a = 0`` (competing exponential risks averaged over accrual, as in
    Lachin & Foulkes, Biometrics 1986).

    Parameters
    ----------
    rate_per_year : float
        Event hazard ``l`` per person-year (> 0).
    followup_years : float
        Follow-up after the end of accrual (minimum potential follow-up). For a scenario this is
        ``(end_day - accrual_days) / 365.25``.
    accrual_years : float
        Length of the uniform accrual (entry) period.
    loss_rate_per_year : float
        Hazard of anything else that ends follow-up first (loss, competing death), ``m``.
    """
    lam, mu, f, a = rate_per_year, loss_rate_per_year, followup_years, accrual_years
    where = "event_probability_exponential"
    if not (math.isfinite(lam) and lam > 0):
        raise AnalysisError(f"{where}: rate_per_year = {lam} must be positive; fix: pass e.g. 0.05")
    if not (math.isfinite(mu) and mu >= 0):
        raise AnalysisError(
            f"{where}: loss_rate_per_year = {mu} must be >= 0; fix: pass 0 for none"
        )
    if not (math.isfinite(f) and math.isfinite(a) and f >= 0 and a >= 0 and f + a > 0):
        raise AnalysisError(
            f"{where}: followup_years = {f} and accrual_years = {a} must be >= 0 with a positive "
            "total study length; fix: pass e.g. followup_years=3"
        )
    v = lam + mu
    if a == 0:
        return float(lam / v * -np.expm1(-v * f))
    return float(lam / v * (1.0 - math.exp(-v * f) * -np.expm1(-v * a) / (v * a)))


@checked
def event_probability_from_scenario(
    scenario: Scenario, *, n: int = 200_000, seed: int = 0
) -> float:
    """Share of ``n`` simulated persons with event code 1 (the outcome), ``mean(event == 1)``.

    Simulates with :func:`reawaken.simulate.cohort.simulate_cohort` and
    ``numpy.random.default_rng(seed)``; the Monte Carlo SE is ``sqrt(P (1 - P) / n)``. For a
    scenario that selects tested persons this is the probability among the selected.
    """
    if int(n) < 1:
        raise AnalysisError(
            f"event_probability_from_scenario: n = {n} must be >= 1; fix: pass e.g. n=200_000"
        )
    cohort = simulate_cohort(scenario, np.random.default_rng(seed), n=int(n))
    return float((cohort.data[schema.EVENT].to_numpy() == 1).mean())
