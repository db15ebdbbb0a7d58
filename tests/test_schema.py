"""Tests for reawaken.schema (cohort contract) and reawaken.errors."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from reawaken.errors import (
    AnalysisError,
    CohortError,
    InputFileError,
    ReawakenError,
    ScenarioError,
)
from reawaken.schema import (
    EVENT_CODES,
    REQUIRED_COLUMNS,
    CohortCheck,
    default_covariates,
    validate_cohort,
)


@pytest.fixture
def cohort() -> pd.DataFrame:
    """Eight persons, two exposed, every event code present, two covariates, one truth column."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6, 7, 8],
            "age": [61.0, 54.0, 70.0, 66.0, 59.0, 72.0, 48.0, 63.0],
            "smoker": [True, False, False, True, False, True, False, False],
            "entry_day": [0.0, 0.0, 10.0, 20.0, 5.0, 0.0, 30.0, 15.0],
            "exposure_day": [np.nan, 100.0, np.nan, 50.0, np.nan, np.nan, np.nan, np.nan],
            "event_day": [365.0, 200.0, 375.0, 80.0, 370.0, 100.0, 395.0, 380.0],
            "event": [0, 1, 0, 2, 0, 1, 0, 0],
            "test_day": [np.nan, 40.0, np.nan, np.nan, 6.0, np.nan, np.nan, np.nan],
            "true_infection_day": ["n/a", 95.0, -3.0, 49.0, np.inf, np.nan, "x", None],
        }
    )


def problems_of(df: pd.DataFrame, **kwargs: object) -> tuple[str, ...]:
    with pytest.raises(CohortError) as info:
        validate_cohort(df, **kwargs)
    err = info.value
    assert str(err) == "\n".join(err.problems)
    assert all("\n" not in p for p in err.problems)
    assert all("fix:" in p for p in err.problems)
    return err.problems


def only_problem(df: pd.DataFrame, **kwargs: object) -> str:
    problems = problems_of(df, **kwargs)
    assert len(problems) == 1, problems
    return problems[0]


# ---------------------------------------------------------------- valid cohorts


def test_valid_cohort_passes_and_counts(cohort: pd.DataFrame) -> None:
    check = validate_cohort(cohort)
    assert isinstance(check, CohortCheck)
    assert check.n_persons == 8
    assert check.n_exposed == 2
    assert check.n_events_by_code == {0: 5, 1: 2, 2: 1}
    expected_days = float((cohort["event_day"] - cohort["entry_day"]).sum())
    assert check.followup_days_total == pytest.approx(expected_days)
    assert check.covariates == ("age", "smoker")


def test_summary_is_one_exact_line(cohort: pd.DataFrame) -> None:
    check = validate_cohort(cohort)
    days = float((cohort["event_day"] - cohort["entry_day"]).sum())
    years = f"{days / 365.25:,.1f}"
    assert check.summary() == (
        "8 persons, 2 exposed, events: 1 outcome=2, 2 competing death=1, 0 censored=5; "
        f"{years} person-years; covariates: age, smoker"
    )
    assert "\n" not in check.summary()


def test_summary_thousands_separator() -> None:
    check = CohortCheck(
        n_persons=4837,
        n_exposed=967,
        n_events_by_code={0: 4648, 1: 69, 2: 120},
        followup_days_total=12_345.6 * 365.25,
        covariates=("age", "stage"),
    )
    assert check.summary() == (
        "4837 persons, 967 exposed, events: 1 outcome=69, 2 competing death=120, "
        "0 censored=4648; 12,345.6 person-years; covariates: age, stage"
    )


def test_to_dict(cohort: pd.DataFrame) -> None:
    d = validate_cohort(cohort).to_dict()
    assert d["n_persons"] == 8
    assert d["n_exposed"] == 2
    assert d["n_events_by_code"] == {0: 5, 1: 2, 2: 1}
    assert d["covariates"] == ["age", "smoker"]
    assert set(d) == {
        "n_persons",
        "n_exposed",
        "n_events_by_code",
        "followup_days_total",
        "covariates",
    }


