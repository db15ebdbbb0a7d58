"""ph_test against R survival's cox.zph (>= 3.0, exact score test).

Expected values were produced by ``tests/reference/cox_zph.R`` (R 4.2.2, survival 3.5-3; log in
``cox_zph.Rout``) and saved in ``cox_zph_tests.csv`` (coefficients, per-term and global
chi-squares, df, p-values for transforms km, rank, identity, log) and ``cox_zph_resid.csv``
(scaled Schoenfeld residuals and g(t), transform km); R is not needed to run this test.
Data: Rossi recidivism (``rossi_clustered.csv``, heavily tied weeks) time-fixed and split at
weeks 10, 20, 35 into (start, stop] rows, with and without strata (3, or 144 of 3 rows like
matched sets) and case weights, Efron and Breslow ties, 3-4 covariates. Tolerances:
chi-squares, p-values and residuals 1e-6 relative (measured agreement ~1e-12), coefficients
1e-8 relative (R fitted with eps = 1e-11).
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reawaken.analysis.cox import fit_cox
from reawaken.analysis.diagnostics import TRANSFORMS, ph_test, time_transform
from reawaken.errors import AnalysisError

REF = Path(__file__).resolve().parents[1] / "reference"
TIES = ("efron", "breslow")


def _rossi() -> pd.DataFrame:
    d = pd.read_csv(REF / "rossi_clustered.csv")
    d["rid"] = np.arange(len(d))
    d["s3"] = d["grp"] % 3
    d["w"] = 1 + (d["grp"] % 4) / 4
    d["fin_s1"] = d["fin"] * (d["s3"] == 1)
    return d


def _split(d: pd.DataFrame, cuts=(10.0, 20.0, 35.0)) -> pd.DataFrame:
    """R's survSplit: (a, b] pieces for each cut interval the person reaches."""
    edges = [0.0, *cuts, np.inf]
    parts = []
    for a, b in pairwise(edges):
        piece = d[d["week"] > a].copy()
        piece["tstart"] = a
        piece["stop"] = np.minimum(piece["week"], b).astype(float)
        piece["event"] = np.where(piece["week"] <= b, piece["arrest"], 0)
        parts.append(piece)
    sp = pd.concat(parts, ignore_index=True)
    sp["prio_late"] = sp["prio"] * (sp["tstart"] >= 20)
    return sp


FIXED = {"duration": "week", "event": "arrest"}
SPLIT = {"start": "tstart", "stop": "stop", "event": "event"}
CASES = {
    "fixed": (False, {**FIXED, "covariates": ["fin", "age", "prio", "mar"]}),
    "fixed_strata": (
        False,
        {**FIXED, "covariates": ["fin", "age", "prio", "fin_s1"], "strata": "s3"},
    ),
    "fixed_weights": (False, {**FIXED, "covariates": ["fin", "age", "prio"], "weights": "w"}),
    "split": (True, {**SPLIT, "covariates": ["fin", "age", "prio", "prio_late"]}),
    "split_strata": (
        True,
        {
            **SPLIT,
            "covariates": ["fin", "age", "prio", "prio_late"],
            "strata": "s3",
            "weights": "w",
        },
    ),
    "matched": (False, {**FIXED, "covariates": ["fin", "age", "prio"], "strata": "grp"}),
}


@pytest.fixture(scope="module")
def data() -> dict[bool, pd.DataFrame]:
    d = _rossi()
    return {False: d, True: _split(d)}


@pytest.fixture(scope="module")
def r_tests() -> pd.DataFrame:
    return pd.read_csv(REF / "cox_zph_tests.csv")


def _fit(data, case: str, ties: str):
    split, kwargs = CASES[case]
    return data[split], fit_cox(data[split], ties=ties, **kwargs)


