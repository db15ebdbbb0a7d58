"""Cohort builder: hand-worked rules, the flow table, the spec/CLI route, and a round trip
from a simulated cohort to dated records and back."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import reawaken as rw
from reawaken.cli import main
from reawaken.cohort_builder import Records, build_cohort
from reawaken.errors import AnalysisError, CohortError, InputFileError

ORIGIN, END = "2020-03-01", "2020-12-31"  # day 0 and day 305


def _tables():
    persons = pd.DataFrame(
        {
            "pid": [1, 2, 3, 4, 5, 6, 7],
            "dx": [
                "2019-05-01",
                "2020-04-01",
                "2020-03-10",
                None,
                "2020-03-01",
                "2020-01-01",
                "2020-03-01",
            ],
            "stage": ["I", "II", "IV", "I", "III", "II", None],
            "her2": [0, 1, 0, 0, 1, 0, 1],
            "last": [
                "2021-01-01",
                "2020-05-01",
                "2020-06-01",
                "2020-06-01",
                "2020-02-01",
                "2021-06-30",
                "2020-08-01",
            ],
            "death": [None, "2020-04-20", None, None, None, "2020-07-01", None],
            "cause": [None, "cancer", None, None, None, "other", None],
        }
    )
    tests = pd.DataFrame(
        {
            "pid": [1, 1, 2, 3, 3, 6, 99, 1],
            "d": [
                "2020-06-01",
                "2020-05-01",
                "2020-04-01",
                "2020-03-01",
                "2020-05-15",
                "2020-07-01",
                "2020-01-01",
                "2020-04-01",
            ],
            "r": ["neg", "pos", "pos", "pos", "neg", "pos", "pos", "void"],
        }
    )
    mets = pd.DataFrame({"pid": [1, 3], "d": ["2020-09-01", "2020-06-01"]})
    return persons, tests, mets


def _build(rule="index_at_entry", **kw):
    persons, tests, mets = _tables()
    return build_cohort(
        persons,
        origin_date=ORIGIN,
        end_date=END,
        entry="dx",
        id_col="pid",
        exposures=Records(tests, date="d", result="r", positive=["pos"], negative=["neg"]),
        outcomes=Records(mets, date="d"),
        deaths=Records(persons, date="death", cause="cause", outcome_causes=["cancer"]),
        last_contact=Records(persons, date="last"),
        categorical={"stage": ["I", "II", "III", "IV"]},
        prevalent_exposure=rule,
        **kw,
    )


def test_rules_worked_by_hand():
    built = _build()
    d = built.data.set_index("id")
    # person 1: entry at origin (diagnosed 2019); positive test 2020-05-01 = day 61; first
    # negative 2020-06-01 = day 92; metastasis 2020-09-01 = day 184 -> outcome at end of day 185
    assert d.loc[1, ["entry_day", "exposure_day", "test_day", "event_day", "event"]].tolist() == [
        0.0,
        61.0,
        92.0,
        185.0,
        1,
    ]
    # person 2: entry day 31, exposed the same day, cancer death 2020-04-20 (day 50) = outcome
    assert d.loc[2, ["entry_day", "exposure_day", "event_day", "event"]].tolist() == [
        31.0,
        31.0,
        51.0,
        1,
    ]
    # person 3: positive test before entry (day 0 < 9) -> indexed at entry; metastasis on the
    # last-contact day counts as the outcome
    assert d.loc[3, ["entry_day", "exposure_day", "test_day", "event_day", "event"]].tolist() == [
        9.0,
        9.0,
        75.0,
        93.0,
        1,
    ]
    # person 6: exposure and non-cancer death on the same day: exposure first, competing death
    assert d.loc[6, ["exposure_day", "event_day", "event"]].tolist() == [122.0, 123.0, 2]
    assert d.loc[1, ["stage_II", "stage_III", "stage_IV", "her2"]].tolist() == [0, 0, 0, 0]
    assert d.loc[3, ["stage_II", "stage_III", "stage_IV"]].tolist() == [0, 0, 1]
    assert list(built.data.columns[:6]) == [
        "id",
        "entry_day",
        "exposure_day",
        "test_day",
        "event_day",
        "event",
    ]
    assert built.data.attrs["origin_date"] == ORIGIN


def test_flow_counts_every_exclusion_once():
    built = _build()
    flow = built.flow.set_index("description")
    assert flow.loc["persons in persons table", "remaining"] == 7
    assert flow.loc["no entry date", "excluded"] == 1  # person 4
    fu = "follow-up ended before entry (last contact or death before the entry date)"
    assert flow.loc[fu, "excluded"] == 1  # person 5
    assert flow.loc["missing covariate value (stage_II, stage_III, stage_IV)", "excluded"] == 1
    assert flow.loc["study cohort", "remaining"] == len(built.data) == 4
    excluded = built.flow["excluded"].sum()
    assert excluded + len(built.data) == 7
    assert "1 persons exposed before entry were indexed at entry" in built.notes
    assert any("1 test records with other results ('void')" in n for n in built.notes)
    assert any("1 exposure records of persons not in the persons table" in n for n in built.notes)
    text = built.flow_text()
    assert "- no entry date" in text and "study cohort" in text


def test_prevalent_exposure_excluded_and_counted():
    built = _build("exclude")
    flow = built.flow.set_index("description")
    assert flow.loc["exposed before entry (prevalent exposure)", "excluded"] == 1
    assert 3 not in set(built.data["id"])


def test_prevalent_outcome_and_late_entry_excluded():
    persons = pd.DataFrame(
        {"id": [1, 2, 3], "dx": ["2020-03-05", "2021-02-01", "2020-03-01"], "x": [1.0, 2.0, 3.0]}
    )
    mets = pd.DataFrame({"id": [1, 3], "date": ["2020-03-04", "2020-03-01"]})
    built = build_cohort(
        persons, origin_date=ORIGIN, end_date=END, entry="dx", outcomes=Records(mets)
    )
    flow = built.flow.set_index("description")
    assert flow.loc["outcome before entry (prevalent outcome)", "excluded"] == 1
    assert flow.loc["entry after the study's end date", "excluded"] == 1
    # outcome on the entry day: one day of follow-up; censored persons end after END (day 305)
    assert built.data[["id", "entry_day", "event_day", "event"]].values.tolist() == [[3, 0, 1, 1]]


def test_events_after_last_contact_or_end_are_censored():
    persons = pd.DataFrame(
        {"id": [1, 2], "dx": ["2020-01-01"] * 2, "last": ["2020-05-01", "2022-01-01"]}
    )
    deaths = pd.DataFrame({"id": [1, 2], "date": ["2020-06-01", "2021-06-01"]})
    built = build_cohort(
        persons,
        origin_date=ORIGIN,
        end_date=END,
        entry="dx",
        deaths=Records(deaths),
        last_contact=Records(persons, date="last"),
    )
    assert built.data[["event_day", "event"]].values.tolist() == [[62, 0], [306, 0]]


def test_birth_date_gives_age_at_entry():
    persons = pd.DataFrame({"id": [1], "dx": ["2020-09-01"], "born": ["1960-09-01"]})
    built = build_cohort(persons, origin_date=ORIGIN, end_date=END, entry="dx", birth="born")
    days = (pd.Timestamp("2020-09-01") - pd.Timestamp("1960-09-01")).days
    assert built.data["age"].iloc[0] == pytest.approx(days / 365.25, rel=1e-15)


def test_bad_input_names_the_problem():
    persons, tests, _ = _tables()
    with pytest.raises(CohortError, match="exposure table has no date column 'when'"):
        build_cohort(
            persons,
            origin_date=ORIGIN,
            end_date=END,
            entry="dx",
            id_col="pid",
            exposures=Records(tests, date="when"),
        )
    with pytest.raises(CohortError, match=r"2 rows with a missing or repeated pid.*fix:"):
        build_cohort(
            pd.concat([persons, persons.iloc[:1]]),
            origin_date=ORIGIN,
            end_date=END,
            entry="dx",
            id_col="pid",
        )
    with pytest.raises(CohortError, match=r"not dates.*'yesterday'"):
        build_cohort(
            persons.assign(dx="yesterday"),
            origin_date=ORIGIN,
            end_date=END,
            entry="dx",
            id_col="pid",
        )
    with pytest.raises(CohortError, match="'stage' are not numeric; fix: list nominal"):
        build_cohort(
            persons,
            origin_date=ORIGIN,
            end_date=END,
            entry="dx",
            id_col="pid",
            covariates=["stage"],
        )
    with pytest.raises(AnalysisError, match="prevalent_exposure 'drop' is not a rule"):
        build_cohort(
            persons,
            origin_date=ORIGIN,
            end_date=END,
            entry="dx",
            id_col="pid",
            prevalent_exposure="drop",
        )
    with pytest.raises(AnalysisError, match="no person qualifies"):
        build_cohort(
            persons.assign(dx="2022-01-01"),
            origin_date=ORIGIN,
            end_date=END,
            entry="dx",
            id_col="pid",
        )


def test_default_covariates_leave_out_text_columns():
    persons, _, _ = _tables()
    built = build_cohort(
        persons.drop(columns=["last", "death", "cause"]),
        origin_date=ORIGIN,
        end_date=END,
        entry="dx",
        id_col="pid",
    )
    assert rw.validate_cohort(built.data).covariates == ("her2",)
    assert any("not used as covariates (not numeric): stage" in n for n in built.notes)


def _dated_tables(cohort: pd.DataFrame, origin: str):
    """Dated records from a cohort at day resolution (inverse of the builder's rules)."""
    o = pd.Timestamp(origin)

    def date(days):
        return (o + pd.to_timedelta(days, unit="D")).dt.strftime("%Y-%m-%d")

    last = cohort["event_day"] - 1
    persons = pd.DataFrame(
        {
            "person": cohort["id"],
            "diagnosis": date(cohort["entry_day"] - 30 * (cohort["entry_day"] == 0)),
            "last_seen": date(last),
            "age": cohort["age"],
            "stage": cohort["stage"].map({1: "I", 2: "II", 3: "III", 4: "IV"}),
            "her2": cohort["her2"],
            "comorbidity": cohort["comorbidity"],
        }
    )
    exposed = cohort.dropna(subset=["exposure_day"])
    covid = pd.DataFrame({"person": exposed["id"], "covid": date(exposed["exposure_day"])})
    mets = cohort[cohort["event"] == 1]
    mets = pd.DataFrame({"person": mets["id"], "met": date(mets["event_day"] - 1)})
    dead = cohort[cohort["event"] == 2]
    deaths = pd.DataFrame({"person": dead["id"], "died": date(dead["event_day"] - 1)})
    return persons, covid, mets, deaths


def test_round_trip_through_dated_records():
    """Simulated cohort -> dated tables -> builder gives back the cohort (Flatiron preset)."""
    scenario = rw.load_scenario("flatiron_lung_mets")
    cohort = rw.simulate_cohort(scenario, np.random.default_rng(11), n=4000).data
    persons, covid, mets, deaths = _dated_tables(cohort, scenario.followup.origin_date)
    end = pd.Timestamp(scenario.followup.origin_date) + pd.Timedelta(
        days=scenario.followup.end_day - 1
    )
    built = build_cohort(
        persons,
        origin_date=scenario.followup.origin_date,
        end_date=str(end.date()),
        entry="diagnosis",
        id_col="person",
        exposures=Records(covid, date="covid"),
        outcomes=Records(mets, date="met"),
        deaths=Records(deaths, date="died"),
        last_contact=Records(persons, date="last_seen"),
        categorical={"stage": ["I", "II", "III", "IV"]},
    )
    assert built.flow["excluded"].sum() == 0
    cols = ["id", "entry_day", "exposure_day", "event_day", "event", "age", "her2"]
    pd.testing.assert_frame_equal(
        built.data[cols], cohort[cols].reset_index(drop=True), check_dtype=False
    )
    for level in (2, 3, 4):
        roman = {2: "II", 3: "III", 4: "IV"}[level]
        np.testing.assert_array_equal(
            built.data[f"stage_{roman}"], (cohort["stage"] == level).astype(float)
        )
    # the time-varying Cox fit is the same on both (dummy-coded stage either way)
    covs = ["age", "her2", "comorbidity", "stage_II", "stage_III", "stage_IV"]
    design = cohort.assign(
        **{
            f"stage_{r}": (cohort["stage"] == k).astype(float)
            for k, r in ((2, "II"), (3, "III"), (4, "IV"))
        }
    )
    fits = [
        rw.fit_time_varying_cox(
            rw.split_at_exposure(d, covariates=covs), covariates=["exposed", *covs]
        )
        for d in (built.data, design)
    ]
    np.testing.assert_allclose(fits[0].table["coef"], fits[1].table["coef"], rtol=0, atol=1e-12)


def _write_spec(tmp_path, rule="exclude"):
    persons, tests, mets = _tables()
    persons.to_csv(tmp_path / "patients.csv", index=False)
    tests.to_csv(tmp_path / "tests.csv", index=False)
    mets.to_parquet(tmp_path / "mets.parquet")
    spec = f"""
origin_date = "{ORIGIN}"
end_date = "{END}"
id = "pid"
prevalent_exposure = "{rule}"

[persons]
file = "patients.csv"
entry = "dx"
categorical = {{ stage = ["I", "II", "III", "IV"] }}

[exposures]
file = "tests.csv"
date = "d"
result = "r"
positive = ["pos"]
negative = ["neg"]

[outcomes]
file = "mets.parquet"
date = "d"

[deaths]
file = "patients.csv"
date = "death"
cause = "cause"
outcome_causes = ["cancer"]

[last_contact]
file = "patients.csv"
date = "last"
"""
    path = tmp_path / "spec.toml"
    path.write_text(spec)
    return path


def test_spec_equals_python_api(tmp_path):
    built = rw.build_cohort_from_spec(_write_spec(tmp_path, "index_at_entry"))
    expected = _build()
    pd.testing.assert_frame_equal(built.data, expected.data)
    assert (
        built.flow["excluded"].fillna(-1).tolist() == expected.flow["excluded"].fillna(-1).tolist()
    )


def test_cli_build_cohort(tmp_path, capsys):
    spec = _write_spec(tmp_path)
    out = tmp_path / "cohort.parquet"
    assert main(["build-cohort", "--spec", str(spec), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "- exposed before entry (prevalent exposure)" in text
    assert "cohort: 3 persons" in text
    assert len(pd.read_parquet(out)) == 3
    flow = pd.read_csv(tmp_path / "cohort_flow.csv")
    assert flow["remaining"].iloc[-1] == 3
    rw.read_cohort(out)  # valid contract
    assert main(["build-cohort", "--spec", str(spec), "--out", str(out), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["persons"] == 3 and payload["flow"][0]["remaining"] == 7


def test_spec_errors(tmp_path):
    spec = _write_spec(tmp_path)
    spec.write_text(spec.read_text().replace('entry = "dx"', 'entry = "dx"\ncolour = 1'))
    with pytest.raises(InputFileError, match=r"unknown key 'persons\.colour'"):
        rw.build_cohort_from_spec(spec)
    spec.write_text(spec.read_text().replace("colour = 1\n", "").replace("mets.parquet", "x.csv"))
    with pytest.raises(InputFileError, match=r"file not found: .*x\.csv"):
        rw.build_cohort_from_spec(spec)


def test_shipped_example_gives_the_documented_flow():
    """examples/own-data (docs/own-data.md): the flow printed there."""
    from pathlib import Path

    spec = Path(__file__).resolve().parents[1] / "examples" / "own-data" / "study.toml"
    built = rw.build_cohort_from_spec(spec)
    excluded = dict(zip(built.flow["description"], built.flow["excluded"], strict=True))
    assert excluded["outcome before entry (prevalent outcome)"] == 6
    assert excluded["exposed before entry (prevalent exposure)"] == 25
    assert excluded["missing covariate value (stage_II, stage_III, stage_IV)"] == 12
    check = rw.validate_cohort(built.data)
    assert (check.n_persons, check.n_exposed) == (7957, 1973)
    assert check.n_events_by_code == {0: 7014, 1: 32, 2: 911}
