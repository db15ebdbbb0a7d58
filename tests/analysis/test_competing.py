"""Competing risks: Aalen–Johansen CIF, Gray's test, cause-specific Cox and Fine–Gray.

References used here, all independent of the vectorized code under test:

* hand-worked CIFs and Fine–Gray expansions (fractions in the comments);
* lifelines ``KaplanMeierFitter`` and (on tie-free data) ``AalenJohansenFitter``;
* loops written in this file from the formulas: the delta-method variance, Gray's (1988) score
  and variance, and the Fine & Gray (1999) weighted partial likelihood solved with scipy;
* values computed with R 4.2.2, cmprsk 2.2-11 and survival 3.5.3 on the data ``D60`` below::

      d <- data.frame(time = ..., status = ..., group = ..., x1 = ..., x2 = ...)  # D60
      cuminc(d$time, d$status, d$group)$Tests                # and rho = 1, and groups a, b
      cuminc(d$time, d$status)[["1 1"]]$est
      d$ev <- factor(d$status, 0:2, c("cens", "c1", "c2")); d$pid <- 0:59
      fg <- finegray(Surv(time, ev) ~ x1 + x2 + pid, data = d, etype = "c1")
      coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + cluster(pid), weights = fgwt,
            data = fg, ties = "breslow")                     # and ties = "efron"
"""

from __future__ import annotations

import time as clock

import numpy as np
import pandas as pd
import pytest
from lifelines import AalenJohansenFitter, CoxPHFitter, KaplanMeierFitter
from scipy import optimize, stats
from statsmodels.duration.hazard_regression import PHReg

from reawaken.analysis.competing import (
    CIF_COLUMNS,
    cumulative_incidence,
    fit_cause_specific_cox,
    gray_test,
)
from reawaken.analysis.cox import fit_cox
from reawaken.analysis.finegray import finegray_expand, fit_fine_gray
from reawaken.errors import AnalysisError

# ----------------------------------------------------------------------------- test data

D60 = pd.DataFrame(
    {
        "time": [6, 10, 3, 10, 13, 13, 6, 2, 14, 4, 10, 14, 15, 9, 7, 4, 12, 7, 5, 6, 3, 2, 6, 9,
                 6, 1, 5, 1, 2, 4, 9, 6, 2, 9, 14, 14, 14, 4, 13, 3, 5, 3, 12, 2, 8, 3, 14, 4, 7,
                 15, 8, 14, 15, 3, 10, 12, 13, 1, 14, 10],
        "status": [1, 1, 0, 1, 2, 2, 2, 1, 2, 2, 1, 2, 0, 0, 2, 0, 0, 1, 2, 1, 1, 2, 2, 0, 2, 1,
                   2, 1, 1, 0, 2, 0, 2, 0, 0, 1, 1, 0, 0, 0, 2, 1, 2, 2, 2, 2, 1, 2, 0, 0, 1, 2,
                   1, 1, 2, 0, 2, 0, 0, 2],
        "group": list("acaaaaccccaacaaacbaabbcbcabbcaabacbcbbbaaacbcacccabaccbaaaaa"),
        "x1": [1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 1, 1,
               1, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0,
               0, 0, 1, 0, 1, 1],
        "x2": [0.6, -0.2, -0.6, -0.8, -0.6, -0.7, -0.5, 1.1, -0.8, 0.9, 0.4, 0.1, -0.8, -0.5,
               2.0, 0.1, 0.5, 0.7, 1.1, -0.2, -0.6, -0.1, -0.3, 0.8, 0.2, 0.2, 0.1, 1.2, -0.5,
               -0.5, 0.9, -0.1, 0.4, -0.7, 0.0, 0.4, -1.3, -0.7, 0.4, 2.2, 0.5, -0.1, -0.8, 0.4,
               -2.5, 0.0, -0.3, -0.5, 2.3, -2.5, 0.0, 0.1, 0.5, -1.6, -0.5, -1.5, -0.1, 0.2,
               0.2, -0.2],
    }
)  # fmt: skip

# Eight persons: ties between causes (t=2) and censoring tied with events (t=2, t=4).
HAND = pd.DataFrame(
    {"time": [1, 2, 2, 2, 3, 4, 4, 5], "status": [1, 1, 2, 0, 2, 1, 0, 0], "arm": 0}
)


