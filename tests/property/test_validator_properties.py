"""Property: the cohort validator either rejects a table with a CohortError or the table meets
the contract (checked here independently, from the rules in reawaken.schema's docstring)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from reawaken.errors import ReawakenError
from reawaken.schema import EVENT_CODES, REQUIRED_COLUMNS, validate_cohort

SPECIAL = [math.nan, math.inf, -math.inf, -1.0, 0.0, 0.5, 1e308, -0.0, 3]
ODD_VALUES = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from(["", "x", "2020-01-01", "1e3", None, True]),
)


def _base(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(n)
    entry = rng.integers(0, 50, n).astype(float)
    stop = entry + rng.integers(1, 400, n)
    exposed = np.where(rng.random(n) < 0.4, entry + np.floor((stop - entry) / 2), np.nan)
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "age": rng.normal(60, 8, n),
            "entry_day": entry,
            "exposure_day": exposed,
            "event_day": stop,
            "event": rng.integers(0, 3, n),
        }
    )


@st.composite
def mutated_cohorts(draw):
    df = _base(draw(st.integers(min_value=1, max_value=12)))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        action = draw(st.sampled_from(["set", "drop", "add", "dup_id", "swap"]))
        column = draw(st.sampled_from(list(df.columns)))
        row = draw(st.integers(min_value=0, max_value=len(df) - 1))
        if action == "set":
            _set_cell(df, row, column, draw(ODD_VALUES))
        elif action == "drop" and len(df.columns) > 1:
            df = df.drop(columns=column)
        elif action == "add":
            df[draw(st.sampled_from(["extra", "stage", "true_x"]))] = draw(ODD_VALUES)
        elif action == "dup_id" and "id" in df and len(df) > 1:
            df.iloc[row, df.columns.get_loc("id")] = df["id"].iloc[0]
        elif action == "swap" and {"entry_day", "event_day"} <= set(df.columns):
            df.loc[df.index[row], ["entry_day", "event_day"]] = df.loc[
                df.index[row], ["event_day", "entry_day"]
            ].to_numpy()
    return df


def _set_cell(df: pd.DataFrame, row: int, column: str, value: object) -> None:
    """Set one cell, keeping the column numeric when the value is a number (as a CSV reader
    would) and turning it into text otherwise."""
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if numeric and pd.api.types.is_numeric_dtype(df[column].dtype):
        df[column] = df[column].astype(float)
    else:
        df[column] = df[column].astype(object)
    df.iloc[row, df.columns.get_loc(column)] = value


def _meets_contract(df: pd.DataFrame) -> list[str]:
    """Independent check of the contract rules; returns what is violated."""
    bad = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if bad:
        return [f"missing {bad}"]
    out = []
    if df["id"].isna().any() or df["id"].duplicated().any():
        out.append("ids")
    times = {}
    for c in ("entry_day", "event_day", "exposure_day"):
        values = pd.to_numeric(df[c], errors="coerce").astype(float)
        if c != "exposure_day" and values.isna().any():
            out.append(f"{c} missing")
        if ((values < 0) | np.isinf(values)).any():
            out.append(f"{c} negative or infinite")
        times[c] = values.to_numpy()
    if not (times["event_day"] > times["entry_day"]).all():
        out.append("event_day <= entry_day")
    x = times["exposure_day"]
    inside = np.isnan(x) | ((x >= times["entry_day"]) & (x <= times["event_day"]))
    if not inside.all():
        out.append("exposure outside follow-up")
    codes = pd.to_numeric(df["event"], errors="coerce")
    if codes.isna().any() or not set(codes.astype(float)) <= {float(c) for c in EVENT_CODES}:
        out.append("event codes")
    for c in df.columns:
        if c in REQUIRED_COLUMNS or c.startswith("true_"):
            continue
        values = pd.to_numeric(df[c], errors="coerce").astype(float)
        if values.isna().any() or not np.isfinite(values).all():
            out.append(f"covariate {c}")
    return out


@given(mutated_cohorts())
def test_validator_rejects_or_the_table_meets_the_contract(df):
    try:
        check = validate_cohort(df)
    except ReawakenError as exc:
        assert str(exc).strip(), "a rejection must say what is wrong"
        return
    violations = _meets_contract(df)
    assert not violations, f"validator accepted a table that breaks the contract: {violations}"
    assert check.n_persons == len(df)
    assert math.isfinite(check.followup_days_total)
