"""The replicate's data steps as they were before issue 12 (commit 408a2f6), kept verbatim.

``simulate_cohort`` with its chunk (pandas frames built column by column),
``invert_piecewise_cumulative_hazard`` (cumulative sums and counts along each person's short
row of breaks) and ``split_at_exposure`` (two frames concatenated and sorted), imports made
absolute and public names prefixed ``legacy_``. They are the reference for bit-identical
cohorts and episodes in ``tests/simulate/test_simulate_identity.py`` and for the speed ratios
of ``tests/benchmarks/test_bench_throughput.py``. Not part of the package.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reawaken import schema
from reawaken.errors import ScenarioError
from reawaken.scenario import Scenario
from reawaken.simulate.biases import detect_early, misattribute_deaths
from reawaken.simulate.cohort import _STREAMS
from reawaken.simulate.covariates import draw_covariates, risk_multiplier
from reawaken.simulate.effects import EffectProfile
from reawaken.simulate.exposure import document
from reawaken.simulate.hazards import DAYS_PER_YEAR, BaselineHazard, Exponential

START, STOP, EXPOSED = "start", "stop", "exposed"
CHUNK_PERSONS = 250_000


def _simulate_chunk(scenario: Scenario, m: int, rng: np.random.Generator) -> pd.DataFrame:
    streams = dict(zip(_STREAMS, rng.spawn(len(_STREAMS)), strict=True))
    fu = scenario.followup
    x = draw_covariates(scenario.covariates, m, streams["covariates"])
    specs = scenario.covariates
    if fu.accrual_days > 0:
        entry = np.floor(streams["entry"].random(m) * fu.accrual_days)
    else:
        entry = np.zeros(m)

    inf = scenario.infection
    t_inf = inf.intensity.first_event_after(
        entry, risk_multiplier(x, specs, inf.log_hr, "infection.log_hr"), streams["infection"]
    )
    offset = t_inf - entry  # days from entry to infection (inf if never)

    breaks, mult = scenario.effect.breakpoints(offset)
    t_out = entry + legacy_invert_piecewise_cumulative_hazard(
        scenario.outcome.baseline,
        streams["outcome"].standard_exponential(m),
        risk_multiplier(x, specs, scenario.outcome.log_hr, "outcome.log_hr"),
        breaks,
        mult,
    )
    d_breaks, d_mult = scenario.death_after_infection.breakpoints(offset)
    t_death = entry + legacy_invert_piecewise_cumulative_hazard(
        scenario.death.baseline,
        streams["death"].standard_exponential(m),
        risk_multiplier(x, specs, scenario.death.log_hr, "death.log_hr"),
        d_breaks,
        d_mult,
    )
    loss_draw = streams["loss"].standard_exponential(m)
    bias = scenario.biases
    if fu.loss_rate_per_year > 0:
        l_breaks, l_mult = EffectProfile.constant(bias.loss_hr_after_infection).breakpoints(offset)
        t_loss = entry + legacy_invert_piecewise_cumulative_hazard(
            Exponential(fu.loss_rate_per_year / DAYS_PER_YEAR),
            loss_draw,
            np.ones(m),
            l_breaks,
            l_mult,
        )
    else:
        t_loss = np.full(m, np.inf)
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

    exposure_day = np.where(documented, t_inf, np.nan)
    event_day = t_end
    if fu.time_resolution == "day":
        exposure_day = np.floor(exposure_day)
        event_day = np.ceil(t_end)
        if test_day is not None:
            test_day = np.floor(test_day)

    out = x.rename(columns={c.name: f"true_{c.name}" for c in specs if not c.observed})
    out.insert(0, schema.ID, 0)
    out[schema.ENTRY_DAY] = entry
    out[schema.EXPOSURE_DAY] = exposure_day
    if test_day is not None:
        out[schema.TEST_DAY] = test_day
    out[schema.EVENT_DAY] = event_day
    out[schema.EVENT] = event
    out["true_infection_day"] = np.where(infected, t_inf, np.nan)
    if scenario.negative_control is not None:
        nc = scenario.negative_control.model
        t_nc = entry + legacy_invert_piecewise_cumulative_hazard(
            nc.baseline,
            streams["negative_control"].standard_exponential(m),
            risk_multiplier(x, specs, nc.log_hr, "negative_control.log_hr"),
            np.full((m, 1), np.inf),
            np.ones((m, 2)),
        )
        t_nc = detect_early(t_nc, t_inf, documented, bias, streams["detection"].spawn(1)[0])
        # censored at the main outcome too, so its exposure record stays complete
        nc_end = np.minimum(t_nc, t_end)
        out[schema.NEGATIVE_CONTROL_COLUMNS[0]] = (
            np.ceil(nc_end) if fu.time_resolution == "day" else nc_end
        )
        out[schema.NEGATIVE_CONTROL_COLUMNS[1]] = (t_nc == nc_end).astype(np.int64)
    if scenario.testing is not None and scenario.testing.select_tested:
        out = out[documented | ~np.isnan(test_day)]
    return out


def _guarded_chunk(scenario: Scenario, m: int, rng: np.random.Generator) -> pd.DataFrame:
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


def legacy_simulate_cohort(
    scenario: Scenario,
    rng: np.random.Generator,
    *,
    n: int | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """The Cohort table of ``simulate_cohort`` before issue 12 (same arguments)."""
    target = scenario.n if n is None else int(n)
    if target < 1:
        raise ScenarioError(f"n must be >= 1, got {target}; fix: pass e.g. n=1000")
    selects = scenario.testing is not None and scenario.testing.select_tested
    parts: list[pd.DataFrame] = []
    have = 0
    keep_rate = 1.0
    while have < target:
        need = target - have
        size = need if not selects else int(np.ceil(1.2 * need / keep_rate)) + 100
        size = min(size, CHUNK_PERSONS)
        chunk = _guarded_chunk(scenario, size, rng.spawn(1)[0])
        if selects:
            if len(chunk) == 0 and keep_rate < 1e-4:
                raise ScenarioError(
                    f"the testing process of scenario {scenario.name!r} selects almost "
                    f"nobody (no tested person among the last {size:,} simulated); fix: "
                    "raise [testing] monthly_rate_per_year or the infection rates, or set "
                    "testing.select_tested = false"
                )
            keep_rate = max(len(chunk) / size, 1e-5)
        chunk = chunk.iloc[:need]
        parts.append(chunk)
        have += len(chunk)
    data = pd.concat(parts, ignore_index=True)
    data[schema.ID] = np.arange(1, len(data) + 1, dtype=np.int64)
    return data


def legacy_invert_piecewise_cumulative_hazard(
    baseline: BaselineHazard,
    target: np.ndarray,
    scale: np.ndarray,
    breaks_days: np.ndarray,
    multipliers: np.ndarray,
) -> np.ndarray:
    """``invert_piecewise_cumulative_hazard`` before issue 12 (same arguments)."""
    target = np.asarray(target, dtype=float)
    n = target.shape[0]
    breaks = np.asarray(breaks_days, dtype=float).reshape(n, -1)
    mult = np.asarray(multipliers, dtype=float).reshape(n, breaks.shape[1] + 1)
    edges = np.concatenate([np.zeros((n, 1)), breaks], axis=1)  # (n, K+1) segment starts
    h0_edges = baseline.cumulative(edges)
    # Baseline increment on each bounded segment; an absent (infinite) break contributes nothing
    # more than the remaining mass, handled by treating inf - inf as inf.
    with np.errstate(invalid="ignore"):
        d_h0 = np.diff(h0_edges, axis=1)
    d_h0 = np.where(np.isnan(d_h0), np.inf, d_h0)
    seg_mass = np.where(mult[:, :-1] == 0.0, 0.0, mult[:, :-1] * d_h0)
    cum_at_edges = (
        np.concatenate([np.zeros((n, 1)), np.cumsum(seg_mass, axis=1)], axis=1) * scale[:, None]
    )
    seg = np.sum(cum_at_edges <= target[:, None], axis=1) - 1  # last edge not beyond target
    rows = np.arange(n)
    start_h0 = h0_edges[rows, seg]
    m = mult[rows, seg]
    with np.errstate(divide="ignore", invalid="ignore"):
        h0_target = start_h0 + (target - cum_at_edges[rows, seg]) / (scale * m)
    times = baseline.inverse_cumulative(np.where(m > 0, h0_target, np.inf))
    return np.where((m > 0) & np.isfinite(h0_target), times, np.inf)


def legacy_split_at_exposure(
    data: pd.DataFrame, *, covariates: Sequence[str] = (), cause: int = 1
) -> pd.DataFrame:
    """Episodes table (``id, start, stop, event, exposed, covariates``) from a Cohort table.

    ``event`` is 1 where the person's ``event`` equals ``cause`` on their last row and 0
    elsewhere (other causes are censored: cause-specific hazards).
    """
    ids = data[schema.ID].to_numpy()
    entry = data[schema.ENTRY_DAY].to_numpy(dtype=float)
    stop = data[schema.EVENT_DAY].to_numpy(dtype=float)
    expo = data[schema.EXPOSURE_DAY].to_numpy(dtype=float)
    event = (data[schema.EVENT].to_numpy() == cause).astype(np.int64)

    with np.errstate(invalid="ignore"):
        split = (expo > entry) & (expo < stop)
        exposed_whole = expo <= entry
    n = len(data)
    first = pd.DataFrame(
        {
            schema.ID: ids,
            START: entry,
            STOP: np.where(split, expo, stop),
            schema.EVENT: np.where(split, 0, event),
            EXPOSED: exposed_whole.astype(np.int64),
            "_row": np.arange(n),
            "_order": 0,
        }
    )
    second = pd.DataFrame(
        {
            schema.ID: ids[split],
            START: expo[split],
            STOP: stop[split],
            schema.EVENT: event[split],
            EXPOSED: 1,
            "_row": np.flatnonzero(split),
            "_order": 1,
        }
    )
    episodes = pd.concat([first, second], ignore_index=True).sort_values(
        ["_row", "_order"], kind="stable"
    )
    rows = episodes["_row"].to_numpy()
    for name in covariates:
        episodes[name] = data[name].to_numpy()[rows]
    return episodes.drop(columns=["_row", "_order"]).reset_index(drop=True)