def test_no_covariates_summary_says_none(cohort: pd.DataFrame) -> None:
    check = validate_cohort(cohort[list(REQUIRED_COLUMNS)])
    assert check.covariates == ()
    assert check.summary().endswith("covariates: none")


def test_explicit_covariates_skip_other_columns(cohort: pd.DataFrame) -> None:
    cohort["site"] = "north"
    check = validate_cohort(cohort, covariates=["age"])
    assert check.covariates == ("age",)


def test_truth_columns_are_exempt_and_not_covariates(cohort: pd.DataFrame) -> None:
    assert "true_infection_day" not in validate_cohort(cohort).covariates
    assert default_covariates(cohort.columns) == ("age", "smoker")


def test_test_day_is_optional(cohort: pd.DataFrame) -> None:
    validate_cohort(cohort.drop(columns="test_day"))


def test_nullable_and_integer_dtypes_are_accepted(cohort: pd.DataFrame) -> None:
    cohort["entry_day"] = cohort["entry_day"].astype("int64")
    cohort["event"] = cohort["event"].astype("Int64")
    cohort["exposure_day"] = cohort["exposure_day"].astype("Float64")
    check = validate_cohort(cohort)
    assert check.n_exposed == 2


def test_non_default_index_is_fine(cohort: pd.DataFrame) -> None:
    cohort.index = [10, 3, 7, 7, 1, 2, 0, 5]
    assert validate_cohort(cohort).n_persons == 8


def test_validate_does_not_modify_input(cohort: pd.DataFrame) -> None:
    before = cohort.copy()
    validate_cohort(cohort)
    pd.testing.assert_frame_equal(cohort, before)


# ---------------------------------------------------------------- one test per problem


def test_not_a_dataframe() -> None:
    with pytest.raises(CohortError, match=r"expected a pandas DataFrame, got list.*fix:"):
        validate_cohort([{"id": 1}])  # type: ignore[arg-type]


def test_empty_cohort(cohort: pd.DataFrame) -> None:
    msg = only_problem(cohort.iloc[:0])
    assert "no rows" in msg
    assert "one row per person" in msg


def test_duplicate_column_names(cohort: pd.DataFrame) -> None:
    df = pd.concat([cohort, cohort[["age"]]], axis=1)
    msg = only_problem(df)
    assert "age" in msg
    assert "rename or drop" in msg


def test_missing_required_columns(cohort: pd.DataFrame) -> None:
    msg = only_problem(cohort.drop(columns=["event", "exposure_day"]))
    assert "missing required column(s): exposure_day, event" in msg
    assert "columns present: id, age, smoker, entry_day" in msg
    assert "rename" in msg


def test_duplicate_ids(cohort: pd.DataFrame) -> None:
    cohort.loc[cohort["id"] == 5, "id"] = 3
    msg = only_problem(cohort)
    assert "duplicated ids" in msg
    assert "2 rows" in msg
    assert "e.g. id 3)" in msg
    assert "drop_duplicates" in msg


def test_missing_id(cohort: pd.DataFrame) -> None:
    cohort["id"] = cohort["id"].astype("float64")
    cohort.loc[2, "id"] = np.nan
    msg = only_problem(cohort)
    assert "missing id: 1 row (e.g. row 2)" in msg
    assert "non-missing id" in msg


@pytest.mark.parametrize("column", ["entry_day", "event_day"])
def test_missing_time(cohort: pd.DataFrame, column: str) -> None:
    cohort.loc[cohort["id"].isin([4, 6]), column] = np.nan
    msg = only_problem(cohort)
    assert f"missing {column}: 2 rows (e.g. ids 4, 6)" in msg
    assert "fill in" in msg


