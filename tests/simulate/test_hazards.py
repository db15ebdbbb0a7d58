"""Statistical and exact checks of the baseline hazards and of piecewise inversion.

Every check uses a fixed seed and a stated tolerance. Monte Carlo checks use wide bounds
(99.9% KM confidence intervals, |z| < 4, KS p > 1e-3) so that a correct implementation passes
with near certainty, while a wrong cumulative hazard, a wrong inverse or a misplaced break moves
the empirical distribution by many standard errors at n = 20,000.
"""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from scipy import integrate, stats

from reawaken.simulate.hazards import (
    Exponential,
    Gompertz,
    PiecewiseConstant,
    Weibull,
    invert_piecewise_cumulative_hazard,
    survival,
)

N_MC = 20_000

# Gompertz with a negative shape: H0(inf) = -rate/shape = 2, so exp(-2) ~ 13.5% never fail.
GOMPERTZ_NEG = Gompertz(rate_per_day=0.002, shape_per_day=-0.001)
GOMPERTZ_NEG_PLATEAU = 2.0

# A zero-rate interval in the middle of the piecewise hazard (days 200-500).
PIECEWISE_GAP = PiecewiseConstant((0.0, 200.0, 500.0, 900.0), (0.001, 0.0, 0.003, 0.0005))

_FAMILY_CASES = [
    ("exponential", Exponential(rate_per_day=0.001)),
    ("weibull-0.7", Weibull(shape=0.7, scale_days=1000.0)),
    ("weibull-1.5", Weibull(shape=1.5, scale_days=1000.0)),
    ("gompertz-pos", Gompertz(rate_per_day=0.0005, shape_per_day=0.002)),
    ("gompertz-neg", GOMPERTZ_NEG),
    ("piecewise", PiecewiseConstant((0.0, 150.0, 400.0), (0.002, 0.0005, 0.0015))),
    ("piecewise-zero-first", PiecewiseConstant((0.0, 100.0, 300.0), (0.0, 0.002, 0.001))),
    ("piecewise-zero-last", PiecewiseConstant((0.0, 200.0, 600.0), (0.001, 0.002, 0.0))),
    ("piecewise-zero-middle", PIECEWISE_GAP),
]


def _families(*, inverts: bool) -> list:
    """Parametrize cases over every baseline family (``inverts`` kept for call-site clarity)."""
    return [pytest.param(baseline, id=name) for name, baseline in _FAMILY_CASES]


FAMILIES = _families(inverts=True)
FAMILIES_FORWARD = _families(inverts=False)

GRID = np.concatenate([[0.0, 1e-6, 0.5], np.linspace(1.0, 3000.0, 97)])


def _flat_stretches(baseline) -> list[tuple[float, float]]:
    """Intervals where a piecewise hazard is zero (H0 is flat, so H0 is not invertible there)."""
    if not isinstance(baseline, PiecewiseConstant):
        return []
    ends = [*baseline.breaks_days[1:], np.inf]
    return [
        (b, e)
        for b, e, r in zip(baseline.breaks_days, ends, baseline.rates_per_day, strict=True)
        if r == 0.0
    ]


def _invertible_grid(baseline) -> np.ndarray:
    """GRID without the points inside (or at the end of) a zero-hazard stretch."""
    keep = np.ones(GRID.size, dtype=bool)
    for b, e in _flat_stretches(baseline):
        keep &= ~((GRID > b) & (GRID <= e))
        if b == 0.0:
            keep &= GRID > e  # H0 = 0 on [0, e]: the inverse of 0 is not unique
    return GRID[keep]


# --------------------------------------------------------------------- exact identities


