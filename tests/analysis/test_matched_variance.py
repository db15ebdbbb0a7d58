"""The variances of matched-set fits, each against an independent engine or a closed form.

* shared-members sandwich (sparse) vs a brute-force O(S^2) double loop over set pairs: 1e-12;
* with no person shared across sets it is the set-clustered sandwich: R ``coxph``/``clogit``
  with ``cluster(set_id)`` (1e-5 relative: R prints 10 digits);
* person-clustered SEs vs R ``coxph(... + strata(set_id) + cluster(id))`` and
  ``clogit(... + cluster(id))`` on ``tests/reference/matched_shared.csv``; the robust score test
  vs R's ``rscore`` (script ``matched_cluster.R``, output ``matched_cluster.Rout``; R is not
  needed to run these tests);
* conditional-logistic set scores vs statsmodels ``ConditionalLogit.score_grp`` (1e-10) and the
  model SE vs statsmodels and R's exact ``clogit`` (1e-5: statsmodels' Hessian is numerical).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.conditional_models import ConditionalLogit

from reawaken.analysis.cox import fit_cox, fit_matched_cox
from reawaken.analysis.matched_or import conditional_logit_row_scores, matched_odds_ratio
from reawaken.analysis.matched_variance import (
    clip_to_psd,
    matched_score_test,
    robust_score_test,
    scores_by_set,
    set_person_incidence,
    shared_members_meat,
    shared_members_variance,
)
from reawaken.engine.coxph import score_residuals
from reawaken.errors import AnalysisError

REF = Path(__file__).resolve().parents[1] / "reference"
COVS = ["age"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return pd.read_csv(REF / "matched_shared.csv")


@pytest.fixture(scope="module")
def r_values() -> dict[str, np.ndarray]:
    out = {}
    for line in (REF / "matched_cluster.Rout").read_text().splitlines():
        model, kind, *values = line.split()
        out[f"{model} {kind}"] = np.array([float(v) for v in values])
    return out


def _brute_force_meat(u: np.ndarray, sets: np.ndarray, persons: np.ndarray) -> np.ndarray:
    """B = sum over ordered pairs (s, t) of sets with a common person of U_s U_t'."""
    labels = np.unique(sets)
    members = [set(persons[sets == s]) for s in labels]
    b = np.zeros((u.shape[1], u.shape[1]))
    for i in range(len(labels)):
        for j in range(len(labels)):
            if members[i] & members[j]:
                b += np.outer(u[i], u[j])
    return b


def test_sparse_meat_equals_brute_force_double_loop(table):
    fit = fit_matched_cox(table, covariates=COVS)
    resid = fit.extra["score_residuals"]
    sets, ids = table["set_id"].to_numpy(), table["id"].to_numpy()
    u = scores_by_set(resid, sets)
    brute = _brute_force_meat(u, sets, ids)
    sparse_b = shared_members_meat(u, set_person_incidence(sets, ids))
    np.testing.assert_allclose(sparse_b, brute, rtol=1e-12, atol=1e-12 * np.abs(brute).max())
    a_inv = fit.extra["model_variance"]
    v = fit.extra["variances"].shared.variance
    np.testing.assert_allclose(v, a_inv @ brute @ a_inv, rtol=1e-12)
    assert fit.extra["variances"].shared.n_linked_pairs > 0


def test_role_does_not_matter_exposed_in_one_set_control_in_another():
    """Person 7 is the exposed member of set 1 and a control of set 2: the sets are linked."""
    sets = np.array([1, 1, 2, 2, 3, 3])
    ids = np.array([7, 8, 9, 7, 10, 11])
    u = np.array([[1.0], [0.5], [2.0], [-1.0], [0.3], [0.2]])
    b = shared_members_meat(scores_by_set(u, sets), set_person_incidence(sets, ids))
    u_set = np.array([1.5, 1.0, 0.5])
    assert b[0, 0] == pytest.approx(u_set @ u_set + 2 * 1.5 * 1.0, rel=1e-14)


def test_person_twice_in_one_set_counts_once():
    m = set_person_incidence([1, 1, 2], [5, 5, 5])
    assert m.toarray().tolist() == [[1.0], [1.0]]


def test_without_shared_persons_it_is_the_set_clustered_sandwich(table, r_values):
    unique = table.assign(id=np.arange(len(table)))
    fit = fit_matched_cox(unique, covariates=COVS)
    np.testing.assert_allclose(
        fit.table["shared_members_se"], r_values["cox_set robust_se"], rtol=1e-5
    )
    clustered = fit_cox(
        unique,
        duration="time",
        event="event",
        covariates=["exposed", *COVS],
        strata="set_id",
        cluster="set_id",
    )
    np.testing.assert_allclose(
        fit.table["shared_members_se"], clustered.table["robust_se"], rtol=1e-12
    )
    assert fit.extra["variances"].shared.n_linked_pairs == 0
    odds = matched_odds_ratio(unique.assign(event=unique["case"]), covariates=COVS)
    np.testing.assert_allclose(
        odds.table["shared_members_se"], r_values["clogit_set robust_se"], rtol=1e-5
    )