def test_missing_event(cohort: pd.DataFrame) -> None:
    cohort["event"] = cohort["event"].astype("float64")
    cohort.loc[cohort["id"] == 7, "event"] = np.nan
    msg = only_problem(cohort)
    assert "missing event: 1 row (e.g. id 7)" in msg
    assert "0 (censored), 1 (outcome) or 2 (competing death)" in msg


@pytest.mark.parametrize(
    ("column", "value"),
    [("entry_day", -1.0), ("event_day", -5.0), ("exposure_day", -2.0), ("test_day", -0.5)],
)
def test_negative_times(cohort: pd.DataFrame, column: str, value: float) -> None:
    cohort.loc[cohort["id"] == 2, column] = value
    problems = problems_of(cohort)
    msg = next(p for p in problems if p.startswith("negative"))
    assert f"negative {column}: 1 row (e.g. id 2)" in msg
    assert "must be >= 0" in msg


@pytest.mark.parametrize("column", ["entry_day", "event_day", "exposure_day", "test_day"])
def test_infinite_times(cohort: pd.DataFrame, column: str) -> None:
    cohort.loc[cohort["id"] == 2, column] = np.inf
    problems = problems_of(cohort)
    msg = next(p for p in problems if p.startswith("non-finite"))
    assert f"non-finite (infinite) {column}: 1 row (e.g. id 2)" in msg
    assert "replace inf" in msg


def test_event_before_entry(cohort: pd.DataFrame) -> None:
    cohort.loc[cohort["id"] == 3, ["entry_day", "event_day"]] = [50.0, 40.0]
    msg = only_problem(cohort)
    assert "event_day before entry_day: 1 row (e.g. id 3)" in msg
    assert "swapped" in msg


def test_zero_length_followup(cohort: pd.DataFrame) -> None:
    cohort.loc[cohort["id"].isin([1, 8]), "event_day"] = cohort["entry_day"]
    msg = only_problem(cohort)
    assert "zero-length follow-up" in msg
    assert "2 rows (e.g. ids 1, 8)" in msg
    assert "drop them or add follow-up" in msg


@pytest.mark.parametrize("exposure", [5.0, 500.0])
def test_exposure_outside_followup(cohort: pd.DataFrame, exposure: float) -> None:
    cohort.loc[cohort["id"] == 7, "exposure_day"] = exposure  # entry 30, end 395
    msg = only_problem(cohort)
    assert "exposure_day outside [entry_day, event_day]: 1 row (e.g. id 7)" in msg
    assert "NaN" in msg


def test_exposure_on_boundaries_is_allowed(cohort: pd.DataFrame) -> None:
    cohort.loc[cohort["id"] == 7, "exposure_day"] = 30.0
    cohort.loc[cohort["id"] == 8, "exposure_day"] = 380.0
    assert validate_cohort(cohort).n_exposed == 4


def test_test_day_outside_followup(cohort: pd.DataFrame) -> None:
    cohort.loc[cohort["id"].isin([3, 4]), "test_day"] = [5.0, 90.0]
    msg = only_problem(cohort)
    assert "test_day outside [entry_day, event_day]: 2 rows (e.g. ids 3, 4)" in msg
    assert "set test_day to NaN" in msg


@pytest.mark.parametrize("bad", [1.5, 3, -1])
def test_unknown_event_codes(cohort: pd.DataFrame, bad: float) -> None:
    cohort["event"] = cohort["event"].astype("float64")
    cohort.loc[cohort["id"] == 5, "event"] = bad
    msg = only_problem(cohort)
    assert f"unknown event codes {float(bad):g}" in msg
    assert "1 row (e.g. id 5)" in msg
    assert "0 (censored), 1 (outcome) or 2 (competing death)" in msg


def test_text_event_codes(cohort: pd.DataFrame) -> None:
    cohort["event"] = cohort["event"].map({0: "censored", 1: "cancer death", 2: "other"})
    msg = only_problem(cohort)
    assert "unknown event codes 'censored', 'cancer death', 'other'" in msg
    assert "8 rows (e.g. ids 1, 2, 3, 4, 5, ...)" in msg
    assert "integer codes" in msg


