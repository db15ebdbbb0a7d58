"""Vectorised matching against a plain loop written from the rule, the loop it replaced, and
``rng.choice`` itself.

* ``reference_match`` applies the rule of :func:`match_exposure_density` person by person:
  eligible = entry_day <= d < event_day, exposure_day missing or > d, equal on ``exact``,
  ``|x - x_exposed| <= caliper``, ``|test_day - d| <= window``; listed by (exact values, first
  caliper column, row); ``rng.choice(listed, controls, replace=False)`` when more than
  ``controls`` are eligible, sets in order of (exposure day, id). Sets, unmatched persons and
  the generator state afterwards must be identical on many random small cohorts (day ties,
  entry / events / exposure on the index day, exposure on the event day, sparse cells).
* ``_matching_legacy`` (the pre-vectorisation module): identical Matched table and report.
* ``choice_ranks``: identical ranks and generator state to one ``rng.choice`` per set.
* Uniformity: chi-square over all subsets; bound at the 1 - 1e-4 quantile.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from _matching_legacy import legacy_match_exposure_density, legacy_match_propensity
from scipy import stats

from reawaken.design import riskset, sampling
from reawaken.design.matching import MatchedCohort, match_exposure_density, match_propensity
from reawaken.design.sampling import choice_ranks
from reawaken.errors import AnalysisError

ALPHA = 1e-4  # a correct implementation fails a distribution test with probability < ALPHA


def reference_match(cohort, rng, controls, exact=(), caliper=None, test_window_days=None):
    """The matching rule as a plain loop: ``(sets, unmatched)``.

    ``sets``: ``[(exposed id, sorted control ids, eligible ids)]`` in processing order;
    ``unmatched``: ``[(id, reason)]`` in processing order.
    """
    caliper = dict(caliper or {})
    first = next(iter(caliper), None)
    people = list(cohort.reset_index(drop=True).itertuples(index=True))
    exposed = sorted(
        (p for p in people if not math.isnan(p.exposure_day)), key=lambda p: (p.exposure_day, p.id)
    )
    sets, unmatched = [], []
    for e in exposed:
        d = e.exposure_day
        if d >= e.event_day:
            unmatched.append((e.id, "exposure on event day"))
            continue
        eligible = []
        for p in people:
            ok = p.entry_day <= d < p.event_day
            ok = ok and (math.isnan(p.exposure_day) or p.exposure_day > d)
            ok = ok and all(getattr(p, c) == getattr(e, c) for c in exact)
            ok = ok and all(abs(getattr(p, c) - getattr(e, c)) <= w for c, w in caliper.items())
            if test_window_days is not None:
                ok = ok and abs(p.test_day - d) <= test_window_days  # NaN: False
            if ok:
                key = getattr(p, first) if first else 0
                eligible.append(((*(getattr(p, c) for c in exact), key, p.Index), p.id))
        listed = [i for _, i in sorted(eligible)]
        if not listed:
            unmatched.append((e.id, "no eligible control"))
            continue
        chosen = listed if len(listed) <= controls else rng.choice(listed, controls, replace=False)
        sets.append((e.id, sorted(int(i) for i in chosen), listed))
    return sets, unmatched


def _random_cohort(g: np.random.Generator) -> pd.DataFrame:
    """A small cohort with many ties and edge cases on a coarse day grid."""
    n = int(g.integers(2, 50))
    entry = g.integers(0, 4, n) * g.integers(0, 2, n)
    event = entry + g.integers(1, 12, n)  # the validator requires follow-up
    exposure = np.where(g.random(n) < 0.45, entry + g.integers(0, 13, n), np.nan)
    exposure = np.where(exposure <= event, exposure, np.nan).astype(float)
    on_entry = g.random(n) < 0.1
    exposure[on_entry] = entry[on_entry]
    on_event = g.random(n) < 0.08
    exposure[on_event] = event[on_event]
    test = np.where(g.random(n) < 0.7, entry + g.integers(0, event - entry + 1), np.nan)
    return pd.DataFrame(
        {
            "id": g.permutation(np.arange(1, n + 1) * 3),
            "grp": g.integers(0, int(g.integers(1, 4)), n),
            "sex": g.integers(0, 2, n),
            "age": np.round(g.normal(50, 4, n) * 2) / 2,  # half-years: ties, inclusive edges
            "bmi": np.round(g.normal(25, 3, n)),
            "entry_day": entry.astype(float),
            "exposure_day": exposure,
            "test_day": test,
            "event_day": event.astype(float),
            "event": g.integers(0, 3, n),
        }
    )


def _random_design(g: np.random.Generator) -> dict:
    exact = [(), ("grp",), ("grp", "sex")][int(g.integers(0, 3))]
    caliper = [
        None,
        {"age": float(g.choice([0.0, 0.5, 2.0, 3.0]))},
        {"age": 2.0, "bmi": float(g.choice([1.0, 3.0]))},
        {"bmi": math.inf},
    ][int(g.integers(0, 4))]
    window = [None, None, 0.0, 3.0][int(g.integers(0, 4))]
    return {
        "controls": int(g.integers(1, 6)),
        "exact": exact,
        "caliper": caliper,
        "test_window_days": window,
    }


def _sets_of(m: MatchedCohort) -> list[tuple[int, list[int]]]:
    d = m.data
    out = []
    for _, g in d.groupby("set_id", sort=True):
        out.append((int(g["id"].iloc[0]), sorted(g["id"].iloc[1:].astype(int).tolist())))
    return out


def _cases(count: int, seed: int):
    g = np.random.default_rng(seed)
    for i in range(count):
        cohort = _random_cohort(g)
        if cohort["exposure_day"].notna().any():
            yield i, cohort, _random_design(g)


def _compare_with_reference(cohort, design, seed):
    rng_new, rng_ref = np.random.default_rng(seed), np.random.default_rng(seed)
    ref_sets, ref_unmatched = reference_match(cohort, rng_ref, **design)
    try:
        m = match_exposure_density(cohort, rng=rng_new, **design)
    except AnalysisError as exc:
        assert not ref_sets and "has an eligible control" in str(exc)
        return 0
    assert _sets_of(m) == [(e, c) for e, c, _ in ref_sets]
    assert m.report.unmatched[["id", "reason"]].to_records(index=False).tolist() == ref_unmatched
    assert rng_new.bit_generator.state == rng_ref.bit_generator.state
    k = design["controls"]
    for (_, chosen, listed), size in zip(ref_sets, m.data.groupby("set_id").size(), strict=True):
        assert set(chosen) <= set(listed) and len(set(chosen)) == len(chosen)
        assert len(chosen) == min(k, len(listed)) == size - 1
    return len(ref_sets)


def test_identical_to_reference_loop_on_random_cohorts():
    n_sets = sum(_compare_with_reference(c, d, i) for i, c, d in _cases(120, 20250730))
    assert n_sets > 300  # the cases exercise real draws


@pytest.mark.slow
def test_identical_to_reference_loop_on_many_random_cohorts():
    n_sets = sum(_compare_with_reference(c, d, i) for i, c, d in _cases(3000, 1))
    assert n_sets > 10_000


@pytest.mark.parametrize("engine", ["dense", "small chunks"])
def test_engines_and_chunks_agree_with_reference(monkeypatch, engine):
    """The dense lister on time-only designs, and tiny chunks (draws split across chunks)."""
    if engine == "dense":
        monkeypatch.setattr(sampling, "_dense_only", lambda _: True)
        monkeypatch.setattr(riskset, "DENSE_BUDGET", 7)
    else:
        monkeypatch.setattr(sampling, "CHUNK", 3)
    n_sets = sum(_compare_with_reference(c, d, i) for i, c, d in _cases(50, 7))
    assert n_sets > 100


def _assert_same_matched(new: MatchedCohort, old) -> None:
    pd.testing.assert_frame_equal(new.data, old.data)
    assert new.method == old.method
    for name in type(old.report).__dataclass_fields__:
        a, b = getattr(new.report, name), getattr(old.report, name)
        if isinstance(b, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b)
        else:
            assert a == b, name


def test_identical_to_previous_implementation_on_random_cohorts():
    compared = 0
    for i, cohort, design in _cases(60, 99):
        try:
            old = legacy_match_exposure_density(cohort, rng=np.random.default_rng(i), **design)
        except AnalysisError:
            continue
        new = match_exposure_density(cohort, rng=np.random.default_rng(i), **design)
        _assert_same_matched(new, old)
        compared += 1
    assert compared > 30


def test_propensity_identical_to_previous_implementation():
    """Nearest on the logit PS; binary covariates give many exact ties at the k-th distance."""
    compared = 0
    for i, cohort, design in _cases(90, 5):
        cohort = cohort.assign(ever=cohort["exposure_day"].notna())
        if cohort["ever"].all() or cohort["ever"].sum() < 2 or len(cohort) < 12:
            continue
        names = [["sex"], ["sex", "grp"], ["age", "bmi"]][i % 3]
        kw = {"covariates": names, "controls": design["controls"], "caliper_sd": [0.2, 5.0][i % 2]}
        try:
            old = legacy_match_propensity(cohort, rng=np.random.default_rng(i), **kw)
        except AnalysisError:
            with pytest.raises(AnalysisError):
                match_propensity(cohort, rng=np.random.default_rng(i), **kw)
            continue
        new = match_propensity(cohort, rng=np.random.default_rng(i), **kw)
        _assert_same_matched(new, old)
        compared += 1
    assert compared > 15


def test_choice_ranks_is_rng_choice_call_by_call():
    g = np.random.default_rng(1)
    for seed in range(60):
        size = int(g.integers(0, 40))
        kind = g.integers(0, 4, size)
        small, mid = g.integers(1, 12, size), g.integers(1, 30_000, size)
        huge = g.integers(3_000_000_000, 2**32 - 1, size)  # frequent Lemire rejections
        tail = g.integers(10_001, 20_000, size)  # with m > n // 50: numpy's tail shuffle
        n = np.select([kind == 0, kind == 1, kind == 2], [small, mid, huge], tail)
        m = np.minimum(n, np.where(kind == 3, g.integers(201, 400, size), g.integers(1, 7, size)))
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        pairs = zip(n.tolist(), m.tolist(), strict=True)
        expected = [np.sort(a.choice(x, y, replace=False)) for x, y in pairs]
        got = choice_ranks(b, n, m)
        np.testing.assert_array_equal(got, np.concatenate([np.zeros(0, int), *expected]))
        assert a.bit_generator.state == b.bit_generator.state  # incl. rejected 32-bit draws


def test_choice_ranks_rejects_bad_sizes():
    with pytest.raises(AnalysisError, match="fix:"):
        choice_ranks(np.random.default_rng(0), [3], [4])
    with pytest.raises(AnalysisError, match="fix:"):
        choice_ranks(np.random.default_rng(0), [2**32], [1])


def _uniformity_cohort(groups: int, extra_ineligible: bool) -> pd.DataFrame:
    """Per exact cell: one person exposed on day 10 and six eligible controls (two of them tied
    on age with the exposed person's neighbours); optionally three ineligible persons."""
    rows = []
    for cell in range(groups):
        rows.append((cell, 50.0, 0.0, 10.0, 100.0))  # exposed
        for age in (48.0, 49.0, 49.0, 50.0, 51.0, 52.0):  # eligible, ranked by age then row
            rows.append((cell, age, 0.0, np.nan, 100.0))
        if extra_ineligible:
            rows.append((cell, 50.0, 0.0, np.nan, 10.0))  # event on the index day
            rows.append((cell, 50.0, 0.0, 5.0, 100.0))  # exposed earlier (own set, day 5)
            rows.append((cell, 53.0, 0.0, np.nan, 100.0))  # outside the caliper
    cols = ["cell", "age", "entry_day", "exposure_day", "event_day"]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.assign(id=np.arange(1, len(frame) + 1), event=0)


@pytest.mark.parametrize("extra_ineligible", [False, True])
def test_draws_uniform_over_eligible_subsets(extra_ineligible):
    """3 of 6 eligible controls: each of the 20 subsets has probability 1/20 per set, and the
    4,000 sets are independent, so subset counts are multinomial(4000, 1/20) under uniform
    sampling; chi-square with 19 df, rejected above its 1 - 1e-4 quantile (MCSE of a cell
    share: sqrt(0.05 * 0.95 / 4000) = 0.0034)."""
    groups = 4000
    cohort = _uniformity_cohort(groups, extra_ineligible)
    m = match_exposure_density(
        cohort, rng=np.random.default_rng(2024), controls=3, exact=["cell"], caliper={"age": 2}
    )
    d = m.data[(m.data.exposed == 0) & (m.data.index_day == 10.0)]
    per_cell = cohort.assign(r=cohort.groupby("cell").cumcount())
    d = d.merge(per_cell[["id", "r"]], on="id")  # r = 1..6 for the eligible controls
    assert set(d["r"]) == {1, 2, 3, 4, 5, 6}  # the ineligible rows (7..9) are never drawn
    subsets = d.groupby("cell")["r"].apply(lambda r: tuple(sorted(r)))
    assert len(subsets) == groups and (subsets.map(len) == 3).all()
    table = subsets.value_counts()
    observed = np.array([table.get(s, 0) for s in itertools.combinations(range(1, 7), 3)])
    statistic, p = stats.chisquare(observed)
    assert p > ALPHA, (statistic, observed)


@pytest.mark.slow
def test_propensity_identical_on_many_random_cohorts(monkeypatch):
    monkeypatch.setattr(sampling, "CHUNK", 4)  # draws split across chunks
    compared = 0
    for i, cohort, design in _cases(1500, 11):
        if cohort["exposure_day"].notna().all() or len(cohort) < 12:
            continue
        names = [["sex"], ["sex", "grp"], ["age", "bmi"], ["age"]][i % 4]
        kw = {"covariates": names, "controls": design["controls"], "caliper_sd": [0.2, 5.0][i % 2]}
        try:
            old = legacy_match_propensity(cohort, rng=np.random.default_rng(i), **kw)
        except AnalysisError:
            continue
        _assert_same_matched(match_propensity(cohort, rng=np.random.default_rng(i), **kw), old)
        compared += 1
    assert compared > 300


@pytest.mark.slow
def test_million_persons_identical_to_previous_implementation():
    """1,000,000 persons (20 tree levels; bounds ~3e4, so some Lemire rejections): the same
    Matched table, report and generator state as the per-person loop (~1-2 minutes)."""
    from reawaken.scenario import load_scenario
    from reawaken.simulate.cohort import simulate_cohort

    scenario = load_scenario("flatiron_lung_mets").with_n(1_000_000)
    cohort = simulate_cohort(scenario, np.random.default_rng(12)).data
    kw = {"controls": 4, "exact": ["stage", "her2"], "caliper": {"age": 2.0}}
    rng_new, rng_old = np.random.default_rng(13), np.random.default_rng(13)
    new = match_exposure_density(cohort, rng=rng_new, **kw)
    _assert_same_matched(new, legacy_match_exposure_density(cohort, rng=rng_old, **kw))
    assert rng_new.bit_generator.state == rng_old.bit_generator.state