def test_matched_cox_against_r_coxph_cluster_id(table, r_values):
    fit = fit_matched_cox(table, covariates=COVS, variance="robust")
    np.testing.assert_allclose(fit.table["coef"], r_values["cox coef"], rtol=1e-7)
    np.testing.assert_allclose(fit.table["se"], r_values["cox model_se"], rtol=1e-5)
    np.testing.assert_allclose(fit.table["robust_se"], r_values["cox robust_se"], rtol=1e-5)
    assert fit.se("age") == fit.table.set_index("term").loc["age", "robust_se"]
    assert fit.variance_name == "robust"


@pytest.mark.filterwarnings("ignore:Dropped:statsmodels.tools.sm_exceptions.ModelWarning")
def test_matched_or_against_r_clogit_and_statsmodels(table, r_values):
    data = table.assign(event=table["case"])
    fit = matched_odds_ratio(data, covariates=COVS, variance="model")
    np.testing.assert_allclose(fit.table["coef"], r_values["clogit coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.table["se"], r_values["clogit model_se"], rtol=1e-5)
    np.testing.assert_allclose(fit.table["robust_se"], r_values["clogit robust_se"], rtol=1e-5)
    groups = pd.factorize(data["set_id"])[0]
    x = data[["exposed", *COVS]].to_numpy(float)
    model = ConditionalLogit(data["case"].to_numpy(float), x, groups=groups)
    sm = model.fit(disp=0, method="bfgs", maxiter=500)
    sm = model.fit(disp=0, start_params=sm.params, method="newton")
    np.testing.assert_allclose(fit.table["coef"], sm.params, rtol=1e-7)
    np.testing.assert_allclose(fit.table["se"], sm.bse, rtol=1e-6)  # numerical Hessian
    assert fit.se("exposed") == fit.table["se"].iloc[0] and fit.variance_name == "model"


def _multi_case_sets(seed: int) -> pd.DataFrame:
    """Sets of 3-7 members with 1-3 cases, so the exact conditional likelihood differs from
    Efron's and Breslow's approximations."""
    rng = np.random.default_rng(seed)
    parts = []
    for s in range(60):
        size = int(rng.integers(3, 8))
        x = rng.normal(size=(size, 2))
        eta = 0.7 * x[:, 0] - 0.4 * x[:, 1]
        cases = rng.choice(
            size,
            int(rng.integers(1, min(3, size - 1) + 1)),
            replace=False,
            p=np.exp(eta) / np.exp(eta).sum(),
        )
        y = np.isin(np.arange(size), cases).astype(int)
        parts.append(pd.DataFrame({"set_id": s, "a": x[:, 0], "b": x[:, 1], "event": y}))
    df = pd.concat(parts, ignore_index=True)
    return df.assign(id=rng.integers(0, 150, len(df)), time=1.0)


@pytest.mark.filterwarnings("ignore:Dropped:statsmodels.tools.sm_exceptions.ModelWarning")
def test_conditional_logit_set_scores_sum_to_statsmodels_group_scores():
    df = _multi_case_sets(3)
    groups = pd.factorize(df["set_id"])[0]
    x = df[["a", "b"]].to_numpy()
    y = df["event"].to_numpy().astype(bool)
    model = ConditionalLogit(y.astype(float), x, groups=groups)
    beta = np.array([0.3, -0.2])
    rows = conditional_logit_row_scores(y, x, groups, beta)
    per_set = scores_by_set(rows, groups)
    expected = np.array([model.score_grp(g, beta) for g in range(model._n_groups)])
    np.testing.assert_allclose(per_set, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rows.sum(axis=0), model.score(beta), rtol=1e-10)
    fit = matched_odds_ratio(df, exposure="a", covariates=["b"])
    np.testing.assert_allclose(np.asarray(model.score(fit.params.to_numpy())), 0, atol=1e-6)
    assert fit.variance_name == "shared-members"


def test_one_case_sets_row_scores_are_cox_score_residuals(table):
    """With one case per set the clogit row score is the Breslow Cox score residual."""
    data = table.assign(event=table["case"], time=1.0)
    groups = pd.factorize(data["set_id"])[0]
    x = data[["exposed", *COVS]].to_numpy(float)
    beta = np.array([0.2, -0.01])
    rows = conditional_logit_row_scores(data["case"].to_numpy().astype(bool), x, groups, beta)
    cox = score_residuals(
        None, np.ones(len(x)), data["case"].to_numpy(float), x, beta, strata=groups, ties="breslow"
    )
    np.testing.assert_allclose(rows, cox, rtol=1e-10, atol=1e-13)


def test_robust_score_test_against_r_rscore(table, r_values):
    x = table[["exposed", *COVS]].to_numpy(float)
    strata = pd.factorize(table["set_id"])[0]
    at_null = score_residuals(
        None,
        table["time"].to_numpy(float),
        table["event"].to_numpy(float),
        x,
        np.zeros(2),
        strata=strata,
    )
    stat, df, _ = robust_score_test(at_null, table["id"])
    assert stat == pytest.approx(r_values["cox rscore"][0], rel=1e-6) and df == 2
    stat_set, _, _ = robust_score_test(at_null, table["set_id"])
    assert stat_set == pytest.approx(r_values["cox_set rscore"][0], rel=1e-6)
    unique = np.arange(len(table))
    same, _, _ = robust_score_test(at_null, table["set_id"], unique)
    assert same == pytest.approx(stat_set, rel=1e-12)
    shared, _, p_shared = robust_score_test(at_null, table["set_id"], table["id"])
    assert 0 < shared and 0 < p_shared < 1


def test_clipping_and_a_negative_meat():
    m = np.array([[2.0, 0.0], [0.0, -1.0]])
    clipped, k = clip_to_psd(m)
    assert k == 1 and np.allclose(clipped, [[2.0, 0.0], [0.0, 0.0]])
    assert clip_to_psd(np.eye(2)) == (pytest.approx(np.eye(2)), 0)
    # chain 1-2-3 (sets 1 and 3 share nobody) with scores +1, -1, +1: B = 3 - 2 - 2 = -1 < 0
    sets = np.array([1, 1, 2, 2, 3, 3])
    ids = np.array([1, 2, 2, 3, 3, 4])
    u = np.array([[1.0], [0.0], [-1.0], [0.0], [1.0], [0.0]])
    with pytest.raises(AnalysisError, match=r"not positive.*fix:"):
        shared_members_variance(np.eye(1), u, sets, ids)
    # two parameters: B = [[-1, .5], [.5, 1.45]] has one negative eigenvalue, clipped to 0
    u2 = np.column_stack([u[:, 0], [0.5, 0.1, 0.3, 0.2, -0.4, 0.6]])
    res = shared_members_variance(np.eye(2), u2, sets, ids)
    np.testing.assert_allclose(res.meat, [[-1.0, 0.5], [0.5, 1.45]], rtol=1e-14)
    values, vectors = np.linalg.eigh(res.meat)
    top = vectors[:, 1]
    assert res.clipped == 1 and values[0] < 0
    np.testing.assert_allclose(res.variance, values[1] * np.outer(top, top), rtol=1e-12)


@pytest.mark.parametrize("variance", ["shared-members", "robust", "model"])
def test_table_shows_three_ses_and_uses_the_chosen_one(table, variance):
    fit = fit_matched_cox(table, variance=variance)
    t = fit.table.set_index("term").loc["exposed"]
    assert {"se", "robust_se", "shared_members_se"} <= set(fit.table.columns)
    column = {"shared-members": "shared_members_se", "robust": "robust_se", "model": "se"}
    assert fit.se("exposed") == t[column[variance]]
    half = np.log(t["ci_high"] / t["ci_low"]) / 2
    assert half == pytest.approx(1.959963984540054 * t[column[variance]], rel=1e-12)
    assert variance in fit.method


def test_bad_variance_name(table):
    with pytest.raises(AnalysisError, match=r"variance='sandwich' is not one of.*fix:"):
        fit_matched_cox(table, variance="sandwich")
    no_id = table.drop(columns="id").assign(event=table["case"])
    with pytest.raises(AnalysisError, match="no person id column"):
        matched_odds_ratio(no_id)
    model = matched_odds_ratio(no_id, variance="model")
    with_id = matched_odds_ratio(table.assign(event=table["case"]), variance="model")
    assert model.se("exposed") == pytest.approx(with_id.se("exposed"), rel=1e-12)


def test_matched_score_test_is_the_stratified_logrank_with_robust_variance(table, r_values):
    from reawaken.analysis.km import logrank

    res = matched_score_test(table)
    lr = logrank(table, duration="time", event="event", group="exposed", strata="set_id")
    exposed = lr.table.set_index("group").loc[1]
    assert res.score == pytest.approx(exposed["observed"] - exposed["expected"], rel=1e-10)
    unique = table.assign(id=np.arange(len(table)))
    no_sharing = matched_score_test(unique)
    assert no_sharing.statistic == pytest.approx(r_values["logrank_set rscore"][0], rel=1e-6)
    by_person = robust_score_test(
        score_residuals(
            None,
            table["time"].to_numpy(float),
            table["event"].to_numpy(float),
            table[["exposed"]].to_numpy(float),
            np.zeros(1),
            strata=pd.factorize(table["set_id"])[0],
            ties="breslow",
        ),
        table["id"],
    )
    assert by_person[0] == pytest.approx(r_values["logrank_id rscore"][0], rel=1e-6)
    assert res.score_se == pytest.approx(abs(res.score) / np.sqrt(res.statistic), rel=1e-12)
    assert "shared-members" in res.method and 0 < res.p_value < 1