@pytest.mark.parametrize("dtype", ["object", "category", "string"])
def test_non_numeric_covariate(cohort: pd.DataFrame, dtype: str) -> None:
    cohort["stage"] = pd.Series(["I", "II", "I", "III", "IV", "II", "I", "I"], dtype=dtype)
    msg = only_problem(cohort)
    assert "covariate 'stage' is not numeric" in msg
    assert "8 rows (e.g. ids 1, 2, 3, 4, 5, ...)" in msg
    assert "encode it as 0/1 or integer codes" in msg


def test_missing_covariate_values(cohort: pd.DataFrame) -> None:
    cohort.loc[[1, 3], "age"] = np.nan
    msg = only_problem(cohort)
    assert "missing values in covariate 'age': 2 rows (e.g. ids 2, 4)" in msg
    assert "impute them" in msg


def test_bool_covariate_is_fine(cohort: pd.DataFrame) -> None:
    cohort["female"] = cohort["age"] > 60
    assert "female" in validate_cohort(cohort).covariates


def test_unknown_covariate(cohort: pd.DataFrame) -> None:
    msg = only_problem(cohort, covariates=["age", "stage"])
    assert "covariate column 'stage' is not in the cohort" in msg
    assert "columns present: id, age" in msg
    assert "check the spelling" in msg


def test_string_dates_in_time_column(cohort: pd.DataFrame) -> None:
    cohort["entry_day"] = ["2020-03-01"] * 8
    problems = problems_of(cohort)
    msg = next(p for p in problems if p.startswith("entry_day must be numeric days"))
    assert "dtype object" in msg
    assert "8 rows (e.g. ids 1, 2, 3, 4, 5, ...)" in msg
    assert "entry_date" in msg
    assert "cohort_from_dates" in msg


def test_datetime_time_column(cohort: pd.DataFrame) -> None:
    cohort["event_day"] = pd.Timestamp("2021-01-01")
    msg = only_problem(cohort)
    assert msg.startswith("event_day must be numeric days")
    assert "8 rows" in msg
    assert "cohort_from_dates" in msg


def test_at_most_five_examples(cohort: pd.DataFrame) -> None:
    cohort["entry_day"] = -1.0
    msg = only_problem(cohort)
    assert "8 rows (e.g. ids 1, 2, 3, 4, 5, ...)" in msg
    assert "6" not in msg.split("fix:")[0]


def test_all_problems_reported_together(cohort: pd.DataFrame) -> None:
    cohort.loc[cohort["id"] == 1, "entry_day"] = -3.0
    cohort.loc[cohort["id"] == 2, "event"] = 9
    cohort["stage"] = "II"
    problems = problems_of(cohort)
    assert len(problems) == 3
    assert problems[0].startswith("negative entry_day")
    assert problems[1].startswith("unknown event codes 9")
    assert problems[2].startswith("covariate 'stage'")


# ---------------------------------------------------------------- errors module


def test_error_hierarchy() -> None:
    for cls in (CohortError, InputFileError, ScenarioError, AnalysisError):
        assert issubclass(cls, ReawakenError)
        assert issubclass(cls, ValueError)


def test_cohort_error_problems_and_pickle() -> None:
    err = CohortError(["a is wrong; fix: b", "c is wrong; fix: d"])
    assert err.problems == ("a is wrong; fix: b", "c is wrong; fix: d")
    assert str(err) == "a is wrong; fix: b\nc is wrong; fix: d"
    copy = pickle.loads(pickle.dumps(err))
    assert isinstance(copy, CohortError)
    assert copy.problems == err.problems
    assert CohortError("single; fix: x").problems == ("single; fix: x",)


def test_event_codes_constant() -> None:
    assert EVENT_CODES == {0: "censored", 1: "outcome", 2: "competing death"}
    assert REQUIRED_COLUMNS == ("id", "entry_day", "exposure_day", "event_day", "event")
