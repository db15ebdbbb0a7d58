"""Statistical and contract checks of the cohort simulator (reawaken.simulate.cohort).

Scenarios are written as TOML text so every assumption is visible in the test. Monte Carlo
checks use fixed seeds and wide tolerances (4 standard errors, p > 1e-3): a correct simulator
passes with near certainty, while a misplaced effect window, a wrong rate unit (days vs years,
months of 30 vs 30.44 days) or a depleted risk set shifts the statistics by many SEs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reawaken import schema
from reawaken.analysis.cox import fit_time_varying_cox
from reawaken.design.episodes import split_at_exposure
from reawaken.io import frame_sha256
from reawaken.scenario import load_scenario, parse_scenario_text, preset_text
from reawaken.simulate import cohort as cohort_module
from reawaken.simulate.cohort import simulate_cohort
from reawaken.simulate.effects import EffectProfile

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12.0
TINY_RATE = 1e-9  # per year: a hazard that (practically) never fires

# An infection intensity with waves; over 1000 days about 36% are infected.
WAVES = [0.05, 0.3, 0.1, 0.05, 0.2, 0.4, 0.15]


def _toml_list(values) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def make_scenario(
    *,
    n: int = 1000,
    end_day: int = 1000,
    resolution: str = "exact",
    accrual_days: int = 0,
    loss_rate: float = 0.0,
    covariates: str = "",
    outcome_rate: float = 0.01,
    outcome_log_hr: str = "{}",
    effect_starts=(0.0,),
    effect_hrs=(1.0,),
    infection_rates=(0.2,),
    documented: float = 1.0,
    infection_log_hr: str = "{}",
    death_rate: float = TINY_RATE,
    death_log_hr: str = "{}",
    death_after: tuple | None = None,
    testing: str = "",
):
    """A scenario with exponential outcome and death baselines (rates per year)."""
    after = ""
    if death_after is not None:
        starts, hrs = death_after
        after = (
            "after_infection = { window_start_days = "
            f"{_toml_list(starts)}, hazard_ratio = {_toml_list(hrs)} }}"
        )
    text = f"""
name = "test"
n = {n}

[followup]
end_day = {end_day}
accrual_days = {accrual_days}
loss_rate_per_year = {loss_rate!r}
time_resolution = "{resolution}"

{covariates}

[outcome]
baseline = {{ family = "exponential", rate_per_year = {outcome_rate!r} }}
log_hr = {outcome_log_hr}

[effect]
window_start_days = {_toml_list(effect_starts)}
hazard_ratio = {_toml_list(effect_hrs)}

[infection]
monthly_rate_per_year = {_toml_list(infection_rates)}
documented_probability = {documented!r}
log_hr = {infection_log_hr}

[death]
baseline = {{ family = "exponential", rate_per_year = {death_rate!r} }}
log_hr = {death_log_hr}
{after}

