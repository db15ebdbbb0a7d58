"""Simulate a cohort from a scenario: covariates, infection, outcome, competing death, censoring.

Generative model for person ``i`` entering at calendar day ``e_i`` (Bender et al. 2005;
Austin 2012; Beyersmann et al. 2009 for competing risks as cause-specific hazards):

* first infection ``T_inf``: calendar intensity ``lambda(t) * exp(x'gamma)`` from ``e_i``;
* outcome hazard ``h0(t - e_i) * exp(x'beta) * HR(t - T_inf)``, ``HR`` the effect profile;
* competing death hazard ``d0(t - e_i) * exp(x'alpha) * HR_death(t - T_inf)``;
* loss to follow-up at a constant rate; administrative end at ``followup.end_day``.

Outcome and death times are drawn by exact inversion of their piecewise cumulative hazards;
the observed time is the first of the four, the event code 1 (outcome), 2 (competing death) or 0.
Infections before the end of follow-up are documented with ``documented_probability``; only
documented ones appear in ``exposure_day``, the truth stays in ``true_infection_day``.

Each component draws from its own child stream of the generator, so changing one part of a
scenario (say the effect size) leaves the others' draws unchanged (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import schema
from ..checks import checked
from ..errors import ScenarioError
from ..resources import check_memory, simulation_bytes
from ..scenario import Scenario
from .biases import detect_early, misattribute_deaths
from .covariates import draw_covariate_arrays, risk_multiplier
from .effects import EffectProfile
from .exposure import document
from .hazards import DAYS_PER_YEAR, Exponential, invert_piecewise_cumulative_hazard

CHUNK_PERSONS = 250_000
DEFAULT_SEED = 20250730  # publication date of Chia et al. (Nature, 30 July 2025)
# New streams go at the end: children are numbered, so existing streams keep their draws.
_STREAMS = (
    "covariates",
    "entry",
    "infection",
    "documentation",
    "outcome",
    "death",
    "loss",
    "testing",
    "detection",
    "misattribution",
    "negative_control",
)


@dataclass(frozen=True)
class Cohort:
    """A simulated cohort: the Cohort table plus the scenario and origin date it came from."""

    data: pd.DataFrame
    scenario: Scenario

    @property
    def origin_date(self) -> str:
        return self.scenario.followup.origin_date

    def summary(self) -> str:
        """One line: persons, documented exposed, events by type."""
        d = self.data
        counts = d[schema.EVENT].value_counts()
        return (
            f"{self.scenario.name}: {len(d):,} persons, "
            f"{int(d[schema.EXPOSURE_DAY].notna().sum()):,} exposed (documented), "
            f"{int(counts.get(1, 0)):,} {self.scenario.outcome_label}, "
            f"{int(counts.get(2, 0)):,} {self.scenario.competing_label}, "
            f"{int(counts.get(0, 0)):,} censored"
        )


def _simulate_chunk(scenario: Scenario, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``m`` persons as Cohort columns (arrays; ``id`` still 0), before selection of tested
    persons when the scenario asks for it."""
    streams = dict(zip(_STREAMS, rng.spawn(len(_STREAMS)), strict=True))
    fu, specs, inf, bias = (
        scenario.followup,
        scenario.covariates,
        scenario.infection,
        scenario.biases,
    )
    drawn = draw_covariate_arrays(specs, m, streams["covariates"])
    x = drawn if drawn else pd.DataFrame(index=pd.RangeIndex(m))  # for the risk multipliers
    if fu.accrual_days > 0:
        entry = np.floor(streams["entry"].random(m) * fu.accrual_days)
    else:
        entry = np.zeros(m)
    t_inf = inf.intensity.first_event_after(
        entry, risk_multiplier(x, specs, inf.log_hr, "infection.log_hr"), streams["infection"]
    )
    t_out, t_death, t_loss = _latent_times(scenario, x, entry, t_inf, streams)
    end = np.full(m, float(fu.end_day))

    t_end = np.minimum.reduce([t_out, t_death, t_loss, end])
    infected = t_inf < t_end
    documented = document(infected, inf.documented_probability, streams["documentation"])
    t_out = detect_early(t_out, t_inf, documented, bias, streams["detection"])
    t_end = np.minimum.reduce([t_out, t_death, t_loss, end])
    event = np.where(t_out == t_end, 1, np.where(t_death == t_end, 2, 0)).astype(np.int64)
    event = misattribute_deaths(event, t_end, t_inf, bias, streams["misattribution"])
    test_day = None
    if scenario.testing is not None:
        ts = scenario.testing
        t_test = ts.intensity.first_event_after(
            entry, risk_multiplier(x, specs, ts.log_hr, "testing.log_hr"), streams["testing"]
        )
        negative = (t_test < t_end) & (~documented | (t_test < t_inf))
        test_day = np.where(negative, t_test, np.nan)

    out = _cohort_columns(scenario, drawn, entry, np.where(documented, t_inf, np.nan), test_day)
    out[schema.EVENT_DAY] = np.ceil(t_end) if fu.time_resolution == "day" else t_end
    out[schema.EVENT] = event
    out["true_infection_day"] = np.where(infected, t_inf, np.nan)
    if scenario.negative_control is not None:
        out.update(_negative_control(scenario, x, entry, t_inf, t_end, documented, streams))
    if scenario.testing is not None and scenario.testing.select_tested:
        keep = documented | ~np.isnan(test_day)
        out = {name: values[keep] for name, values in out.items()}
    return out


