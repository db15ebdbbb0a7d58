"""reawaken analyze: every design runs end to end, writes its files, and fails cleanly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reawaken.analyze import parse_match_on, run_analysis, write_analysis
from reawaken.cli import main
from reawaken.errors import AnalysisError
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    sc = load_scenario("flatiron_lung_mets").with_n(8000)
    return simulate_cohort(sc, np.random.default_rng(5)).data.drop(columns="true_infection_day")


def test_parse_match_on():
    assert parse_match_on("age:2,stage, her2") == (["stage", "her2"], {"age": 2.0})
    assert parse_match_on(None) == ([], {})
    with pytest.raises(AnalysisError, match="not a number"):
        parse_match_on("age:two")


@pytest.mark.parametrize("design", ["time_varying_cox", "matched_cox", "naive_cox"])
def test_designs_run_and_write(cohort, design, tmp_path):
    out = run_analysis(
        cohort, design=design, rng=np.random.default_rng(1), exact=["stage"], caliper={"age": 2.0}
    )
    assert len(out.estimates) >= 1
    assert np.isfinite(out.estimates["ratio"]).all()
    paths = write_analysis(out, tmp_path)
    names = {p.name for p in paths}
    assert {"estimates.csv", "estimates.json", "summary.txt"} <= names
    assert all(p.stat().st_size > 0 for p in paths)
    figs = {p.stem for p in paths if p.suffix in (".png", ".svg")}
    assert figs, "every design draws at least one figure"
    assert all((tmp_path / f"{f}.png").exists() and (tmp_path / f"{f}.svg").exists() for f in figs)
    if design == "matched_cox":
        assert {"km", "cif", "love"} <= figs and "balance.csv" in names
        assert set(out.estimates["analysis"].str.split(" ").str[1]) >= {"Cox", "OR"}


def test_naive_is_labelled(cohort):
    out = run_analysis(cohort, design="naive_cox", rng=np.random.default_rng(1))
    assert "IMMORTAL TIME BIAS" in out.estimates["analysis"].iloc[0]


def test_matched_and_time_varying_agree_roughly(cohort):
    tv = run_analysis(cohort, design="time_varying_cox", rng=np.random.default_rng(1))
    m = run_analysis(cohort, design="matched_cox", rng=np.random.default_rng(1), exact=["stage"])
    a = tv.estimates.iloc[0]
    b = m.estimates.iloc[0]
    se = np.hypot(a["se"], b["robust_se"])
    assert abs(a["coef"] - b["coef"]) < 4 * se


def test_cli_analyze(tmp_path, capsys):
    from reawaken.io import write_table
    from reawaken.simulate.cohort import simulate_cohort as sim

    data = sim(load_scenario("flatiron_lung_mets").with_n(5000), np.random.default_rng(2)).data
    path = write_table(data, tmp_path / "c.parquet")
    out = tmp_path / "out"
    assert (
        main(
            [
                "analyze",
                str(path),
                "--design",
                "matched_cox",
                "--match-on",
                "age:2,stage",
                "--controls",
                "2",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["design"] == "matched_cox"
    assert (out / "km.svg").exists() and (out / "balance.csv").exists()


def test_cli_analyze_bad_column_leaves_nothing(tmp_path, capsys):
    from reawaken.io import write_table
    from reawaken.simulate.cohort import simulate_cohort as sim

    data = sim(load_scenario("flatiron_lung_mets").with_n(2000), np.random.default_rng(2)).data
    path = write_table(data, tmp_path / "c.parquet")
    out = tmp_path / "out"
    code = main(
        [
            "analyze",
            str(path),
            "--design",
            "matched_cox",
            "--match-on",
            "weight:2",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    assert "weight" in capsys.readouterr().err
    assert not out.exists()


def test_matched_design_uses_the_shared_members_variance(cohort):
    out = run_analysis(
        cohort,
        design="matched_cox",
        rng=np.random.default_rng(1),
        exact=["stage"],
        caliper={"age": 2.0},
    )
    est = out.estimates
    assert (est["variance"] == "shared-members").all() and len(est) == 3
    assert np.isfinite(est[["se", "robust_se", "shared_members_se"]]).all().all()
    half = np.log(est["ci_high"] / est["ci_low"]) / 2
    np.testing.assert_allclose(half, 1.959963984540054 * est["shared_members_se"], rtol=1e-10)
    assert "shared-members variance" in out.tests["test"].iloc[0]
    assert not out.tests["test"].str.contains("^log-rank stratified by matched set$").any()
    assert any("assume them independent" in n for n in out.notes)
    # no inference that assumes independent rows: curves descriptive, no Gray's test
    assert not out.tests["test"].str.contains("Gray").any()
    assert out.survival[["ci_low", "ci_high"]].isna().all().all()
    assert any("descriptive (no CIs, no Gray's test)" in n for n in out.notes)


def test_matched_fine_gray_clusters_on_the_person():
    """The person-clustered SE of the matched Fine-Gray equals fit_cox on the expanded rows
    clustered on the person id (not on the row position)."""
    from reawaken.analysis.cox import fit_cox
    from reawaken.analysis.finegray import finegray_expand, fit_fine_gray

    rng = np.random.default_rng(8)
    sets = np.repeat(np.arange(150), 3)
    data = pd.DataFrame(
        {
            "set_id": sets,
            "id": np.where(
                np.arange(sets.size) % 3 == 0, sets, 500 + rng.integers(0, 120, sets.size)
            ),
            "exposed": np.tile([1, 0, 0], 150),
            "time": np.ceil(rng.exponential(200, sets.size)),
            "event": rng.choice([0, 1, 2], sets.size, p=[0.5, 0.3, 0.2]),
        }
    )
    fg = fit_fine_gray(
        data,
        duration="time",
        event="event",
        cause=1,
        covariates=["exposed"],
        cluster="id",
        sets="set_id",
    )
    ex = finegray_expand(data, duration="time", event="event", cause=1, covariates=["exposed"])
    ex = ex.assign(person=data["id"].to_numpy()[ex["id"]])
    ref = fit_cox(
        ex,
        start="start",
        stop="stop",
        event="event",
        covariates=["exposed"],
        weights="weight",
        cluster="person",
        ties="breslow",
    )
    by_row = fit_fine_gray(data, duration="time", event="event", cause=1, covariates=["exposed"])
    assert fg.table["robust_se"].iloc[0] == pytest.approx(ref.table["robust_se"].iloc[0], rel=1e-12)
    assert fg.table["robust_se"].iloc[0] != pytest.approx(by_row.table["robust_se"].iloc[0])
    assert fg.variance_name == "shared-members" and "shared-members" in fg.method
    with pytest.raises(AnalysisError, match="sets= needs cluster="):
        fit_fine_gray(
            data, duration="time", event="event", cause=1, covariates=["exposed"], sets="set_id"
        )


def test_time_varying_reports_every_term_persons_and_curves(cohort):
    out = run_analysis(
        cohort, design="time_varying_cox", rng=np.random.default_rng(1), times=[365, 730]
    )
    est = out.estimates
    main_model = est[est["analysis"].str.startswith("time-varying Cox (")]
    covs = [
        c
        for c in cohort.columns
        if c not in {"id", "entry_day", "exposure_day", "event_day", "event"}
    ]
    assert main_model["term"].tolist() == ["exposed", *covs]
    assert (est["measure"] == "HR").all()
    n_exposed_split = int(
        (
            (cohort["exposure_day"] > cohort["entry_day"])
            & (cohort["exposure_day"] < cohort["event_day"])
        ).sum()
    )
    first = est.iloc[0]
    assert first["persons"] == len(cohort)
    assert first["rows"] == len(cohort) + n_exposed_split
    assert first["events"] == first["event_rows"] == int((cohort["event"] == 1).sum())
    curves = set(out.survival["curve"])
    assert curves == {"Simon-Makuch", "landmark at day 180"}
    assert set(out.survival["time"]) == {365.0, 730.0}
    assert {"simon_makuch", "landmark", "cif"} <= set(out.figures)
    assert "not the survival of a group" in out.captions["Simon-Makuch"]
    assert "condition on survival to day 180" in out.captions["landmark at day 180"]
    text = out.summary()
    assert f"persons {len(cohort):,}" in text and "rows" in text and "caveat:" in text
    for term in covs:
        assert f"\n  {term} " in text


def test_time_varying_formula_equals_fit_cox_on_the_episodes(cohort):
    from reawaken.analysis.cox import fit_cox
    from reawaken.design.episodes import split_at_exposure

    formula = "exposed + bs(age, df=3) + C(stage) + her2 + exposed:age"
    out = run_analysis(
        cohort, design="time_varying_cox", rng=np.random.default_rng(1), formula=formula
    )
    episodes = split_at_exposure(cohort, covariates=["age", "stage", "her2"])
    ref = fit_cox(
        episodes, start="start", stop="stop", event="event", formula=formula, cluster="id"
    )
    main_model = out.estimates[out.estimates["analysis"].str.startswith("time-varying Cox (")]
    assert main_model["term"].tolist() == ref.table["term"].tolist()
    np.testing.assert_allclose(main_model["coef"], ref.table["coef"], rtol=1e-12)
    assert any("exposed:age" in n for n in out.notes)  # left out of the window model
    # 41 outcomes: the 0-90 day window has none, which the notes say (windows: test_cox.py)
    assert any(n.startswith("HR by window not estimable") for n in out.notes)


def test_matched_rows_carry_measures_and_distinct_persons(cohort):
    out = run_analysis(
        cohort, design="matched_cox", rng=np.random.default_rng(1), exact=["stage"], times=[365]
    )
    est = out.estimates
    assert est["measure"].tolist() == ["HR", "OR", "SHR"]
    assert (est["persons"] < est["rows"]).all()  # controls reused across sets
    assert (est["events"] <= est["event_rows"]).all()
    assert set(out.survival["group"]) == {"exposed", "matched controls"}


@pytest.mark.parametrize(
    ("design", "kwargs", "message"),
    [
        ("matched_cox", {"formula": "exposed + age"}, "--formula is for the time-varying"),
        ("time_varying_cox", {"formula": "age + her2"}, "does not use the exposure"),
        ("time_varying_cox", {"formula": "exposed + weight"}, "unknown column.*'weight'"),
        ("naive_cox", {"times": [-1.0]}, "times must be a non-empty list"),
    ],
)
def test_bad_formula_or_times_raise(cohort, design, kwargs, message):
    with pytest.raises(AnalysisError, match=message):
        run_analysis(cohort, design=design, rng=np.random.default_rng(1), **kwargs)


def test_cli_analyze_json_is_strict_and_complete(tmp_path, capsys):
    from reawaken.io import write_table
    from reawaken.simulate.cohort import simulate_cohort as sim

    data = sim(load_scenario("flatiron_lung_mets").with_n(4000), np.random.default_rng(3)).data
    path = write_table(data.drop(columns="true_infection_day"), tmp_path / "c.parquet")
    out = tmp_path / "out"
    args = ["analyze", str(path), "--design", "naive_cox", "--formula", "exposed + age + C(stage)"]
    assert main([*args, "--times", "365,730", "--out", str(out), "--json"]) == 0
    raw = capsys.readouterr().out

    def no_nan(token):
        raise AssertionError(f"non-strict JSON token {token}")

    payload = json.loads(raw, parse_constant=no_nan)
    assert {"estimates", "tests", "survival", "captions", "notes", "files"} <= set(payload)
    terms = [r["term"] for r in payload["estimates"]]
    assert terms[0] == "exposed" and any(t.startswith("C(stage)") for t in terms)
    assert {r["time"] for r in payload["survival"]} == {365.0, 730.0}
    assert (out / "survival.csv").exists()
    json.loads((out / "estimates.json").read_text(), parse_constant=no_nan)