{testing}
"""
    return parse_scenario_text(text)


SMOKER = """
[[covariates]]
name = "smoker"
kind = "binary"
p = 0.3
"""


def _simulate(scenario, seed: int, n: int | None = None) -> pd.DataFrame:
    return simulate_cohort(scenario, np.random.default_rng(seed), n=n).data


# ----------------------------------------------------------------------------- determinism


def test_same_seed_same_frame_different_seed_different():
    scenario = load_scenario("flatiron_lung_mets")
    a = _simulate(scenario, 42, n=5000)
    b = _simulate(scenario, 42, n=5000)
    c = _simulate(scenario, 43, n=5000)
    pd.testing.assert_frame_equal(a, b)
    assert frame_sha256(a) == frame_sha256(b)
    assert frame_sha256(a) != frame_sha256(c)
    # Not just one cell: every random column differs.
    for col in ["age", schema.EVENT_DAY, "true_infection_day"]:
        assert not a[col].equals(c[col]), col


def test_common_random_numbers_across_effect_sizes():
    """The module promises per-component streams: a new effect size keeps the covariate,
    entry and infection draws (so infection times agree wherever both runs record them)."""
    scenario = load_scenario("flatiron_lung_mets")
    a = _simulate(scenario, 7, n=5000)
    b = _simulate(scenario.with_effect(EffectProfile.constant(4.0)), 7, n=5000)
    for col in ["age", "stage", "her2", "comorbidity", schema.ENTRY_DAY]:
        pd.testing.assert_series_equal(a[col], b[col])
    both = a["true_infection_day"].notna() & b["true_infection_day"].notna()
    assert both.sum() > 1000
    np.testing.assert_array_equal(
        a.loc[both, "true_infection_day"], b.loc[both, "true_infection_day"]
    )
    # ... while the outcome did change.
    assert (b[schema.EVENT] == 1).sum() > (a[schema.EVENT] == 1).sum()


# -------------------------------------------------------------------------- cohort contract


@pytest.mark.parametrize("preset", ["flatiron_lung_mets", "ukb_cancer_mortality"])
def test_presets_follow_cohort_contract(preset):
    scenario = load_scenario(preset)
    data = _simulate(scenario, 2025)
    check = schema.validate_cohort(data)
    assert len(data) == scenario.n
    assert check.n_persons == scenario.n
    np.testing.assert_array_equal(data[schema.ID].to_numpy(), np.arange(1, scenario.n + 1))
    assert data[schema.ID].dtype == np.int64
    assert set(data[schema.EVENT].unique()) <= {0, 1, 2}
    assert list(data.columns[:1]) == [schema.ID]
    assert set(scenario.covariate_names) <= set(data.columns)


# ------------------------------------------------------------ effect recovery by Cox models


def test_constant_hr_recovered_under_time_varying_exposure():
    """True HR 1.44 from infection on, confounded by a covariate; 200k persons."""
    scenario = make_scenario(
        n=200_000,
        covariates=SMOKER,
        outcome_rate=0.008,
        outcome_log_hr="{ smoker = 0.5 }",
        effect_hrs=(1.44,),
        infection_rates=WAVES,
        infection_log_hr="{ smoker = 0.3 }",
        death_rate=0.02,
    )
    data = _simulate(scenario, 144)
    infected = data["true_infection_day"].notna().mean()
    assert 0.30 < infected < 0.40
    events = int((data[schema.EVENT] == 1).sum())
    assert 3000 < events < 10_000
    episodes = split_at_exposure(data, covariates=["smoker"])
    fit = fit_time_varying_cox(episodes, covariates=["exposed", "smoker"])
    assert fit.events == events
    for term, truth in [("exposed", np.log(1.44)), ("smoker", 0.5)]:
        z = (fit.coef(term) - truth) / fit.se(term)
        assert abs(z) < 4, (term, fit.coef(term), fit.se(term))
    # Power: the estimate excludes no effect (SE ~0.03 against log 1.44 = 0.36).
    assert fit.coef("exposed") / fit.se("exposed") > 6


WINDOW_STARTS = (0.0, 90.0, 365.0)
WINDOW_HRS = (3.0, 1.5, 1.1)


def split_at_windows(data: pd.DataFrame, starts=WINDOW_STARTS) -> pd.DataFrame:
    """Episodes cut at exposure + each window start, with one 0/1 column per window.

    Piece k (k = 0..W) runs from max(entry, cut_k) to min(stop, cut_{k+1}) with cut_0 = entry,
    cut_{k+1} = exposure + starts[k] (inf if unexposed); empty pieces are dropped and the event
    sits on the piece that ends at the person's stop.
    """
    entry = data[schema.ENTRY_DAY].to_numpy(float)
    stop = data[schema.EVENT_DAY].to_numpy(float)
    expo = data[schema.EXPOSURE_DAY].to_numpy(float)
    expo = np.where(np.isnan(expo), np.inf, expo)
    event = (data[schema.EVENT].to_numpy() == 1).astype(np.int64)
    n, w = len(data), len(starts)
    cuts = np.column_stack([entry, expo[:, None] + np.asarray(starts)[None, :], np.full(n, np.inf)])
    lo = np.maximum(entry[:, None], cuts[:, :-1])  # (n, W+1)
    hi = np.minimum(stop[:, None], cuts[:, 1:])
    keep = lo < hi
    piece = np.broadcast_to(np.arange(w + 1), (n, w + 1))
    person = np.broadcast_to(np.arange(n)[:, None], (n, w + 1))
    out = pd.DataFrame(
        {
            "id": data[schema.ID].to_numpy()[person[keep]],
            "start": lo[keep],
            "stop": hi[keep],
            "event": np.where(hi[keep] == stop[person[keep]], event[person[keep]], 0),
        }
    )
    for k in range(w):
        out[f"w{k}"] = (piece[keep] == k + 1).astype(np.int64)
    return out


def test_split_at_windows_helper():
    data = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "entry_day": [0.0, 0.0, 10.0],
            "exposure_day": [np.nan, 50.0, 10.0],
            "event_day": [100.0, 500.0, 120.0],
            "event": [1, 1, 0],
        }
    )
    ep = split_at_windows(data)
    expected = pd.DataFrame(
        {
            "id": [1, 2, 2, 2, 2, 3, 3],
            "start": [0.0, 0.0, 50.0, 140.0, 415.0, 10.0, 100.0],
            "stop": [100.0, 50.0, 140.0, 415.0, 500.0, 100.0, 120.0],
            "event": [1, 0, 0, 0, 1, 0, 0],
            "w0": [0, 0, 1, 0, 0, 1, 0],
            "w1": [0, 0, 0, 1, 0, 0, 1],
            "w2": [0, 0, 0, 0, 1, 0, 0],
        }
    )
    pd.testing.assert_frame_equal(
        ep.sort_values(["id", "start"]).reset_index(drop=True), expected, check_dtype=False
    )


def test_window_hrs_recovered():
    scenario = make_scenario(
        n=100_000,
        outcome_rate=0.02,
        effect_starts=WINDOW_STARTS,
        effect_hrs=WINDOW_HRS,
        infection_rates=WAVES,
        death_rate=0.02,
    )
    data = _simulate(scenario, 90365)
    episodes = split_at_windows(data)
    # Person-time is preserved by the split.
    np.testing.assert_allclose(
        (episodes["stop"] - episodes["start"]).sum(),
        (data[schema.EVENT_DAY] - data[schema.ENTRY_DAY]).sum(),
        rtol=1e-12,
    )
    assert episodes["event"].sum() == (data[schema.EVENT] == 1).sum()
    fit = fit_time_varying_cox(episodes, covariates=["w0", "w1", "w2"])
    for k, hr in enumerate(WINDOW_HRS):
        z = (fit.coef(f"w{k}") - np.log(hr)) / fit.se(f"w{k}")
        assert abs(z) < 4, (k, fit.coef(f"w{k}"), fit.se(f"w{k}"))
    # Power: the early window is clearly separated from the late one.
    diff = fit.coef("w0") - fit.coef("w2")
    assert diff > 4 * np.hypot(fit.se("w0"), fit.se("w2"))


# ------------------------------------------------------------------- exposure process


def test_documented_share_and_day_rounding():
    p = 0.6
    scenario = make_scenario(
        n=50_000, resolution="day", infection_rates=WAVES, documented=p, death_rate=0.05
    )
    data = _simulate(scenario, 606)
    infected = data["true_infection_day"].notna().to_numpy()
    documented = data[schema.EXPOSURE_DAY].notna().to_numpy()
    assert not np.any(documented & ~infected)
    k, m = int(documented.sum()), int(infected.sum())
    assert m > 10_000
    z = (k / m - p) / np.sqrt(p * (1 - p) / m)
    assert abs(z) < 4, (k, m, z)
    np.testing.assert_array_equal(
        data.loc[documented, schema.EXPOSURE_DAY].to_numpy(),
        np.floor(data.loc[documented, "true_infection_day"].to_numpy()),
    )
    # Infection is recorded only before the end of follow-up.
    assert np.all(data.loc[infected, "true_infection_day"] < data.loc[infected, schema.EVENT_DAY])


def _month_edges(n_months: int, end_day: float) -> np.ndarray:
    edges = np.minimum(np.arange(n_months + 1) * DAYS_PER_MONTH, end_day)
    edges[-1] = end_day
    return edges


MONTHLY = [0.02, 0.05, 0.12, 0.06, 0.03, 0.02, 0.04, 0.08, 0.2, 0.1, 0.05, 0.03]


def test_infection_wave_shape():
    """Counts of first infections by calendar month follow the monthly intensity.

    Cells: the 12 months of a 365-day follow-up plus 'not infected'; probabilities from the
    survival function of the piecewise intensity (depletion included), multinomial chi-square.
    """
    n, end = 200_000, 365
    scenario = make_scenario(
        n=n, end_day=end, infection_rates=MONTHLY, outcome_rate=TINY_RATE, death_rate=TINY_RATE
    )
    data = _simulate(scenario, 2020)
    assert (data[schema.EVENT] == 0).all()
    assert (data[schema.EVENT_DAY] == end).all()
    t = data["true_infection_day"].to_numpy()
    edges = _month_edges(len(MONTHLY), end)
    observed = np.append(np.histogram(t[~np.isnan(t)], bins=edges)[0], np.isnan(t).sum())
    rate_per_day = np.asarray(MONTHLY) / DAYS_PER_YEAR
    cum = np.concatenate([[0.0], np.cumsum(rate_per_day * np.diff(edges))])
    surv = np.exp(-cum)
    probs = np.append(-np.diff(surv), surv[-1])
    res = stats.chisquare(observed, n * probs)
    assert res.pvalue > 1e-3, (observed, n * probs)
    assert np.argmax(observed[:-1]) == np.argmax(MONTHLY)
    # Power: the same test rejects the intensity shifted by one month (an off-by-one month).
    shifted = np.concatenate([[0.0], np.cumsum(np.roll(rate_per_day, 1) * np.diff(edges))])
    shifted_surv = np.exp(-shifted)
    wrong = np.append(-np.diff(shifted_surv), shifted_surv[-1])
    assert stats.chisquare(observed, n * wrong).pvalue < 1e-6


def test_zero_intensity_month_has_no_infections():
    scenario = make_scenario(
        n=50_000,
        end_day=365,
        infection_rates=[0.3, 0.0, 0.3],
        outcome_rate=TINY_RATE,
        death_rate=TINY_RATE,
    )
    t = _simulate(scenario, 1).loc[:, "true_infection_day"].to_numpy()
    in_gap = (t >= DAYS_PER_MONTH) & (t < 2 * DAYS_PER_MONTH)
    assert in_gap.sum() == 0
    first = int(np.sum(t < DAYS_PER_MONTH))
    expected = 50_000 * (1 - np.exp(-0.3 / 12))
    assert abs(first - expected) < 4 * np.sqrt(expected)


# --------------------------------------------------------- competing death and censoring


def test_competing_death_share():
    a, b, n = 0.1, 0.3, 50_000
    scenario = make_scenario(
        n=n, end_day=36_525, infection_rates=[0.0], outcome_rate=a, death_rate=b
    )
    data = _simulate(scenario, 12)
    assert data["true_infection_day"].isna().all()
    assert data[schema.EXPOSURE_DAY].isna().all()
    assert (data[schema.EVENT] != 0).all()  # P(censored at 100 years) = exp(-40)
    share = (data[schema.EVENT] == 2).mean()
    p = b / (a + b)
    assert abs(share - p) < 4 * np.sqrt(p * (1 - p) / n), share
    # The time to the first event is Exp(a + b).
    years = (data[schema.EVENT_DAY] - data[schema.ENTRY_DAY]).to_numpy() / DAYS_PER_YEAR
    assert stats.kstest(years, stats.expon(scale=1 / (a + b)).cdf).pvalue > 1e-3


def test_death_excess_after_infection():
    """death.after_infection HR 10 on days [0, 30): rate in the 30 days after infection over
    the rate before infection ~ 10, and back to ~1 afterwards (Poisson log-rate-ratio SEs)."""
    b = 0.2
    scenario = make_scenario(
        n=50_000,
        end_day=730,
        infection_rates=[0.3],
        outcome_rate=0.01,
        death_rate=b,
        death_after=((0.0, 30.0), (10.0, 1.0)),
    )
    data = _simulate(scenario, 30)
    entry = data[schema.ENTRY_DAY].to_numpy()
    end = data[schema.EVENT_DAY].to_numpy()
    t_inf = data["true_infection_day"].to_numpy()
    death = data[schema.EVENT].to_numpy() == 2
    infected = ~np.isnan(t_inf)
    since = np.where(infected, end - t_inf, np.nan)

    d_pre = int(np.sum(death & ~infected))
    pt_pre = float(np.sum(np.where(infected, t_inf, end) - entry))
    d_win = int(np.sum(death & infected & (since < 30)))
    pt_win = float(np.sum(np.clip(np.where(infected, since, 0.0), 0.0, 30.0)))
    d_late = int(np.sum(death & infected & (since >= 30)))
    pt_late = float(np.sum(np.clip(np.where(infected, since, 0.0) - 30.0, 0.0, None)))
    assert min(d_pre, d_win, d_late) > 300

    log_pre = np.log(d_pre / pt_pre)
    assert abs(log_pre - np.log(b / DAYS_PER_YEAR)) < 4 / np.sqrt(d_pre)
    log_rr_win = np.log(d_win / pt_win) - log_pre
    assert abs(log_rr_win - np.log(10.0)) < 4 * np.sqrt(1 / d_win + 1 / d_pre), log_rr_win
    log_rr_late = np.log(d_late / pt_late) - log_pre
    assert abs(log_rr_late) < 4 * np.sqrt(1 / d_late + 1 / d_pre), log_rr_late


def test_loss_to_follow_up_is_exponential():
    """Only loss (rate r) and the administrative end, with staggered entry: the loss times
    before the end follow Exp(r) truncated at each person's remaining follow-up (PIT + KS)."""
    r, end, n = 0.5, 1000, 50_000
    scenario = make_scenario(
        n=n,
        end_day=end,
        accrual_days=200,
        loss_rate=r,
        infection_rates=[0.0],
        outcome_rate=TINY_RATE,
        death_rate=TINY_RATE,
    )
    data = _simulate(scenario, 99)
    assert (data[schema.EVENT] == 0).all()
    entry = data[schema.ENTRY_DAY].to_numpy()
    np.testing.assert_array_equal(entry, np.floor(entry))
    assert entry.min() >= 0 and entry.max() <= 199
    assert len(np.unique(entry)) > 150
    x = data[schema.EVENT_DAY].to_numpy() - entry
    cap = end - entry
    lost = x < cap
    rate = r / DAYS_PER_YEAR
    # Share reaching the end: mean of exp(-rate * cap) over persons (binomial SE).
    p_end = np.exp(-rate * cap)
    z = (np.sum(~lost) - p_end.sum()) / np.sqrt(np.sum(p_end * (1 - p_end)))
    assert abs(z) < 4, z
    u = (1 - np.exp(-rate * x[lost])) / (1 - np.exp(-rate * cap[lost]))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # Power: the same check rejects a rate 20% off.
    wrong_rate = 1.2 * rate
    wrong = (1 - np.exp(-wrong_rate * x[lost])) / (1 - np.exp(-wrong_rate * cap[lost]))
    assert stats.kstest(wrong, "uniform").pvalue < 1e-6


