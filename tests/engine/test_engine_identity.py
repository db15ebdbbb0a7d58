"""The Cox engine after issue 12 gives the same bits as before it (tests/engine/_coxph_legacy.py).

The faster risk-set index (whole-number times ranked by a lookup table, 16-bit radix argsorts)
must be the same index, field by field; the moment sums that skip shared and zero terms must be
the same sums; and a fit must give the same coefficients, variance, log-likelihoods and
iterations, bit for bit (exact comparison, tolerance 0), on day-resolution (start, stop] data,
fractional times, strata with weights, both tie methods and time-fixed data.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reawaken.design.episodes import split_at_exposure
from reawaken.engine import risksets
from reawaken.engine.coxph import _prepare, fit_coxph
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort
from reawaken.study.analyses import covariate_design


def _load_legacy():
    spec = importlib.util.spec_from_file_location(
        "_coxph_legacy", Path(__file__).with_name("_coxph_legacy.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


legacy = _load_legacy()


def _same(a, b) -> bool:
    """Exact equality of arrays, bit for bit (dtype included), or of plain values."""
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return type(a) is type(b) and a == b


def _random_case(rng: np.random.Generator, kind: int):
    n = int(rng.integers(1, 250))
    if kind == 0:  # whole days, entry at 0 or later
        stop = rng.integers(1, 60, n).astype(float)
        start = np.maximum(stop - rng.integers(1, 40, n), 0).astype(float)
    elif kind == 1:  # fractional times
        stop = rng.exponential(10, n)
        start = stop * rng.random(n)
    elif kind == 2:  # some rows at risk from the start (-inf)
        stop = rng.integers(1, 20, n).astype(float)
        start = np.where(rng.random(n) < 0.5, -np.inf, stop - 1)
    elif kind == 3:  # whole numbers far from 0
        stop = rng.integers(10**12, 10**12 + 40, n).astype(float)
        start = stop - rng.integers(1, 5, n)
    elif kind == 4:  # whole numbers spanning more than the rank table
        stop = rng.integers(1, 10**9, n).astype(float)
        start = np.full(n, -np.inf)
    else:  # negative whole times and -0.0
        stop = rng.integers(-5, 5, n).astype(float)
        start = stop - 1
        start[start == 0] = -0.0
    event = (rng.random(n) < 0.4).astype(float)
    event[0] = 1.0  # the engine needs an event (its callers check; so did the old index)
    strata = rng.integers(0, int(rng.integers(1, 40)), n).astype(np.int64)
    if kind == 5 and n:
        strata *= 1000  # sparse stratum codes
    return start, stop, event, strata


def test_risk_set_index_is_the_previous_index_field_by_field():
    rng = np.random.default_rng(1)
    cases = [_random_case(rng, k % 6) for k in range(240)]
    n = 20_000  # strata codes past 16 bits of key: the two-pass radix sort
    stop = rng.integers(1, 400, n).astype(float)
    cases.append(
        (
            stop - rng.integers(1, 100, n),
            stop,
            (rng.random(n) < 0.3) * 1.0,
            rng.integers(0, 3000, n),
        )
    )
    for start, stop, event, strata in cases:
        new = risksets.build_risk_sets(start, stop, event, strata)
        old = legacy.build_risk_sets(start, stop, event, strata)
        for field in dataclasses.fields(old):
            assert _same(getattr(new, field.name), getattr(old, field.name)), field.name


def test_time_ranks_and_radix_argsort_match_numpy():
    rng = np.random.default_rng(2)
    for values in (
        rng.integers(0, 1 << 15, 5000),
        rng.integers(0, 1 << 31, 5000),
        rng.integers(0, 1 << 40, 5000),
        np.repeat(rng.integers(0, 70_000, 50), 40),  # many ties: stability matters
        np.array([], dtype=np.int64),
    ):
        assert np.array_equal(risksets.stable_argsort(values), np.argsort(values, kind="stable"))
    stop = rng.integers(0, 3000, 4000).astype(float)
    start = np.where(rng.random(4000) < 0.3, -np.inf, stop - rng.integers(1, 50, 4000))
    rank_start, rank_stop, size = risksets.time_ranks(start, stop)
    times = np.unique(np.concatenate([start[np.isfinite(start)], stop]))
    assert size == times.size
    assert np.array_equal(rank_stop, np.searchsorted(times, stop) + 1)
    finite = np.isfinite(start)
    assert np.array_equal(rank_start[finite], np.searchsorted(times, start[finite]) + 1)
    assert not rank_start[~finite].any()


def test_moment_sources_share_only_equal_terms():
    """x^2 of a 0/1 column shares x; two dummies of one factor give an exact 0; a column
    holding -0.0 or a 2 is not taken as 0/1; a continuous column is summed itself."""
    rng = np.random.default_rng(3)
    level = rng.integers(0, 3, 500)
    x = np.column_stack(
        [
            rng.normal(size=500),  # 0: continuous
            (level == 1) * 1.0,  # 1, 2: dummies of one factor
            (level == 2) * 1.0,
            np.where(rng.random(500) < 0.5, -0.0, 1.0),  # 3: -0.0 is not +0
            rng.integers(0, 3, 500) * 1.0,  # 4: 0/1/2
        ]
    )
    source = risksets.moment_sources(x)
    p = x.shape[1]
    iu, ju = np.triu_indices(p)
    product = {(int(i), int(j)): 1 + p + k for k, (i, j) in enumerate(zip(iu, ju, strict=True))}
    assert source[product[1, 1]] == 1 + 1 and source[product[2, 2]] == 1 + 2
    assert source[product[1, 2]] == -1
    for t in (product[0, 0], product[3, 3], product[4, 4], product[0, 1], product[3, 4]):
        assert source[t] == t
    # the skipped terms' sums are the full sums, bit for bit
    data = _prepare(
        None, rng.integers(1, 50, 500) * 1.0, rng.random(500) < 0.3, x, None, None, "efron"
    )
    r = np.exp(x @ rng.normal(0, 0.3, p))
    order = data.index.stop_order, data.index.start_order
    full = [risksets.moment_design(x[o]) for o in order]
    every = risksets.risk_set_moments(data.index, r, *full, p)
    kept = risksets.risk_set_moments(data.index, r, data.z_by_stop, data.z_by_start, p, source)
    assert all(_same(a, b) for a, b in zip(every, kept, strict=True))


@pytest.fixture(scope="module")
def episodes() -> tuple[pd.DataFrame, list[str]]:
    """Flatiron-like day-resolution episodes (3,000 persons: time-varying exposure)."""
    scenario = load_scenario("flatiron_lung_mets").with_n(3000)
    cohort = simulate_cohort(scenario, np.random.default_rng(12)).data
    design = covariate_design(cohort, scenario)
    frame = pd.concat(
        [cohort[["id", "entry_day", "exposure_day", "event_day", "event"]], design], axis=1
    )
    return split_at_exposure(frame, covariates=list(design.columns)), ["exposed", *design.columns]


def _assert_same_fit(args, **kwargs):
    new, old = fit_coxph(*args, **kwargs), legacy.legacy_fit_coxph(*args, **kwargs)
    for field in (
        "coef",
        "information",
        "variance",
        "loglik",
        "loglik_null",
        "iterations",
        "events",
    ):
        assert _same(getattr(new, field), getattr(old, field)), field


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_fit_is_the_previous_fit_bit_for_bit(episodes, ties):
    ep, terms = episodes
    t0, t1 = ep["start"].to_numpy(float), ep["stop"].to_numpy(float)
    d, x = ep["event"].to_numpy(float), ep[terms].to_numpy(float)
    rng = np.random.default_rng(4)
    _assert_same_fit((t0, t1, d, x), ties=ties)
    weights, strata = rng.uniform(0.5, 2.0, len(ep)), rng.integers(0, 3, len(ep))
    _assert_same_fit((t0, t1, d, x), ties=ties, weights=weights, strata=strata)
    _assert_same_fit((None, t1 - t0, d, x), ties=ties)  # time-fixed
    _assert_same_fit((t0 / 7.3, t1 / 7.3, d, x[:, :3]), ties=ties)  # fractional times