def tied_data(n: int, seed: int, groups: int = 3, causes: int = 2) -> pd.DataFrame:
    """Integer times 1..12 (many ties), codes 0..causes, groups, two covariates."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "time": rng.integers(1, 13, n).astype(float),
            "status": rng.integers(0, causes + 1, n),
            "group": rng.integers(0, groups, n),
            "x1": rng.integers(0, 2, n).astype(float),
            "x2": np.round(rng.normal(size=n), 2),
        }
    )


def simulate_fine_gray(n: int, beta: np.ndarray, p: float, seed: int) -> pd.DataFrame:
    """Fine & Gray (1999, section 5): F1(t|x) = 1 - [1 - p (1 - e^-t)]^exp(x'b); cause 2 with
    probability (1 - p)^exp(x'b), then T ~ Exp(exp(x'b)); censoring U(0, 3)."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)])
    eta = np.exp(x @ beta)
    p1 = 1 - (1 - p) ** eta
    is1 = rng.uniform(size=n) < p1
    u = rng.uniform(size=n)
    t1 = -np.log1p(-(1 - (1 - u * p1) ** (1 / eta)) / p)  # F1(t|x) = u F1(inf|x), solved
    t = np.where(is1, t1, rng.exponential(1 / eta))
    c = rng.uniform(0, 3, size=n)
    code = np.where(t <= c, np.where(is1, 1, 2), 0)
    return pd.DataFrame({"time": np.minimum(t, c), "status": code, "x1": x[:, 0], "x2": x[:, 1]})


# ------------------------------------------------------------------ cumulative incidence