# --------------------------------------------------------------------- day resolution


@pytest.mark.parametrize("which", ["flatiron", "staggered"])
def test_day_resolution_rules(which):
    if which == "flatiron":
        scenario = load_scenario("flatiron_lung_mets").with_n(5000)
    else:
        scenario = make_scenario(
            n=20_000,
            resolution="day",
            accrual_days=300,
            loss_rate=0.3,
            outcome_rate=0.2,
            death_rate=0.2,
            infection_rates=WAVES,
            documented=0.7,
        )
    data = _simulate(scenario, 8)
    schema.validate_cohort(data)
    entry = data[schema.ENTRY_DAY].to_numpy()
    stop = data[schema.EVENT_DAY].to_numpy()
    expo = data[schema.EXPOSURE_DAY].to_numpy()
    np.testing.assert_array_equal(entry, np.floor(entry))
    np.testing.assert_array_equal(stop, np.floor(stop))
    assert np.all(stop > entry)
    has = ~np.isnan(expo)
    assert has.sum() > 500
    np.testing.assert_array_equal(expo[has], np.floor(expo[has]))
    assert np.all(expo[has] >= entry[has])
    assert np.all(expo[has] <= stop[has])
    # Day resolution is ceil of the exact end: an event at day 10.3 is recorded on day 11.
    t_inf = data["true_infection_day"].to_numpy()
    inf = ~np.isnan(t_inf)
    assert np.all(t_inf[inf] < stop[inf])
    assert np.all(t_inf[inf] >= entry[inf])