def _r_rows(r_tests: pd.DataFrame, case: str, ties: str, transform: str) -> pd.DataFrame:
    sel = (r_tests["case"] == case) & (r_tests["ties"] == ties)
    return r_tests[sel & (r_tests["transform"] == transform)]


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("case", CASES)
def test_chi_squares_match_cox_zph(data, r_tests, case, ties):
    _, fit = _fit(data, case, ties)
    coef = _r_rows(r_tests, case, ties, "coef")
    assert list(coef["term"]) == list(fit.table["term"])
    np.testing.assert_allclose(fit.table["coef"], coef["chisq"], rtol=1e-8)
    for transform in TRANSFORMS:
        ours = ph_test(fit, transform).table
        ref = _r_rows(r_tests, case, ties, transform)
        assert list(ours["term"]) == list(ref["term"])
        np.testing.assert_array_equal(ours["df"], ref["df"].astype(int))
        np.testing.assert_allclose(ours["statistic"], ref["chisq"], rtol=1e-6, err_msg=transform)
        np.testing.assert_allclose(ours["p_value"], ref["p"], rtol=1e-6, err_msg=transform)


@pytest.mark.parametrize("ties", TIES)
@pytest.mark.parametrize("case", ["fixed_strata", "split_strata", "matched"])
def test_scaled_residuals_match_cox_zph(data, case, ties):
    """cox.zph's ``y`` (scaled by the events of the strata where each covariate varies; NaN
    where it is constant: ``fin_s1`` outside stratum 1, ``fin`` or ``prio`` in some of the 144
    "matched" strata) and ``x`` = g(t), matched on (person, interval start)."""
    frame, fit = _fit(data, case, ties)
    ref = pd.read_csv(REF / "cox_zph_resid.csv")
    ref = ref[(ref["case"] == case) & (ref["ties"] == ties)]
    wide = ref.pivot(index=["rid", "tstart"], columns="term", values="y")
    first = ref.drop_duplicates(["rid", "tstart"])
    res = ph_test(fit, "km").scaled_residuals
    rows = res.index.get_level_values("row")
    start = frame["tstart"].to_numpy()[rows] if "tstart" in frame else np.zeros(rows.size)
    key = pd.MultiIndex.from_arrays([frame["rid"].to_numpy()[rows], start])
    assert len(wide) == len(res) and key.isin(wide.index).all()
    expected = wide.loc[key, list(res.columns)].to_numpy()
    np.testing.assert_array_equal(np.isnan(res.to_numpy()), np.isnan(expected))
    assert np.isnan(expected).any() == (case != "split_strata")
    np.testing.assert_allclose(res.to_numpy(), expected, rtol=1e-6)
    g = first.set_index(["rid", "tstart"]).loc[key, "g"].to_numpy()
    np.testing.assert_allclose(res.index.get_level_values("g"), g, rtol=1e-12, atol=1e-14)
    # the same order as R's: by stratum, then time
    np.testing.assert_array_equal(res.index.get_level_values("time"), first["time"])


def test_km_transform_left_continuous_r_risk_sets():
    """Closed form: rows (0,2] event, (0,2] censored, (2,5] event, (0,5] event, (1,4] cens.
    At t=2 four rows are at risk (the row entering at 2 is not; lifelines would count it and
    give 4/5): S(2) = 3/4; at t=5 two, both events: S(5) = 0. g = 1 - S(t-): 0 at t=2, 1/4 at
    t=4 and t=5."""
    start = np.array([0.0, 0.0, 2.0, 0.0, 1.0])
    stop = np.array([2.0, 2.0, 5.0, 5.0, 4.0])
    event = np.array([1, 0, 1, 1, 0])
    np.testing.assert_allclose(
        time_transform(start, stop, event, "km"), [0.0, 0.0, 0.25, 0.25, 0.25], atol=1e-15
    )
    np.testing.assert_allclose(time_transform(None, stop, event, "rank"), [1.5, 1.5, 4.5, 4.5, 3])


def test_bad_input():
    d = _rossi()
    fit = fit_cox(d, duration="week", event="arrest", covariates=["fin", "age"])
    with pytest.raises(AnalysisError, match="transform must be one of"):
        ph_test(fit, "sqrt")
    zero = d.assign(week0=d["week"] - 1.0)  # the first arrest is at week 1
    fit0 = fit_cox(zero, duration="week0", event="arrest", covariates=["fin", "age"])
    with pytest.raises(AnalysisError, match="transform='log' needs positive times"):
        ph_test(fit0, "log")
    with pytest.raises(AnalysisError, match="needs a Cox model fitted by"):
        ph_test(replace(fit, extra={}))