def _latent_times(
    scenario: Scenario,
    x: dict[str, np.ndarray] | pd.DataFrame,
    entry: np.ndarray,
    t_inf: np.ndarray,
    streams: dict[str, np.random.Generator],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latent outcome, competing-death and loss-to-follow-up days, each by exact inversion of
    its cumulative hazard ``H(T) = E``, ``E ~ Exp(1)``, with the hazard multiplied after the
    infection (Bender et al. 2005; :func:`invert_piecewise_cumulative_hazard`)."""
    m, specs, fu = entry.size, scenario.covariates, scenario.followup
    offset = t_inf - entry  # days from entry to infection (inf if never)
    breaks, mult = scenario.effect.breakpoints(offset)
    t_out = entry + invert_piecewise_cumulative_hazard(
        scenario.outcome.baseline,
        streams["outcome"].standard_exponential(m),
        risk_multiplier(x, specs, scenario.outcome.log_hr, "outcome.log_hr"),
        breaks,
        mult,
    )
    d_breaks, d_mult = scenario.death_after_infection.breakpoints(offset)
    t_death = entry + invert_piecewise_cumulative_hazard(
        scenario.death.baseline,
        streams["death"].standard_exponential(m),
        risk_multiplier(x, specs, scenario.death.log_hr, "death.log_hr"),
        d_breaks,
        d_mult,
    )
    loss_draw = streams["loss"].standard_exponential(m)
    if fu.loss_rate_per_year <= 0:
        return t_out, t_death, np.full(m, np.inf)
    after = EffectProfile.constant(scenario.biases.loss_hr_after_infection)
    l_breaks, l_mult = after.breakpoints(offset)
    t_loss = entry + invert_piecewise_cumulative_hazard(
        Exponential(fu.loss_rate_per_year / DAYS_PER_YEAR), loss_draw, np.ones(m), l_breaks, l_mult
    )
    return t_out, t_death, t_loss


def _cohort_columns(
    scenario: Scenario,
    drawn: dict[str, np.ndarray],
    entry: np.ndarray,
    exposure_day: np.ndarray,
    test_day: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """The Cohort columns up to the event day: ``id`` (0 for now), the covariates (unobserved
    ones as ``true_<name>``), entry, documented exposure and negative-test days (whole days
    at day resolution: exposure and test floored)."""
    if scenario.followup.time_resolution == "day":
        exposure_day = np.floor(exposure_day)
        test_day = None if test_day is None else np.floor(test_day)
    out: dict[str, np.ndarray] = {schema.ID: np.zeros(entry.size, dtype=np.int64)}
    for spec in scenario.covariates:
        out[spec.name if spec.observed else f"true_{spec.name}"] = drawn[spec.name]
    out[schema.ENTRY_DAY] = entry
    out[schema.EXPOSURE_DAY] = exposure_day
    if test_day is not None:
        out[schema.TEST_DAY] = test_day
    return out


def _negative_control(
    scenario: Scenario,
    x: dict[str, np.ndarray] | pd.DataFrame,
    entry: np.ndarray,
    t_inf: np.ndarray,
    t_end: np.ndarray,
    documented: np.ndarray,
    streams: dict[str, np.random.Generator],
) -> dict[str, np.ndarray]:
    """The negative-control outcome's day and event columns."""
    m, specs, bias = entry.size, scenario.covariates, scenario.biases
    nc = scenario.negative_control.model
    t_nc = entry + invert_piecewise_cumulative_hazard(
        nc.baseline,
        streams["negative_control"].standard_exponential(m),
        risk_multiplier(x, specs, nc.log_hr, "negative_control.log_hr"),
        np.full((m, 1), np.inf),
        np.ones((m, 2)),
    )
    t_nc = detect_early(t_nc, t_inf, documented, bias, streams["detection"].spawn(1)[0])
    # censored at the main outcome too, so its exposure record stays complete
    nc_end = np.minimum(t_nc, t_end)
    day, event = schema.NEGATIVE_CONTROL_COLUMNS[:2]
    return {
        day: np.ceil(nc_end) if scenario.followup.time_resolution == "day" else nc_end,
        event: (t_nc == nc_end).astype(np.int64),
    }


def _guarded_chunk(scenario: Scenario, m: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """:func:`_simulate_chunk` with floating-point overflow and invalid operations as a
    :class:`ScenarioError` (valid scenarios never trigger them: the hazard code silences
    its own intended ``inf`` arithmetic)."""
    try:
        with np.errstate(over="raise", invalid="raise"):
            return _simulate_chunk(scenario, m, rng)
    except FloatingPointError as exc:
        raise ScenarioError(
            f"simulating scenario {scenario.name!r} failed numerically ({exc}): a baseline "
            "hazard, its shape or a hazard ratio is extreme; fix: check the [outcome], [death] "
            "and [effect] values (e.g. a Weibull shape between 0.1 and 10, rates per year)"
        ) from None


@checked
def simulate_cohort(
    scenario: Scenario,
    rng: np.random.Generator,
    *,
    n: int | None = None,
    progress: bool = False,
) -> Cohort:
    """Simulate ``n`` persons (default ``scenario.n``) of a scenario.

    Persons are simulated in chunks of ``CHUNK_PERSONS``, each from its own child generator
    spawned from ``rng``, fully vectorized within a chunk; the result depends only on the
    generator's state, the scenario and ``n`` (same seed, same bytes). When the scenario
    selects tested persons, chunks of the source population are drawn until ``n`` are selected.

    Parameters
    ----------
    scenario : Scenario
        The validated scenario.
    rng : numpy.random.Generator
        Source of all randomness.
    n : int, optional
        Cohort size; defaults to ``scenario.n``.
    progress : bool
        Show a progress bar (persons done).

    Returns
    -------
    Cohort
        ``data`` follows the Cohort contract of :mod:`reawaken.schema`, ids ``1..n``.

    Raises
    ------
    AnalysisError
        Before simulating, when ``n`` persons would not fit in the available memory
        (:func:`reawaken.resources.simulation_bytes`).

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> cohort.data.columns.tolist()[:5]
    ['id', 'age', 'stage', 'her2', 'comorbidity']
    >>> int(cohort.data["event"].isin([0, 1, 2]).all())
    1
    """
    target = scenario.n if n is None else int(n)
    if target < 1:
        raise ScenarioError(f"n must be >= 1, got {target}; fix: pass e.g. n=1000")
    check_memory(
        simulation_bytes(target, len(scenario.covariates), CHUNK_PERSONS),
        f"simulating {target:,} persons",
        "simulate fewer persons (--n), or use a machine with more memory",
    )
    selects = scenario.testing is not None and scenario.testing.select_tested
    parts: list[dict[str, np.ndarray]] = []
    have = 0
    keep_rate = 1.0
    with tqdm(total=target, disable=not progress, unit="persons", desc=scenario.name) as bar:
        while have < target:
            need = target - have
            size = need if not selects else int(np.ceil(1.2 * need / keep_rate)) + 100
            size = min(size, CHUNK_PERSONS)
            chunk = _guarded_chunk(scenario, size, rng.spawn(1)[0])
            rows = len(chunk[schema.ID])
            if selects:
                if rows == 0 and keep_rate < 1e-4:
                    raise ScenarioError(
                        f"the testing process of scenario {scenario.name!r} selects almost "
                        f"nobody (no tested person among the last {size:,} simulated); fix: "
                        "raise [testing] monthly_rate_per_year or the infection rates, or set "
                        "testing.select_tested = false"
                    )
                keep_rate = max(rows / size, 1e-5)
            chunk = {name: values[:need] for name, values in chunk.items()}
            parts.append(chunk)
            have += min(rows, need)
            bar.update(min(rows, need))
    columns = {name: _joined([part[name] for part in parts]) for name in parts[0]}
    columns[schema.ID] = np.arange(1, have + 1, dtype=np.int64)
    data = pd.DataFrame(columns, copy=False)  # the arrays are this table's own
    return Cohort(data, scenario)


def _joined(pieces: list[np.ndarray]) -> np.ndarray:
    """One column from its chunks (the chunk itself when there is one: no copy)."""
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