# ------------------------------------------------------------------ test-negative cohort


def test_test_negative_selection_ukb_preset():
    scenario = load_scenario("ukb_cancer_mortality")
    data = _simulate(scenario, 2024)
    assert len(data) == scenario.n
    expo = data[schema.EXPOSURE_DAY].to_numpy()
    test = data[schema.TEST_DAY].to_numpy()
    stop = data[schema.EVENT_DAY].to_numpy()
    assert np.all(~np.isnan(expo) | ~np.isnan(test))
    has_test = ~np.isnan(test)
    assert np.all(test[has_test] < stop[has_test])
    assert np.all(test[has_test] >= data[schema.ENTRY_DAY].to_numpy()[has_test])
    both = has_test & ~np.isnan(expo)
    assert both.sum() > 100
    # Day resolution floors both days, so a negative test hours before infection may share
    # its day: strictly earlier only in exact time (checked below).
    assert np.all(test[both] <= expo[both])
    assert 0.2 < np.mean(~np.isnan(expo)) < 0.8


def test_test_negative_selection_exact_time():
    """The ukb preset in exact time: a negative test precedes a documented infection."""
    text = preset_text("ukb_cancer_mortality")
    assert 'time_resolution = "day"' in text
    scenario = parse_scenario_text(
        text.replace('time_resolution = "day"', 'time_resolution = "exact"')
    )
    data = _simulate(scenario, 5, n=20_000)
    expo = data[schema.EXPOSURE_DAY].to_numpy()
    test = data[schema.TEST_DAY].to_numpy()
    both = ~np.isnan(test) & ~np.isnan(expo)
    assert both.sum() > 500
    assert np.all(test[both] < expo[both])
    assert np.all(~np.isnan(expo) | ~np.isnan(test))


