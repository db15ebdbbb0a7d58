"""Conditional logistic regression against the discordant-pair closed form and statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reawaken.analysis.matched_or import matched_odds_ratio
from reawaken.errors import AnalysisError


def _pairs(n11: int, n10: int, n01: int, n00: int) -> pd.DataFrame:
    """1:1 pairs; nAB = pairs with exposed-member outcome A and control outcome B."""
    rows = []
    set_id = 0
    for (a, b), count in {(1, 1): n11, (1, 0): n10, (0, 1): n01, (0, 0): n00}.items():
        for _ in range(count):
            rows.append((set_id, 1, a))
            rows.append((set_id, 0, b))
            set_id += 1
    df = pd.DataFrame(rows, columns=["set_id", "exposed", "event"])
    return df.assign(id=np.arange(len(df)), time=100.0)


def test_discordant_pair_closed_form():
    res = matched_odds_ratio(_pairs(7, 40, 22, 300))
    assert res.table["ratio"].iloc[0] == pytest.approx(40 / 22, rel=1e-6)
    assert res.table["se"].iloc[0] == pytest.approx(math.sqrt(1 / 40 + 1 / 22), rel=1e-5)
    assert res.extra["informative_sets"] == 62


def test_one_to_k_sets_match_the_conditional_likelihood():
    """1:4 sets with one case each: L = prod exp(b x_case) / sum_set exp(b x)."""
    rng = np.random.default_rng(2)
    sets = np.repeat(np.arange(300), 5)
    exposed = np.tile([1, 0, 0, 0, 0], 300)
    risk = np.where(exposed == 1, 2.0, 1.0) * rng.exponential(size=sets.size)
    case = pd.Series(risk).groupby(sets).transform(lambda r: r == r.max()).to_numpy()
    df = pd.DataFrame(
        {"set_id": sets, "exposed": exposed, "event": case.astype(int), "time": 10.0}
    ).assign(id=np.arange(sets.size))
    res = matched_odds_ratio(df)
    from scipy.optimize import minimize_scalar

    x_case = exposed[case]

    def negll(b):
        return -(b * x_case.sum() - 300 * np.log(np.exp(b) + 4))

    b_hat = minimize_scalar(negll, bounds=(-5, 5), method="bounded", options={"xatol": 1e-12}).x
    assert res.coef("exposed") == pytest.approx(b_hat, abs=1e-6)


def test_horizon_counts_only_early_outcomes():
    df = _pairs(0, 10, 10, 20)
    late = df.index[(df["exposed"] == 0) & (df["event"] == 1)][:5]
    df.loc[late, "time"] = 500.0
    res = matched_odds_ratio(df, horizon_days=365)
    assert res.events == 15
    assert res.table["ratio"].iloc[0] == pytest.approx(10 / 5, rel=1e-6)
    with pytest.raises(AnalysisError, match="not estimable"):
        matched_odds_ratio(df.assign(event=np.where(df["exposed"] == 1, df["event"], 0)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exposure": "nope"}, "unknown column"),
        ({"cause": 2}, "no outcome"),
        ({"horizon_days": 0}, "must be > 0"),
    ],
)
def test_bad_inputs(kwargs, message):
    with pytest.raises(AnalysisError, match=message):
        matched_odds_ratio(_pairs(1, 5, 3, 10), **kwargs)


def test_no_informative_sets():
    with pytest.raises(AnalysisError, match="not estimable"):
        matched_odds_ratio(_pairs(5, 0, 0, 5))