@pytest.mark.parametrize("baseline", FAMILIES)
def test_inverse_cumulative_round_trip(baseline):
    t = _invertible_grid(baseline)
    h = baseline.cumulative(t)
    if isinstance(baseline, Gompertz) and baseline.shape_per_day < 0:
        assert np.all(h < GOMPERTZ_NEG_PLATEAU)
    np.testing.assert_allclose(baseline.inverse_cumulative(h), t, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("baseline", FAMILIES)
def test_cumulative_of_inverse_is_identity(baseline):
    """H0(H0^{-1}(h)) = h for every reachable level, flat stretches included."""
    top = float(baseline.cumulative(np.array([1e7]))[0])
    h = np.linspace(0.0, min(top, 5.0), 201)[1:-1]
    np.testing.assert_allclose(baseline.cumulative(baseline.inverse_cumulative(h)), h, rtol=1e-10)


@pytest.mark.parametrize("baseline", FAMILIES_FORWARD)
def test_hazard_integrates_to_cumulative(baseline):
    t_points = np.array([0.5, 37.0, 150.0, 420.0, 1000.0, 2500.0])
    knots = [b for b in getattr(baseline, "breaks_days", ()) if b > 0]
    for t in t_points:
        inner = [k for k in knots if k < t]
        integral, err = integrate.quad(
            lambda u: float(baseline.hazard(np.array([u]))[0]),
            0.0,
            float(t),
            points=inner or None,
            limit=200,
            epsabs=1e-13,
            epsrel=1e-11,
        )
        expected = float(baseline.cumulative(np.array([t]))[0])
        assert integral == pytest.approx(expected, rel=1e-7, abs=1e-12), (t, integral, err)


def test_survival_is_exp_minus_cumulative():
    b = Weibull(shape=1.5, scale_days=1000.0)
    t = np.array([0.0, 500.0, 1000.0, 2000.0])
    np.testing.assert_allclose(survival(b, t), np.exp(-((t / 1000.0) ** 1.5)), rtol=1e-14)


# ---------------------------------------------------------- Monte Carlo: Kaplan-Meier and KS


def _simulate_plain(baseline, seed: int, n: int = N_MC) -> np.ndarray:
    """Times from ``invert_piecewise_cumulative_hazard`` with no breaks and multiplier 1."""
    rng = np.random.default_rng(seed)
    e = rng.standard_exponential(n)
    return invert_piecewise_cumulative_hazard(
        baseline, e, np.ones(n), np.full((n, 1), np.inf), np.ones((n, 2))
    )


def _true_quantile_times(baseline, levels) -> np.ndarray:
    """Times where the true survival equals each level: H0^{-1}(-log S)."""
    return baseline.inverse_cumulative(-np.log(np.asarray(levels, dtype=float)))


def _plateau(baseline) -> float:
    """H0(inf): infinite unless the hazard dies out (Gompertz shape < 0, last rate 0)."""
    return float(baseline.cumulative(np.array([np.inf]))[0])


def _km_survival_levels(baseline) -> list[float]:
    s_inf = np.exp(-_plateau(baseline))  # share that never fails
    if s_inf > 0:
        return [float(s_inf + (1 - s_inf) * q) for q in (0.95, 0.8, 0.6, 0.4, 0.2, 0.08)]
    return [0.95, 0.8, 0.6, 0.4, 0.2, 0.08]


@pytest.mark.parametrize("baseline", FAMILIES)
def test_true_survival_within_km_999_ci(baseline):
    times = _simulate_plain(baseline, seed=20240611)
    # No censoring except where the time is infinite (the Gompertz cured fraction): those are
    # censored at a time far beyond every checked quantile.
    far = 1e6
    finite = np.isfinite(times)
    durations = np.where(finite, times, far)
    kmf = KaplanMeierFitter(alpha=0.001).fit(durations, event_observed=finite)
    ci = kmf.confidence_interval_survival_function_
    lower, upper = ci.iloc[:, 0].to_numpy(), ci.iloc[:, 1].to_numpy()
    timeline = ci.index.to_numpy()

    levels = _km_survival_levels(baseline)
    t_check = _true_quantile_times(baseline, levels)
    assert np.all(np.isfinite(t_check))
    true_s = survival(baseline, t_check)
    np.testing.assert_allclose(true_s, levels, rtol=1e-9)
    idx = np.searchsorted(timeline, t_check, side="right") - 1  # KM is right-continuous
    inside = (lower[idx] <= true_s) & (true_s <= upper[idx])
    assert inside.all(), list(zip(t_check, true_s, lower[idx], upper[idx], strict=True))


@pytest.mark.parametrize("baseline", FAMILIES)
def test_simulated_times_ks_against_true_cdf(baseline):
    times = _simulate_plain(baseline, seed=777)
    if np.isfinite(_plateau(baseline)):
        # Mixture: a share p0 = exp(-H0(inf)) is infinite, the rest follows F(t) / (1 - p0).
        cured = np.isinf(times)
        p0 = np.exp(-_plateau(baseline))
        z = (cured.mean() - p0) / np.sqrt(p0 * (1 - p0) / times.size)
        assert abs(z) < 4
        times = times[~cured]
        res = stats.kstest(times, lambda t: (1 - survival(baseline, t)) / (1 - p0))
    else:
        assert np.isfinite(times).all()
        res = stats.kstest(times, lambda t: 1 - survival(baseline, t))
    assert res.pvalue > 1e-3, res


# ------------------------------------------------- person-specific multiplier steps (breaks)


def _weibull_h0(t: np.ndarray) -> np.ndarray:
    """H0 of Weibull(shape 1.5, scale 600 days), written out independently of src."""
    return (np.asarray(t, dtype=float) / 600.0) ** 1.5


def _step_cumulative(t, scale, a, b, hr):
    """H(t) = scale * [H0(min(t,a)) + hr (H0(min(t,b)) - H0(a))^+ + (H0(t) - H0(b))^+]."""
    t = np.asarray(t, dtype=float)
    seg0 = _weibull_h0(np.minimum(t, a))
    seg1 = np.clip(_weibull_h0(np.minimum(t, b)) - _weibull_h0(a), 0.0, None)
    seg2 = np.clip(_weibull_h0(t) - _weibull_h0(b), 0.0, None)
    return scale * (seg0 + hr * seg1 + seg2)


# Three kinds of person: (scale exp(x'beta), step start, step end, HR in the step).
STEP_GROUPS = [(1.0, 100.0, 300.0, 3.0), (0.5, 50.0, 400.0, 3.0), (2.0, 250.0, 260.0, 8.0)]


def _simulate_step_groups(seed: int, n: int = N_MC):
    rng = np.random.default_rng(seed)
    group = rng.integers(0, len(STEP_GROUPS), n)
    params = np.array(STEP_GROUPS)[group]
    scale, a, b, hr = params.T
    breaks = np.column_stack([a, b])
    mult = np.column_stack([np.ones(n), hr, np.ones(n)])
    e = rng.standard_exponential(n)
    times = invert_piecewise_cumulative_hazard(
        Weibull(shape=1.5, scale_days=600.0), e, scale, breaks, mult
    )
    return group, times


def test_piecewise_step_matches_analytic_cdf():
    group, times = _simulate_step_groups(seed=31337)
    assert np.isfinite(times).all()
    for g, (scale, a, b, hr) in enumerate(STEP_GROUPS):
        t_g = times[group == g]
        n_g = t_g.size
        assert n_g > 6000

        def cdf(t, scale=scale, a=a, b=b, hr=hr):
            return 1.0 - np.exp(-_step_cumulative(t, scale, a, b, hr))

        # Binomial z-test of the empirical CDF at times around and inside the step.
        for t in [0.5 * a, a, 0.5 * (a + b), b, 1.5 * b, 3 * b]:
            f = float(cdf(t))
            z = (np.mean(t_g <= t) - f) / np.sqrt(f * (1 - f) / n_g)
            assert abs(z) < 4, (g, t, z)
        res = stats.kstest(t_g, cdf)
        assert res.pvalue > 1e-3, (g, res)


def test_piecewise_step_has_power():
    """The KS check above rejects the same draws when the step is ignored (guards the test)."""
    group, times = _simulate_step_groups(seed=31337)
    scale, a, b, _ = STEP_GROUPS[0]
    t_g = times[group == 0]
    res = stats.kstest(t_g, lambda t: 1.0 - np.exp(-_step_cumulative(t, scale, a, b, 1.0)))
    assert res.pvalue < 1e-6


# --------------------------------------------------------------------------- edge cases


def test_zero_multiplier_segment_has_no_events():
    rate = 0.01
    base = Exponential(rate_per_day=rate)
    e = np.array([0.1, 0.5, 0.999, 1.0, 1.001, 1.5, 3.0])
    n = e.size
    breaks = np.tile([100.0, 200.0], (n, 1))
    mult = np.tile([1.0, 0.0, 1.0], (n, 1))
    t = invert_piecewise_cumulative_hazard(base, e, np.ones(n), breaks, mult)
    expected = np.where(e < 1.0, e / rate, e / rate + 100.0)
    np.testing.assert_allclose(t, expected, rtol=1e-12)
    assert not np.any((t > 100.0) & (t < 200.0))


def test_zero_multiplier_segment_monte_carlo():
    """Weibull with the hazard switched off on days 100-200: nobody fails there, and the
    distribution beyond is the plain one shifted by the off time (in H0 scale)."""
    base = Weibull(shape=1.5, scale_days=600.0)
    rng = np.random.default_rng(5)
    n = N_MC
    e = rng.standard_exponential(n)
    t = invert_piecewise_cumulative_hazard(
        base, e, np.ones(n), np.tile([100.0, 200.0], (n, 1)), np.tile([1.0, 0.0, 1.0], (n, 1))
    )
    assert not np.any((t > 100.0) & (t <= 200.0))

    def cdf(x):
        x = np.asarray(x, dtype=float)
        h = _weibull_h0(np.minimum(x, 100.0)) + np.clip(
            _weibull_h0(x) - _weibull_h0(200.0), 0.0, None
        )
        return 1.0 - np.exp(-h)

    assert stats.kstest(t, cdf).pvalue > 1e-3


def test_zero_multiplier_on_last_segment_gives_inf():
    base = Exponential(rate_per_day=0.01)
    e = np.array([0.5, 0.99, 1.01, 5.0])
    t = invert_piecewise_cumulative_hazard(
        base, e, np.ones(4), np.full((4, 1), 100.0), np.tile([1.0, 0.0], (4, 1))
    )
    np.testing.assert_allclose(t[:2], e[:2] / 0.01, rtol=1e-12)
    assert np.isposinf(t[2:]).all()


@pytest.mark.parametrize(
    "baseline",
    [
        Exponential(0.002),
        Weibull(0.7, 800.0),
        Gompertz(0.001, 0.001),
        PiecewiseConstant((0.0, 100.0), (0.001, 0.004)),
    ],
    ids=["exponential", "weibull", "gompertz", "piecewise"],
)
def test_infinite_breaks_are_ignored(baseline):
    e = np.array([1e-4, 0.01, 0.3, 1.0, 2.5, 7.0])
    n = e.size
    scale = np.linspace(0.5, 3.0, n)
    t = invert_piecewise_cumulative_hazard(
        baseline, e, scale, np.full((n, 3), np.inf), np.tile([1.0, 9.0, 0.0, 4.0], (n, 1))
    )
    np.testing.assert_allclose(t, baseline.inverse_cumulative(e / scale), rtol=1e-10)


def test_break_then_infinite_break():
    """Multiplier 2 from day 50 on; the second break is absent (inf)."""
    rate = 0.01
    base = Exponential(rate)
    e = np.array([0.2, 0.5, 0.6, 2.0])
    n = e.size
    t = invert_piecewise_cumulative_hazard(
        base, e, np.ones(n), np.tile([50.0, np.inf], (n, 1)), np.tile([1.0, 2.0, 7.0], (n, 1))
    )
    expected = np.where(e <= 0.5, e / rate, 50.0 + (e - 0.5) / (2 * rate))
    np.testing.assert_allclose(t, expected, rtol=1e-12)


def test_gompertz_negative_shape_plateau():
    base = GOMPERTZ_NEG
    assert float(base.cumulative(np.array([np.inf]))[0]) == pytest.approx(GOMPERTZ_NEG_PLATEAU)
    h = np.array([0.5, 1.9, 1.999, 2.0, 2.001, 3.0, 50.0])
    t = base.inverse_cumulative(h)
    assert np.isfinite(t[:3]).all()
    assert np.isposinf(t[3:]).all()

    # Through the piecewise inversion, with a person scale: the plateau scales too.
    scale = np.array([1.0, 1.0, 2.0, 2.0, 0.5])
    target = np.array([1.5, 2.5, 3.9, 4.1, 0.9])
    n = target.size
    out = invert_piecewise_cumulative_hazard(
        base, target, scale, np.full((n, 1), np.inf), np.ones((n, 2))
    )
    assert np.isfinite(out[[0, 2, 4]]).all()
    assert np.isposinf(out[[1, 3]]).all()
    np.testing.assert_allclose(
        base.cumulative(out[[0, 2, 4]]) * scale[[0, 2, 4]], target[[0, 2, 4]], rtol=1e-10
    )


def test_gompertz_negative_with_break_beyond_plateau():
    """A multiplier step after infection raises the plateau: HR 3 from day 200 reaches
    H = H0(200) + 3 (2 - H0(200)); targets above are infinite, below finite and exact."""
    base = GOMPERTZ_NEG
    h200 = float(base.cumulative(np.array([200.0]))[0])
    top = h200 + 3.0 * (GOMPERTZ_NEG_PLATEAU - h200)
    target = np.array([0.5 * h200, h200 + 0.5 * (top - h200), top * 0.999, top * 1.001])
    n = target.size
    out = invert_piecewise_cumulative_hazard(
        base, target, np.ones(n), np.full((n, 1), 200.0), np.tile([1.0, 3.0], (n, 1))
    )
    assert np.isfinite(out[:3]).all() and np.isposinf(out[3])
    assert out[0] < 200.0 < out[1]
    reached = np.where(
        out[:3] <= 200.0,
        base.cumulative(out[:3]),
        h200 + 3.0 * (base.cumulative(out[:3]) - h200),
    )
    np.testing.assert_allclose(reached, target[:3], rtol=1e-9)


def test_piecewise_zero_middle_interval_no_events_in_gap():
    """Times drawn from a baseline that is zero on days 200-500 never land inside the gap."""
    times = _simulate_plain(PIECEWISE_GAP, seed=11)
    assert not np.any((times > 200.0) & (times < 500.0))


def test_piecewise_zero_middle_interval_inverse_before_gap():
    t = np.array([50.0, 100.0, 199.0])
    np.testing.assert_allclose(
        PIECEWISE_GAP.inverse_cumulative(PIECEWISE_GAP.cumulative(t)), t, rtol=1e-10
    )