# ------------------------------------------------------------------------------ chunking


@pytest.mark.parametrize(
    ("preset", "n"), [("flatiron_lung_mets", 3500), ("ukb_cancer_mortality", 2500)]
)
def test_chunking(monkeypatch, preset, n):
    scenario = load_scenario(preset)
    monkeypatch.setattr(cohort_module, "CHUNK_PERSONS", 1000)
    a = _simulate(scenario, 77, n=n)
    b = _simulate(scenario, 77, n=n)
    assert len(a) == n
    np.testing.assert_array_equal(a[schema.ID].to_numpy(), np.arange(1, n + 1))
    assert a[schema.ID].is_unique
    pd.testing.assert_frame_equal(a, b)
    schema.validate_cohort(a)
    # Each chunk draws fresh numbers: no block of persons repeats another (ages away from the
    # clipping bounds are continuous, hence all distinct).
    spec = next(c for c in scenario.covariates if c.name == "age")
    ages = a["age"].to_numpy()
    interior = ages[(ages > spec.lower) & (ages < spec.upper)]
    assert interior.size > 0.9 * n
    assert len(np.unique(interior)) == interior.size
    # Chunked and unchunked cohorts agree in distribution (KS two-sample on age, event day).
    monkeypatch.setattr(cohort_module, "CHUNK_PERSONS", 250_000)
    c = _simulate(scenario, 77, n=n)
    for col in ["age", schema.EVENT_DAY]:
        assert stats.ks_2samp(a[col], c[col]).pvalue > 1e-3, col