def test_cif_hand_worked_example():
    # t=1: n=8, one cause 1:      F1 = 1 * 1/8                      = 4/32, S = 7/8
    # t=2: n=7, one 1, one 2, one censored (leaves after t=2):
    #                             F1 = 4/32 + 7/8 * 1/7             = 8/32, S = 7/8 * 5/7 = 5/8
    # t=3: n=4, one cause 2:      F1 = 8/32,  F2 = 4/32 + 5/8 * 1/4 = 9/32, S = 15/32
    # t=4: n=3, one 1, one censored:
    #                             F1 = 8/32 + 15/32 * 1/3           = 13/32, S = 10/32
    # t=5: n=1, censored:         F1 = 13/32
    res = cumulative_incidence(HAND, duration="time", event="status", cause=1)
    tab = res.table
    assert list(tab.columns) == list(CIF_COLUMNS)
    np.testing.assert_array_equal(tab["time"], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(tab["n_at_risk"], [8, 8, 7, 4, 3, 1])
    np.testing.assert_array_equal(tab["events_cause"], [0, 1, 1, 0, 1, 0])
    np.testing.assert_array_equal(tab["events_other"], [0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(tab["censored"], [0, 0, 1, 0, 1, 1])
    np.testing.assert_allclose(tab["cif"], np.array([0, 4, 8, 8, 13, 13]) / 32, rtol=0, atol=1e-15)
    # Var F1(1) = S(0)^2 d1 (n - d1) / n^3 = 7 / 512 (the other terms vanish at the first time)
    assert tab["se"].iloc[1] == pytest.approx(np.sqrt(7 / 512), rel=1e-14)
    assert tab["se"].iloc[0] == 0 and tab["ci_low"].iloc[0] == 0 and tab["ci_high"].iloc[0] == 0
    two = cumulative_incidence(HAND, duration="time", event="status", cause=2).table
    np.testing.assert_allclose(two["cif"], np.array([0, 0, 4, 9, 9, 9]) / 32, atol=1e-15)
    at = res.cif_at([0.5, 2, 4.5, 5, 6])
    np.testing.assert_allclose(at["cif"].to_numpy()[:4], [0, 8 / 32, 13 / 32, 13 / 32])
    assert np.isnan(at["cif"].iloc[4])  # beyond follow-up, S > 0: undefined
    np.testing.assert_array_equal(at["n_at_risk"], [8, 7, 1, 1, 0])


def slow_delta_variance(t: np.ndarray, codes: np.ndarray, cause: int) -> tuple:
    """Marubini & Valsecchi's delta-method variance written as a double loop."""
    times = np.unique(t)
    n = np.array([(t >= u).sum() for u in times], float)
    d = np.array([((t == u) & (codes > 0)).sum() for u in times], float)
    dk = np.array([((t == u) & (codes == cause)).sum() for u in times], float)
    s_prev, f, s = [], [], 1.0
    acc = 0.0
    for j in range(times.size):
        s_prev.append(s)
        acc += s * dk[j] / n[j]
        f.append(acc)
        s *= 1 - d[j] / n[j]
    var = []
    for m in range(times.size):
        v = 0.0
        for j in range(m + 1):
            if n[j] > d[j]:
                v += (f[m] - f[j]) ** 2 * d[j] / (n[j] * (n[j] - d[j]))
            v += s_prev[j] ** 2 * dk[j] * (n[j] - dk[j]) / n[j] ** 3
            v -= 2 * (f[m] - f[j]) * s_prev[j] * dk[j] / n[j] ** 2
        var.append(v)
    return times, np.array(f), np.array(var)


def numerical_delta_variance(t: np.ndarray, codes: np.ndarray, cause: int) -> np.ndarray:
    """Delta method from first principles: F(t_last) as a function of the hazard increments
    (lambda_kj, lambda_other_j), gradient by central differences, multinomial covariance
    (diag(l) - l l') / n_j of the increments at each time, independent across times."""
    times = np.unique(t)
    n = np.array([(t >= u).sum() for u in times], float)
    lk = np.array([((t == u) & (codes == cause)).sum() for u in times]) / n
    lo = np.array([((t == u) & (codes > 0) & (codes != cause)).sum() for u in times]) / n

    def cif(a, b):
        s = np.r_[1.0, np.cumprod(1 - a - b)[:-1]]
        return float(np.sum(s * a))

    h, var = 1e-6, 0.0
    for j in range(times.size):
        grad = []
        for which in (0, 1):
            up = [lk.copy(), lo.copy()]
            dn = [lk.copy(), lo.copy()]
            up[which][j] += h
            dn[which][j] -= h
            grad.append((cif(*up) - cif(*dn)) / (2 * h))
        lam = np.array([lk[j], lo[j]])
        cov = (np.diag(lam) - np.outer(lam, lam)) / n[j]
        var += np.array(grad) @ cov @ np.array(grad)
    return var


def test_cif_variance_matches_loop_and_first_principles():
    d = tied_data(150, seed=3)
    t, codes = d["time"].to_numpy(), d["status"].to_numpy()
    tab = cumulative_incidence(d, duration="time", event="status", cause=1).table
    times, f, var = slow_delta_variance(t, codes, 1)
    mine = tab.set_index("time").loc[times]
    np.testing.assert_allclose(mine["cif"], f, rtol=0, atol=1e-14)
    np.testing.assert_allclose(mine["se"] ** 2, var, rtol=1e-11, atol=1e-16)
    assert mine["se"].iloc[-1] ** 2 == pytest.approx(
        numerical_delta_variance(t, codes, 1), rel=1e-7
    )


def test_cif_matches_r_cmprsk_estimates():
    tab = cumulative_incidence(D60, duration="time", event="status", cause=1).table
    r_est = {  # cmprsk 2.2-11 cuminc(d$time, d$status)[["1 1"]]$est at its jump times
        1: 0.0333333333333333,
        2: 0.0672514619883041,
        3: 0.1181286549707602,
        6: 0.1561112041326363,
        7: 0.1756959560442286,
        8: 0.1959560442286345,
        10: 0.2646641693757500,
        14: 0.3496123968303657,
        15: 0.3968058565273743,
    }
    mine = tab.set_index("time")["cif"]
    for time, value in r_est.items():
        assert mine.loc[time] == pytest.approx(value, abs=1e-15)


def test_sum_of_cifs_plus_km_is_one():
    d = tied_data(400, seed=11, causes=3)
    t, e = d["time"], d["status"]
    total = sum(
        cumulative_incidence(d, duration="time", event="status", cause=k).table["cif"].to_numpy()
        for k in (1, 2, 3)
    )
    times = cumulative_incidence(d, duration="time", event="status", cause=1).table["time"]
    km = KaplanMeierFitter().fit(t, e > 0).survival_function_at_times(times.to_numpy())
    np.testing.assert_allclose(total + km.to_numpy(), 1.0, rtol=0, atol=1e-12)


def test_no_competing_events_gives_one_minus_km():
    d = tied_data(300, seed=5, causes=1)
    tab = cumulative_incidence(d, duration="time", event="status", cause=1).table
    km = KaplanMeierFitter().fit(d["time"], d["status"] == 1)
    s = km.survival_function_at_times(tab["time"].to_numpy()).to_numpy()
    np.testing.assert_allclose(tab["cif"], 1 - s, rtol=0, atol=1e-12)


def test_tie_free_data_match_lifelines_aalen_johansen():
    rng = np.random.default_rng(8)
    n = 200
    d = pd.DataFrame({"time": rng.exponential(size=n), "status": rng.integers(0, 3, n)})
    d.loc[d["time"].idxmax(), "status"] = 0  # lifelines' variance is 0/0 if the last is an event
    ajf = AalenJohansenFitter(calculate_variance=True).fit(d["time"], d["status"], 1)
    ref = pd.DataFrame(
        {
            "cif": ajf.cumulative_density_.iloc[:, 0],
            "var": ajf.variance_.to_numpy(),
            "low": ajf.confidence_interval_.min(axis=1),
            "high": ajf.confidence_interval_.max(axis=1),
        }
    )
    tab = cumulative_incidence(d, duration="time", event="status", cause=1).table
    mine = tab.set_index("time").loc[ref.index]
    np.testing.assert_allclose(mine["cif"], ref["cif"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(mine["se"] ** 2, ref["var"], rtol=0, atol=1e-10)
    ok = mine["cif"].to_numpy() > 0
    np.testing.assert_allclose(mine["ci_low"][ok], ref["low"][ok], rtol=0, atol=1e-10)
    np.testing.assert_allclose(mine["ci_high"][ok], ref["high"][ok], rtol=0, atol=1e-10)
    assert (mine["ci_low"] <= mine["cif"]).all() and (mine["cif"] <= mine["ci_high"]).all()
    assert (mine["ci_low"] >= 0).all() and (mine["ci_high"] <= 1).all()


def test_cif_deterministic_with_ties_and_no_randomness(monkeypatch):
    d = tied_data(300, seed=2)
    first = cumulative_incidence(d, duration="time", event="status", cause=2, group="group")

    def forbidden(*args, **kwargs):
        raise AssertionError("cumulative_incidence must not draw random numbers")

    for name in ("seed", "uniform", "random", "default_rng", "normal"):
        monkeypatch.setattr(np.random, name, forbidden)
    again = cumulative_incidence(d, duration="time", event="status", cause=2, group="group")
    shuffled = cumulative_incidence(
        d.iloc[::-1].reset_index(drop=True),
        duration="time",
        event="status",
        cause=2,
        group="group",
    )
    pd.testing.assert_frame_equal(first.table, again.table, check_exact=True)
    pd.testing.assert_frame_equal(first.table, shuffled.table, check_exact=True)


def test_cif_groups_at_risk_and_summary():
    res = cumulative_incidence(
        D60, duration="time", event="status", cause=1, group="group", times=[0, 5, 10]
    )
    assert res.groups == ["a", "b", "c"]
    for g, part in D60.groupby("group"):
        alone = cumulative_incidence(part, duration="time", event="status", cause=1).table
        mine = res.table[res.table["group"] == g].drop(columns="group").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, alone.drop(columns="group"))
        risk = res.at_risk[res.at_risk["group"] == g]["n_at_risk"].tolist()
        assert risk == [int((part["time"] >= u).sum()) for u in (0, 5, 10)]
    default = cumulative_incidence(D60, duration="time", event="status", cause=1)
    assert 4 <= len(default.at_risk) <= 9 and default.at_risk["time"].iloc[0] == 0
    text = res.summary()
    assert "Aalen-Johansen" in text and "n=27" in text


# ----------------------------------------------------------------------------- Gray's test


def slow_gray(t, codes, groups, cause, rho=0.0):
    """Gray (Ann Stat 1988) k-sample statistic, one loop per time and group, following the
    paper's quantities: group KM S_i(t-), CIF F_i(t-), h_i = Y_i / S_i(t-), R_i = h_i (1 -
    F_i(t-)), pooled F^0 with dF^0 = d(t) / sum h, weight (1 - F^0(t-))^rho, score
    sum (d_i - d R_i / sum R); variance from the influence of each cause-1 and competing
    increment with cmprsk's tie corrections."""
    levels = sorted(set(groups))
    k = len(levels)
    g = np.array([levels.index(x) for x in groups])
    times = sorted(set(t[codes > 0]))
    s_m, f_m, f0m = [1.0] * k, [0.0] * k, 0.0
    c = np.zeros((k, k))
    score = np.zeros(k)
    terms = []  # per increment: (a column, c(t) column, t4, t3, group)
    for u in times:
        y = [float(((t >= u) & (g == i)).sum()) for i in range(k)]
        d1 = [float(((t == u) & (g == i) & (codes == cause)).sum()) for i in range(k)]
        d2 = [float(((t == u) & (g == i) & (codes > 0) & (codes != cause)).sum()) for i in range(k)]
        s_new, f_new = list(s_m), list(f_m)
        tr = tq = 0.0
        for i in range(k):
            if y[i] > 0:
                s_new[i] = s_m[i] * (y[i] - d1[i] - d2[i]) / y[i]
                f_new[i] = f_m[i] + s_m[i] * d1[i] / y[i]
                tr += y[i] / s_m[i]
                tq += y[i] * (1 - f_m[i]) / s_m[i]
        nd1 = sum(d1)
        f0 = f0m + nd1 / tr
        w = (1 - f0m) ** rho
        a = np.zeros((k, k))
        for i in range(k):
            for j in range(k):
                if y[i] > 0 and y[j] > 0:
                    hi, hj = y[i] / s_m[i], y[j] / s_m[j]
                    a[i, j] = w * hi * ((i == j) - hj / tr)
        if nd1 > 0:
            c = c + a * nd1 / (tr * (1 - f0m))
        for i in range(k):
            if y[i] > 0:
                score[i] += w * (d1[i] - nd1 * y[i] * (1 - f_m[i]) / (s_m[i] * tq))
        for j in range(k):
            if nd1 > 0 and y[j] > 0:
                t4 = 1 - (1 - f0) / s_new[j] if s_new[j] > 0 else 1.0
                t5 = 1 - (nd1 - 1) / (tr * s_m[j] - 1) if nd1 > 1 else 1.0
                terms.append(
                    (a[:, j].copy(), c[:, j].copy(), t4, t5 * s_m[j] * nd1 / (tr * y[j]), j)
                )
            if d2[j] > 0 and s_new[j] > 0:
                t4 = (1 - f0) / s_new[j]
                t5 = 1 - (d2[j] - 1) / (y[j] - 1) if d2[j] > 1 else 1.0
                terms.append(
                    (0 * a[:, j], c[:, j].copy(), t4, t5 * s_m[j] ** 2 * d2[j] / y[j] ** 2, j)
                )
        s_m, f_m, f0m = s_new, f_new, f0
    var = np.zeros((k, k))
    for a_col, c_col, t4, t3, j in terms:
        # influence a + t4 (c(tau) - c(t)); a = 0 for competing-event increments
        infl = a_col + t4 * (c[:, j] - c_col)
        var += np.outer(infl, infl) * t3
    s, v = score[:-1], var[:-1, :-1]
    return float(s @ np.linalg.solve(v, s)), score


@pytest.mark.parametrize("groups", [2, 3])
@pytest.mark.parametrize(("cause", "rho"), [(1, 0.0), (2, 0.0), (1, 1.0)])
def test_gray_matches_slow_loop(groups, cause, rho):
    d = tied_data(250, seed=10 + groups, groups=groups)
    res = gray_test(d, duration="time", event="status", cause=cause, group="group", rho=rho)
    t, codes, groups_ = d["time"].to_numpy(), d["status"].to_numpy(), d["group"].tolist()
    ref, score = slow_gray(t, codes, groups_, cause, rho)
    assert res.statistic == pytest.approx(ref, rel=1e-8)
    np.testing.assert_allclose(res.table["score"], score, rtol=1e-10, atol=1e-10)
    assert res.df == groups - 1 and res.statistic >= 0
    assert res.p_value == pytest.approx(stats.chi2.sf(ref, groups - 1), rel=1e-8)
    assert res.table["events_cause"].sum() == (d["status"] == cause).sum()
    assert res.table["expected"].sum() == pytest.approx(res.table["events_cause"].sum())


def test_gray_matches_r_cmprsk():
    # cmprsk 2.2-11 cuminc(...)$Tests on D60: (cause, groups, rho) -> statistic
    r_values = {
        (1, "abc", 0): 1.299263242522476,
        (2, "abc", 0): 0.646402051980789,
        (1, "ab", 0): 0.913243783285211,
        (2, "ab", 0): 0.591420009139832,
        (1, "abc", 1): 1.079751471015388,
        (2, "abc", 1): 0.256162701693152,
    }
    for (cause, groups, rho), value in r_values.items():
        d = D60[D60["group"].isin(list(groups))]
        res = gray_test(d, duration="time", event="status", cause=cause, group="group", rho=rho)
        assert res.statistic == pytest.approx(value, rel=1e-10)
    p = gray_test(D60, duration="time", event="status", cause=1, group="group").p_value
    assert p == pytest.approx(0.522238122751747, rel=1e-10)
    assert (
        "Gray" in gray_test(D60, duration="time", event="status", cause=1, group="group").summary()
    )


def test_gray_statistic_nonnegative_and_invariant_to_group_order():
    d = tied_data(200, seed=4)
    a = gray_test(d, duration="time", event="status", cause=1, group="group")
    d2 = d.assign(group=d["group"].map({0: "z", 1: "y", 2: "x"}))
    b = gray_test(d2, duration="time", event="status", cause=1, group="group")
    assert a.statistic >= 0 and b.statistic == pytest.approx(a.statistic, rel=1e-10)


# ------------------------------------------------------------------- regression models


def test_cause_specific_cox_is_cox_with_other_causes_censored():
    d = tied_data(300, seed=6)
    res = fit_cause_specific_cox(
        d, duration="time", event="status", cause=2, covariates=["x1", "x2"]
    )
    assert "cause-specific" in res.method
    cph = CoxPHFitter().fit(
        d.assign(ev=(d["status"] == 2).astype(int))[["time", "ev", "x1", "x2"]], "time", "ev"
    )
    np.testing.assert_allclose(res.params, cph.params_[["x1", "x2"]], rtol=1e-6)
    np.testing.assert_allclose(res.table["se"], cph.standard_errors_[["x1", "x2"]], rtol=1e-5)
    robust = fit_cause_specific_cox(
        d, duration="time", event="status", cause=2, covariates=["x1"], robust=True
    )
    assert robust.robust and "robust" in robust.method


def test_finegray_expand_hand_example():
    # cause-1 times 1, 4, 6; censorings at 4 (tied with an event: the event leaves first) and 7.
    # G(4) = 1 - 1/(5 - 1) = 3/4 (at risk at 4: ids 2-6, minus the event at 4); G(7) = 0.
    # G(t-): 1 at t = 1, 4; 3/4 at t = 6. Competing id 1 (T=2, G(2-)=1): (2,4] w 1, (4,6] w 3/4.
    # Competing id 4 (T=5, G(5-)=3/4): (5,6] w (3/4)/(3/4) = 1. (Same weights as R finegray.)
    d = pd.DataFrame(
        {"time": [1, 2, 4, 4, 5, 6, 7], "status": [1, 2, 0, 1, 2, 1, 0], "x": [0, 1, 0, 1, 1, 0, 1]}
    )
    ex = finegray_expand(d, duration="time", event="status", cause=1, covariates=["x"])
    expected = pd.DataFrame(
        {
            "id": [0, 1, 1, 1, 2, 3, 4, 4, 5, 6],
            "start": [0, 0, 2, 4, 0, 0, 0, 5, 0, 0.0],
            "stop": [1, 2, 4, 6, 4, 4, 5, 6, 6, 7.0],
            "event": [1, 0, 0, 0, 0, 1, 0, 0, 1, 0],
            "weight": [1, 1, 1, 0.75, 1, 1, 1, 1, 1, 1.0],
            "x": [0, 1, 1, 1, 0, 1, 1, 1, 0, 1.0],
        }
    )
    pd.testing.assert_frame_equal(ex, expected, check_dtype=False)


def test_fine_gray_without_censoring_equals_cox_with_competing_kept_at_risk():
    d = tied_data(300, seed=21)
    d["status"] = d["status"].replace(0, 2)  # no censoring: G = 1, every weight is 1
    ex = finegray_expand(d, duration="time", event="status", cause=1, covariates=["x1", "x2"])
    assert (ex["weight"] == 1).all()
    fg = fit_fine_gray(d, duration="time", event="status", cause=1, covariates=["x1", "x2"])
    kept = d.assign(
        time=np.where(d["status"] == 2, d["time"].max() + 1, d["time"]),
        status=(d["status"] == 1).astype(int),
    )
    cox = fit_cox(kept, duration="time", event="status", covariates=["x1", "x2"], ties="breslow")
    np.testing.assert_allclose(fg.params, cox.params, rtol=0, atol=1e-8)
    np.testing.assert_allclose(fg.table["se"], cox.table["se"], rtol=1e-8)
    sm = PHReg(kept["time"], kept[["x1", "x2"]], status=kept["status"], ties="breslow").fit()
    np.testing.assert_allclose(fg.params, sm.params, rtol=0, atol=1e-8)


def fine_gray_reference(t, codes, x, g_before, cause=1):
    """Maximize the Fine–Gray weighted (Breslow) log partial likelihood with scipy.

    At each time u of a cause-1 event, w_j(u) = 1 if T_j >= u; G(u-)/G(T_j-) if j had a
    competing event before u; 0 otherwise (Fine & Gray 1999: r_j(u) G(u)/G(min(T_j, u)))."""
    event_times = np.unique(t[codes == cause])
    comp = (codes > 0) & (codes != cause)
    g_own = np.array([g_before(v) for v in t])
    blocks = []
    for u in event_times:
        w = np.where(t >= u, 1.0, np.where(comp, g_before(u) / g_own, 0.0))
        dead = (t == u) & (codes == cause)
        blocks.append((w, x[dead].sum(axis=0), dead.sum()))

    def negll(beta):
        eta = x @ beta
        ll, grad = 0.0, np.zeros(x.shape[1])
        for w, xsum, dk in blocks:
            r = w * np.exp(eta)
            ll += xsum @ beta - dk * np.log(r.sum())
            grad += xsum - dk * (r @ x) / r.sum()
        return -ll, -grad

    fit = optimize.minimize(negll, np.zeros(x.shape[1]), jac=True, method="BFGS",
                            options={"gtol": 1e-12, "maxiter": 500})  # fmt: skip
    return fit.x


def test_fine_gray_matches_direct_maximization_tie_free():
    rng = np.random.default_rng(31)
    n = 300
    d = pd.DataFrame(
        {
            "time": rng.exponential(size=n),
            "status": rng.choice([0, 1, 2], size=n, p=[0.3, 0.4, 0.3]),
            "x1": rng.integers(0, 2, n).astype(float),
            "x2": rng.normal(size=n),
        }
    )
    t, codes = d["time"].to_numpy(), d["status"].to_numpy()
    kmf = KaplanMeierFitter().fit(t, codes == 0)  # censoring distribution, no ties here

    def g_before(u):
        return float(kmf.survival_function_at_times(u).iloc[0])

    ref = fine_gray_reference(t, codes, d[["x1", "x2"]].to_numpy(), g_before)
    fg = fit_fine_gray(d, duration="time", event="status", cause=1, covariates=["x1", "x2"])
    np.testing.assert_allclose(fg.params, ref, rtol=1e-6)


def test_fine_gray_matches_direct_maximization_with_ties():
    d = tied_data(300, seed=41)
    d.loc[:9, "time"] = 0.0  # events and censorings at time 0: expanded rows start at -1
    t, codes = d["time"].to_numpy(), d["status"].to_numpy()

    def g_before(u):
        # G(u-) with events at a tied time leaving before the censorings there
        g = 1.0
        for c in np.unique(t[(codes == 0) & (t < u)]):
            at_risk = ((t > c) | ((t == c) & (codes == 0))).sum()
            g *= 1 - ((t == c) & (codes == 0)).sum() / at_risk
        return g

    ref = fine_gray_reference(t, codes, d[["x1", "x2"]].to_numpy(), g_before)
    fg = fit_fine_gray(d, duration="time", event="status", cause=1, covariates=["x1", "x2"])
    np.testing.assert_allclose(fg.params, ref, rtol=1e-6)


def test_fine_gray_matches_r_finegray_coxph():
    fg = fit_fine_gray(D60, duration="time", event="status", cause=1, covariates=["x1", "x2"])
    np.testing.assert_allclose(fg.params, [0.601897657834384, 0.123006487965196], rtol=1e-9)
    np.testing.assert_allclose(fg.table["se"], [0.475108947605001, 0.273377766541210], rtol=1e-8)
    np.testing.assert_allclose(
        fg.table["robust_se"], [0.453723003536445, 0.245774241764270], rtol=1e-8
    )
    efron = fit_fine_gray(
        D60, duration="time", event="status", cause=1, covariates=["x1", "x2"], ties="efron"
    )
    np.testing.assert_allclose(efron.params, [0.603313684913631, 0.121581721391450], rtol=1e-9)
    assert fg.n == 60 and fg.events == 18 and "Fine-Gray" in fg.method


def test_fine_gray_recovers_simulated_subdistribution_hazard_ratio():
    beta = np.array([0.5, -0.5])
    d = simulate_fine_gray(4000, beta, p=0.5, seed=0)
    start = clock.perf_counter()
    fg = fit_fine_gray(d, duration="time", event="status", cause=1, covariates=["x1", "x2"])
    assert clock.perf_counter() - start < 10
    z = (fg.params.to_numpy() - beta) / fg.table["robust_se"].to_numpy()
    assert np.all(np.abs(z) < 4), z


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (None, {"duration": "nope"}, "unknown column"),
        ("negative", {}, "negative"),
        ("missing", {}, "missing"),
        (None, {"cause": 3}, "cause 3 does not occur"),
        (None, {"cause": 0}, "positive integer"),
        ("no_events", {}, "no events"),
        ("fraction", {}, "integer codes"),
        (None, {"level": 1.5}, "level"),
        ("empty_group", {"group": "group"}, "have no rows"),
        (None, {"times": [-1]}, "times"),
    ],
)
def test_cumulative_incidence_bad_input(change, kwargs, match):
    d = D60.copy()
    if change == "negative":
        d.loc[3, "time"] = -1
    elif change == "missing":
        d["time"] = d["time"].astype(float)
        d.loc[3, "time"] = np.nan
    elif change == "no_events":
        d["status"] = 0
    elif change == "fraction":
        d["status"] = d["status"].astype(float)
        d.loc[0, "status"] = 1.5
    elif change == "empty_group":
        d["group"] = pd.Categorical(d["group"], categories=["a", "b", "c", "d"])
    args = {"duration": "time", "event": "status", "cause": 1, **kwargs}
    with pytest.raises(AnalysisError, match=match):
        cumulative_incidence(d, **args)


def test_other_entry_points_bad_input():
    kw = {"duration": "time", "event": "status"}
    with pytest.raises(AnalysisError, match="only one group"):
        gray_test(D60[D60["group"] == "a"], cause=1, group="group", **kw)
    with pytest.raises(AnalysisError, match="unknown column"):
        gray_test(D60, cause=1, group="arm", **kw)
    with pytest.raises(AnalysisError, match="missing value"):
        gray_test(D60.assign(group=D60["group"].where(D60.index > 0)), cause=1, group="group", **kw)
    with pytest.raises(AnalysisError, match="does not occur"):
        fit_fine_gray(D60, cause=4, covariates=["x1"], **kw)
    with pytest.raises(AnalysisError, match="clash"):
        finegray_expand(D60.assign(weight=1.0), cause=1, covariates=["weight"], **kw)
    with pytest.raises(AnalysisError, match="unknown column"):
        fit_fine_gray(D60, cause=1, covariates=["x9"], **kw)
    with pytest.raises(AnalysisError, match="single value"):
        fit_fine_gray(D60.assign(c=1.0), cause=1, covariates=["c"], **kw)
    with pytest.raises(AnalysisError, match="does not occur"):
        fit_cause_specific_cox(D60, cause=3, covariates=["x1"], **kw)
    with pytest.raises(AnalysisError, match="DataFrame"):
        cumulative_incidence(D60.to_dict(), cause=1, **kw)
    with pytest.raises(AnalysisError, match="no rows"):
        cumulative_incidence(D60.iloc[:0], cause=1, **kw)
