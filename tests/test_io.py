"""Tests for reawaken.io: reading cohorts, date conversion, atomic writes, content hashes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reawaken.errors import CohortError, InputFileError
from reawaken.io import (
    cohort_from_dates,
    frame_sha256,
    read_cohort,
    write_bytes_atomic,
    write_table,
    write_text_atomic,
)


@pytest.fixture
def cohort() -> pd.DataFrame:
    """Six persons with awkward floats, NaNs, a bool and an int covariate."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "entry_day": [0.0, 0.1 + 0.2, 10.0, 1 / 3, 5.0, 2.5e-7],
            "exposure_day": [np.nan, 100.123456789012, np.nan, 50.0, np.nan, np.nan],
            "event_day": [365.0, 200.0, 375.25, 80.0, 370.0, 100.0],
            "event": [0, 1, 0, 2, 0, 1],
            "age": [61, 54, 70, 66, 59, 72],
            "smoker": [True, False, False, True, False, True],
            "true_infection_day": [np.nan, 95.5, 12.0, 49.0, np.nan, np.nan],
        }
    )


@pytest.fixture
def dated() -> pd.DataFrame:
    """Three persons with ISO dates instead of day columns."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3],
            "entry_date": ["2020-03-01", "2020-03-11", "2020-04-01"],
            "exposure_date": [None, "2020-05-01", None],
            "event_date": ["2021-03-01", "2020-06-01", "2020-12-31"],
            "event": [0, 1, 2],
            "test_date": [None, None, "2020-04-02"],
            "age": [61, 54, 70],
        }
    )


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_round_trip(tmp_path: Path, cohort: pd.DataFrame, ext: str) -> None:
    path = write_table(cohort, tmp_path / f"cohort.{ext}")
    assert path == tmp_path / f"cohort.{ext}"
    back = read_cohort(path)
    pd.testing.assert_frame_equal(back, cohort)
    assert frame_sha256(back) == frame_sha256(cohort)
    assert leftovers(tmp_path) == [f"cohort.{ext}"]


def test_csv_and_parquet_hash_alike(tmp_path: Path, cohort: pd.DataFrame) -> None:
    write_table(cohort, tmp_path / "c.csv")
    write_table(cohort, tmp_path / "c.parquet")
    a = read_cohort(tmp_path / "c.csv")
    b = read_cohort(tmp_path / "c.parquet")
    assert frame_sha256(a) == frame_sha256(b)


def test_extension_is_case_insensitive(tmp_path: Path, cohort: pd.DataFrame) -> None:
    write_table(cohort, tmp_path / "C.CSV")
    pd.testing.assert_frame_equal(read_cohort(tmp_path / "C.CSV"), cohort)


def test_write_table_creates_directory(tmp_path: Path, cohort: pd.DataFrame) -> None:
    path = write_table(cohort, tmp_path / "out" / "deep" / "c.parquet")
    assert path.is_file()


def test_read_validates_by_default(tmp_path: Path, cohort: pd.DataFrame) -> None:
    cohort.loc[2, "entry_day"] = -4.0
    write_table(cohort, tmp_path / "bad.csv")
    with pytest.raises(CohortError, match=r"negative entry_day: 1 row \(e\.g\. id 3\)"):
        read_cohort(tmp_path / "bad.csv")
    assert read_cohort(tmp_path / "bad.csv", validate=False)["entry_day"].iloc[2] == -4.0


def test_read_passes_covariates(tmp_path: Path, cohort: pd.DataFrame) -> None:
    cohort["site"] = "north"
    write_table(cohort, tmp_path / "c.csv")
    with pytest.raises(CohortError, match="covariate 'site' is not numeric"):
        read_cohort(tmp_path / "c.csv")
    df = read_cohort(tmp_path / "c.csv", covariates=["age"])
    assert list(df["site"].unique()) == ["north"]


# ---------------------------------------------------------------- dates


def test_cohort_from_dates(dated: pd.DataFrame) -> None:
    out = cohort_from_dates(dated, "2020-03-01")
    assert list(out.columns) == [
        "id",
        "entry_day",
        "exposure_day",
        "event_day",
        "event",
        "test_day",
        "age",
    ]
    np.testing.assert_array_equal(out["entry_day"], [0.0, 10.0, 31.0])
    np.testing.assert_array_equal(out["exposure_day"], [np.nan, 61.0, np.nan])
    np.testing.assert_array_equal(out["event_day"], [365.0, 92.0, 305.0])
    np.testing.assert_array_equal(out["test_day"], [np.nan, np.nan, 32.0])
    assert out["entry_day"].dtype == np.float64
    assert "entry_date" in dated.columns  # input untouched


def test_cohort_from_dates_accepts_datetimes(dated: pd.DataFrame) -> None:
    dated["entry_date"] = pd.to_datetime(dated["entry_date"])
    out = cohort_from_dates(dated, "2020-03-01")
    np.testing.assert_array_equal(out["entry_day"], [0.0, 10.0, 31.0])


def test_read_cohort_converts_dates(tmp_path: Path, dated: pd.DataFrame) -> None:
    for ext in ("csv", "parquet"):
        write_table(dated, tmp_path / f"d.{ext}")
        df = read_cohort(tmp_path / f"d.{ext}", origin_date="2020-03-01")
        np.testing.assert_array_equal(df["event_day"], [365.0, 92.0, 305.0])
        assert df.attrs["origin_date"] == "2020-03-01"
        assert not any(c.endswith("_date") for c in df.columns)


def test_read_cohort_dates_need_origin(tmp_path: Path, dated: pd.DataFrame) -> None:
    write_table(dated, tmp_path / "d.csv")
    with pytest.raises(InputFileError, match=r"entry_date.*--origin-date YYYY-MM-DD"):
        read_cohort(tmp_path / "d.csv")


def test_unparseable_dates(dated: pd.DataFrame) -> None:
    dated["event_date"] = ["2021-03-01", "2020-02-30", "soon"]
    with pytest.raises(CohortError) as info:
        cohort_from_dates(dated, "2020-03-01")
    (msg,) = info.value.problems
    assert "unparseable event_date: 2 row(s) (e.g. ids 2, 3" in msg
    assert "'soon'" in msg
    assert "YYYY-MM-DD" in msg


def test_numbers_in_date_column_are_rejected(dated: pd.DataFrame) -> None:
    dated["entry_date"] = [20200301, 20200311, 20200401]
    with pytest.raises(CohortError, match=r"unparseable entry_date: 3 row\(s\)"):
        cohort_from_dates(dated, "2020-03-01")


def test_date_and_day_column_together(dated: pd.DataFrame) -> None:
    dated["entry_day"] = 0.0
    with pytest.raises(CohortError, match=r"both entry_date and entry_day.*keep only one"):
        cohort_from_dates(dated, "2020-03-01")


@pytest.mark.parametrize("origin", ["March", "2020-13-01", "01/03/2020", ""])
def test_bad_origin(dated: pd.DataFrame, origin: str) -> None:
    with pytest.raises(CohortError, match=rf"origin_date '{origin}' is not a date.*YYYY-MM-DD"):
        cohort_from_dates(dated, origin)


# ---------------------------------------------------------------- bad input files


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"not found: .*nope\.csv; fix: check the path"):
        read_cohort(tmp_path / "nope.csv")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputFileError, match="not a file"):
        read_cohort(tmp_path / "dir.csv")


@pytest.mark.parametrize("name", ["cohort.xlsx", "cohort", "cohort.csv.gz"])
def test_unknown_extension(tmp_path: Path, cohort: pd.DataFrame, name: str) -> None:
    (tmp_path / name).write_text("id\n1\n")
    with pytest.raises(InputFileError, match=r"unsupported file extension.*\.csv, \.parquet"):
        read_cohort(tmp_path / name)
    with pytest.raises(InputFileError, match="unsupported file extension"):
        write_table(cohort, tmp_path / f"out_{name}")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfe\x00\x97garbage\x00\x81\x9c\n\x00\x01", "UnicodeDecodeError"),
        (b'id,entry_day\n1,"0\n2,5\n', "EOF inside string"),
        (b"", "No columns to parse"),
    ],
    ids=["binary", "ragged-quote", "empty"],
)
def test_malformed_csv(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as info:
        read_cohort(path)
    msg = str(info.value)
    assert "\n" not in msg
    assert "cannot read" in msg and "as CSV" in msg
    assert reason in msg
    assert "fix:" in msg


def test_corrupt_parquet(tmp_path: Path, cohort: pd.DataFrame) -> None:
    good = write_table(cohort, tmp_path / "good.parquet")
    data = good.read_bytes()
    (tmp_path / "truncated.parquet").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.parquet").write_bytes(b"PAR1 this is not parquet")
    for name in ("truncated.parquet", "garbage.parquet"):
        with pytest.raises(InputFileError, match=r"cannot read .* as Parquet \(Arrow.*fix:"):
            read_cohort(tmp_path / name)


# ---------------------------------------------------------------- atomic writes


def _fail_midway(path: object, *args: object, **kwargs: object) -> None:
    with open(str(path), "wb") as fh:
        fh.write(b"partial")
    raise RuntimeError("disk full")


@pytest.mark.parametrize(("ext", "method"), [("csv", "to_csv"), ("parquet", "to_parquet")])
def test_failed_write_leaves_nothing(
    tmp_path: Path,
    cohort: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    ext: str,
    method: str,
) -> None:
    monkeypatch.setattr(pd.DataFrame, method, lambda self, path, *a, **k: _fail_midway(path))
    with pytest.raises(RuntimeError, match="disk full"):
        write_table(cohort, tmp_path / f"c.{ext}")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("ext", "method"), [("csv", "to_csv"), ("parquet", "to_parquet")])
def test_failed_rewrite_keeps_existing_file(
    tmp_path: Path,
    cohort: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    ext: str,
    method: str,
) -> None:
    path = write_table(cohort, tmp_path / f"c.{ext}")
    before = path.read_bytes()
    monkeypatch.setattr(pd.DataFrame, method, lambda self, p, *a, **k: _fail_midway(p))
    with pytest.raises(RuntimeError, match="disk full"):
        write_table(cohort.iloc[:2], path)
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == [f"c.{ext}"]


def test_text_and_bytes_atomic(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "sub" / "manifest.json", '{"a": "é"}\n')
    assert path.read_bytes() == '{"a": "é"}\n'.encode()
    write_text_atomic(path, "second")
    assert path.read_text() == "second"
    figure = write_bytes_atomic(tmp_path / "fig.png", b"\x89PNG\r\n")
    assert figure.read_bytes() == b"\x89PNG\r\n"
    assert leftovers(tmp_path) == ["fig.png", "sub"]
    assert leftovers(tmp_path / "sub") == ["manifest.json"]


def test_failed_bytes_write_keeps_existing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_bytes_atomic(tmp_path / "f.bin", b"old")
    monkeypatch.setattr(Path, "write_bytes", lambda self, data: _fail_midway(self))
    with pytest.raises(RuntimeError, match="disk full"):
        write_bytes_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert leftovers(tmp_path) == ["f.bin"]


def test_rewrite_keeps_file_mode(tmp_path: Path) -> None:
    path = write_text_atomic(tmp_path / "x.txt", "a")
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o600)
    write_text_atomic(path, "b")
    assert path.stat().st_mode & 0o777 == 0o600


# ---------------------------------------------------------------- content hash


def test_frame_sha256_stable(cohort: pd.DataFrame) -> None:
    digest = frame_sha256(cohort)
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert frame_sha256(cohort.copy()) == digest
    assert frame_sha256(cohort.set_index(cohort.index + 100)) == digest


def test_frame_sha256_sensitive_to_one_value(cohort: pd.DataFrame) -> None:
    digest = frame_sha256(cohort)
    changed = cohort.copy()
    changed.loc[3, "event_day"] = np.nextafter(80.0, np.inf)
    assert frame_sha256(changed) != digest


@pytest.mark.parametrize(
    "change",
    [
        lambda df: df.rename(columns={"age": "age_years"}),
        lambda df: df[list(reversed(df.columns))],
        lambda df: df.iloc[::-1],
        lambda df: df.iloc[:-1],
        lambda df: df.assign(age=df["age"].astype("float64")),
        lambda df: df.assign(exposure_day=df["exposure_day"].fillna(0.0)),
        lambda df: df.assign(note=["a", "b", "c", "d", "e", "f"]),
    ],
    ids=["rename", "reorder-columns", "reorder-rows", "drop-row", "dtype", "nan-vs-0", "extra"],
)
def test_frame_sha256_detects_structure(cohort: pd.DataFrame, change: object) -> None:
    assert frame_sha256(change(cohort)) != frame_sha256(cohort)  # type: ignore[operator]


def test_frame_sha256_canonicalises_missing_and_signed_zero() -> None:
    a = pd.DataFrame({"x": [np.nan, 0.0], "s": ["u", None]})
    b = pd.DataFrame({"x": [-np.nan, -0.0], "s": ["u", np.nan]})
    assert frame_sha256(a) == frame_sha256(b)
    assert frame_sha256(a) != frame_sha256(pd.DataFrame({"x": [np.nan, 0.0], "s": ["u", ""]}))


def test_frame_sha256_string_dtypes_agree() -> None:
    obj = pd.DataFrame({"s": ["a", "bc", None]})
    strings = obj.astype({"s": "string"})
    cat = obj.astype({"s": "category"})
    assert frame_sha256(obj) == frame_sha256(strings) == frame_sha256(cat)


def test_frame_sha256_other_dtypes() -> None:
    df = pd.DataFrame(
        {
            "when": pd.to_datetime(["2020-03-01", None]),
            "gap": pd.to_timedelta(["1D", None]),
            "n": pd.array([1, None], dtype="Int64"),
            "flag": pd.array([True, None], dtype="boolean"),
        }
    )
    assert frame_sha256(df) == frame_sha256(df.copy())
    assert frame_sha256(pd.DataFrame()) == frame_sha256(pd.DataFrame())
