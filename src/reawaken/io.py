"""Reading cohorts, atomic writing of tables and files, and content hashes of tables.

* :func:`read_cohort` loads a cohort from ``.csv`` or ``.parquet``, converts calendar dates to
  days when needed (:func:`cohort_from_dates`) and validates it
  (:func:`reawaken.schema.validate_cohort`).
* :func:`write_table`, :func:`write_text_atomic` and :func:`write_bytes_atomic` write through a
  visible temporary file (``<name>.partial-<random>``) in the target directory and
  :func:`os.replace`, so a reader never sees a half-written file and a failed write leaves any
  previous file untouched. Whole output folders: :func:`reawaken.outputs.output_directory`.
* :func:`frame_sha256` hashes the *content* of a table, independent of file format and
  library version, for manifests and reproducibility checks.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from reawaken.checks import checked
from reawaken.errors import CohortError, InputFileError
from reawaken.schema import ID, TIME_COLUMNS, validate_cohort

__all__ = [
    "DATE_COLUMNS",
    "SUPPORTED_TABLE_EXTENSIONS",
    "cohort_from_dates",
    "frame_sha256",
    "read_cohort",
    "write_bytes_atomic",
    "write_table",
    "write_text_atomic",
]

SUPPORTED_TABLE_EXTENSIONS: tuple[str, ...] = (".csv", ".parquet")
#: Calendar-date columns understood by :func:`cohort_from_dates`, mapped to their day columns.
DATE_COLUMNS: dict[str, str] = {c.removesuffix("_day") + "_date": c for c in TIME_COLUMNS}

_NEW_FILE_MODE = 0o644
_HASH_VERSION = b"reawaken-frame-sha256-v1"


@checked
def read_cohort(
    path: str | os.PathLike[str],
    *,
    origin_date: str | None = None,
    validate: bool = True,
    covariates: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read a cohort table from a ``.csv`` or ``.parquet`` file.

    Parameters
    ----------
    path : str or path-like
        File to read; the format is chosen by extension (``.csv`` or ``.parquet``).
    origin_date : str, optional
        Study origin as an ISO date (``YYYY-MM-DD``). Required when the file has calendar-date
        columns (``entry_date``, ``exposure_date``, ``event_date``, ``test_date``) instead of
        ``*_day`` columns; they are converted with :func:`cohort_from_dates`. Stored in
        ``df.attrs["origin_date"]`` when given.
    validate : bool, default True
        Check the table with :func:`reawaken.schema.validate_cohort`.
    covariates : sequence of str, optional
        Passed to :func:`~reawaken.schema.validate_cohort`.

    Returns
    -------
    pandas.DataFrame
        The cohort, one row per person, times in float days from the origin.

    Raises
    ------
    InputFileError
        If the extension is unsupported, the file is missing or unreadable, the content cannot
        be parsed, or date columns are present without ``origin_date``.
    CohortError
        If dates cannot be parsed or the cohort breaks the data contract.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cohort.csv"
    >>> _ = rw.write_table(cohort.data, path)
    >>> back = rw.read_cohort(path)
    >>> len(back) == len(cohort.data)
    True
    """
    path = Path(path)
    ext = _table_extension(path)
    if not path.exists():
        raise InputFileError(f"cohort file not found: {path}; fix: check the path and file name")
    if not path.is_file():
        raise InputFileError(f"cohort path is not a file: {path}; fix: point to a {ext} file")
    df = _read_table(path, ext)

    if any(c in df.columns for c in DATE_COLUMNS):
        if origin_date is None:
            found = ", ".join(c for c in DATE_COLUMNS if c in df.columns)
            raise InputFileError(
                f"{path} has calendar-date columns ({found}) but no study origin was given; "
                "fix: pass the origin date (--origin-date YYYY-MM-DD on the command line, "
                "origin_date='YYYY-MM-DD' in Python), or store float days in *_day columns"
            )
        df = cohort_from_dates(df, origin_date)
    if origin_date is not None:
        df.attrs["origin_date"] = str(_parse_origin(origin_date).date())
    if validate:
        validate_cohort(df, covariates=covariates)
    return df


@checked
def cohort_from_dates(data: pd.DataFrame, origin_date: str) -> pd.DataFrame:
    """Convert calendar-date columns to float days from the study origin.

    Each of ``entry_date``, ``exposure_date``, ``event_date`` and ``test_date`` that is present
    becomes ``entry_day``, ... in the same position: ``(date - origin)`` in days as float,
    fractional when the dates carry a time of day; missing dates (empty, ``NaT``) become
    ``NaN``. Other columns are left as they are.

    Parameters
    ----------
    data : pandas.DataFrame
        Cohort with ISO-date strings (e.g. ``2020-03-01``) or datetime values.
    origin_date : str
        Study origin as an ISO date, ``YYYY-MM-DD``.

    Returns
    -------
    pandas.DataFrame
        A new frame; the input is not modified.

    Raises
    ------
    CohortError
        If ``origin_date`` is not a date, a date cannot be parsed (counting bad rows and naming
        example ids), or both ``<x>_date`` and ``<x>_day`` are present.

    Examples
    --------
    >>> import pandas as pd
    >>> import reawaken as rw
    >>> dated = pd.DataFrame({"id": [1, 2], "entry_date": ["2020-03-01", "2020-03-11"],
    ...                       "exposure_date": [None, "2020-04-01"],
    ...                       "event_date": ["2021-03-01", "2020-06-01"], "event": [0, 1]})
    >>> rw.cohort_from_dates(dated, "2020-03-01")[["id", "entry_day", "exposure_day", "event_day"]]
       id  entry_day  exposure_day  event_day
    0   1        0.0           NaN      365.0
    1   2       10.0          31.0       92.0
    """
    origin = _parse_origin(origin_date)
    labels = data[ID].to_numpy() if ID in data.columns else np.arange(len(data))
    kind = "id" if ID in data.columns else "row"
    problems: list[str] = []
    renamed: dict[str, str] = {}
    converted: dict[str, pd.Series] = {}
    for date_col, day_col in DATE_COLUMNS.items():
        if date_col not in data.columns:
            continue
        if day_col in data.columns:
            problems.append(
                f"both {date_col} and {day_col} are present; fix: keep only one of them"
            )
            continue
        dates = _parse_dates(data[date_col])
        bad = (data[date_col].notna() & dates.isna()).to_numpy()
        if bad.any():
            examples = labels[bad]
            shown = ", ".join(str(v) for v in examples[:5]) + (", ..." if bad.sum() > 5 else "")
            values = ", ".join(repr(v) for v in data[date_col][bad].unique()[:3])
            problems.append(
                f"unparseable {date_col}: {int(bad.sum())} row(s) (e.g. {kind}s {shown}; "
                f"values {values}); fix: write dates as ISO YYYY-MM-DD or leave them empty"
            )
            continue
        converted[day_col] = (dates - origin) / pd.Timedelta(days=1)
        renamed[date_col] = day_col
    if problems:
        raise CohortError(problems)
    out = data.copy()
    for day_col, days in converted.items():
        out[day_col] = days.to_numpy(dtype="float64", na_value=np.nan)
    order = [renamed.get(c, c) for c in data.columns]
    return out[order]


@checked
def write_table(data: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table atomically as ``.csv`` or ``.parquet`` (chosen by extension).

    CSV is written without the index, with full float precision (pandas' shortest round-trip
    representation) and ``\\n`` line endings. Parquet is written with pyarrow, without the
    index, snappy compression and column statistics.

    Parameters
    ----------
    data : pandas.DataFrame
        Table to write.
    path : str or path-like
        Target file; its directory is created if needed.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InputFileError
        If the extension is not ``.csv`` or ``.parquet``.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> import tempfile, pathlib
    >>> path = rw.write_table(cohort.data, pathlib.Path(tempfile.mkdtemp()) / "cohort.parquet")
    >>> path.suffix
    '.parquet'
    """
    path = Path(path)
    ext = _table_extension(path)
    if ext == ".csv":

        def writer(tmp: Path) -> None:
            data.to_csv(tmp, index=False, lineterminator="\n")

    else:

        def writer(tmp: Path) -> None:
            data.to_parquet(
                tmp, engine="pyarrow", index=False, compression="snappy", write_statistics=True
            )

    _atomic_write(path, writer)
    return path


@checked
def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 text atomically (no newline translation).

    Parameters
    ----------
    path : str or path-like
        Target file; its directory is created if needed.
    text : str
        Content.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    return write_bytes_atomic(path, text.encode("utf-8"))


@checked
def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write bytes atomically.

    Parameters
    ----------
    path : str or path-like
        Target file; its directory is created if needed.
    data : bytes
        Content.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    path = Path(path)
    _atomic_write(path, lambda tmp: tmp.write_bytes(data))
    return path


@checked
def frame_sha256(data: pd.DataFrame) -> str:
    """Hash the content of a table, independent of file format and library version.

    The hash covers the number of rows, and for each column in order: its name, a dtype
    *family* and its values. It ignores the index, the on-disk format and pandas/pyarrow
    versions, so a table read back from CSV or Parquet hashes like the frame written.

    Canonical rendering, per family:

    * ``float`` (all float dtypes, as little-endian float64): missing mask, then the bytes of
      the values with every NaN replaced by 0.0 and ``-0.0`` by ``0.0``;
    * ``int`` (all integer dtypes, including nullable ``Int64``, as little-endian int64):
      missing mask, then the bytes of the values (missing as 0);
    * ``bool`` (including nullable ``boolean``): missing mask, then one byte per value;
    * ``datetime`` / ``timedelta``: missing mask, then int64 nanoseconds (tz-aware values in
      UTC);
    * ``str`` (object, string and categorical columns): missing mask, then each value as
      ``str(value)`` in UTF-8, length-prefixed.

    Every piece is length-prefixed, so different tables cannot render to the same bytes.

    Parameters
    ----------
    data : pandas.DataFrame
        Table to hash.

    Returns
    -------
    str
        Hex digest (64 characters).

    Examples
    --------
    >>> import pandas as pd
    >>> import reawaken as rw
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> rw.frame_sha256(a) == rw.frame_sha256(a.copy()), len(rw.frame_sha256(a))
    (True, 64)
    """
    h = hashlib.sha256()
    _feed(h, _HASH_VERSION)
    _feed(h, np.array([len(data), data.shape[1]], dtype="<i8").tobytes())
    for position in range(data.shape[1]):
        name = data.columns[position]
        family, missing, payload = _canonical_column(data.iloc[:, position])
        _feed(h, str(name).encode("utf-8"))
        _feed(h, family.encode("ascii"))
        _feed(h, np.packbits(missing).tobytes())
        _feed(h, payload)
    return h.hexdigest()


def _table_extension(path: Path) -> str:
    """Return the lower-case table extension or raise InputFileError."""
    ext = path.suffix.lower()
    if ext not in SUPPORTED_TABLE_EXTENSIONS:
        raise InputFileError(
            f"unsupported file extension {path.suffix or '(none)'!r} for {path}; fix: use one of "
            f"{', '.join(SUPPORTED_TABLE_EXTENSIONS)}"
        )
    return ext


def _read_table(path: Path, ext: str) -> pd.DataFrame:
    """Read CSV or Parquet, turning parser and I/O failures into InputFileError."""
    try:
        if ext == ".csv":
            return pd.read_csv(path, float_precision="round_trip")
        return pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError, pa.ArrowException) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        fmt = "CSV" if ext == ".csv" else "Parquet"
        raise InputFileError(
            f"cannot read {path} as {fmt} ({type(exc).__name__}: {reason}); fix: check that the "
            f"file is a complete, valid {fmt} file (re-export it if needed)"
        ) from exc


def _parse_origin(origin_date: str) -> pd.Timestamp:
    """Parse the study origin, raising CohortError with a fix if it is not a date."""
    try:
        if isinstance(origin_date, str):
            origin = pd.to_datetime(origin_date, format="ISO8601")
        else:
            origin = pd.Timestamp(origin_date)
    except (TypeError, ValueError) as exc:
        raise CohortError(
            f"origin_date {origin_date!r} is not a date; fix: give it as YYYY-MM-DD"
        ) from exc
    if pd.isna(origin):
        raise CohortError(f"origin_date {origin_date!r} is not a date; fix: give it as YYYY-MM-DD")
    return origin.tz_localize(None) if origin.tzinfo is not None else origin


def _parse_dates(s: pd.Series) -> pd.Series:
    """Parse a date column leniently (bad values become NaT); time zones are dropped.

    Numeric columns are not dates (they would be read as epoch offsets), so all become NaT.
    """
    if pd.api.types.is_numeric_dtype(s.dtype):
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        dates = s
    else:
        dates = pd.to_datetime(s.astype("object"), errors="coerce", format="ISO8601")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    return dates.astype("datetime64[ns]")


def _atomic_write(path: Path, writer: Callable[[Path], object]) -> None:
    """Write via a temporary file in the target directory, then ``os.replace`` it.

    The temporary file, ``<name>.partial-<random><suffix>``, is visible (not a dot file), so
    one left by a killed process (``kill -9`` cannot be caught) is seen and easy to remove; it
    is removed if anything fails (including Ctrl-C and, from the command line, SIGTERM),
    leaving any existing target untouched. The new file gets the mode of the file it
    replaces, or 0o644.
    """
    if path.is_dir():
        raise InputFileError(f"{path} is a folder; fix: give a file name, e.g. {path / 'out'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else _NEW_FILE_MODE
    with tempfile.NamedTemporaryFile(
        delete=False, dir=path.parent, prefix=f"{path.name}.partial-", suffix=path.suffix
    ) as handle:
        tmp = Path(handle.name)
    try:
        writer(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _feed(h: hashlib._Hash, chunk: bytes) -> None:
    """Add a length-prefixed chunk to a hash."""
    h.update(len(chunk).to_bytes(8, "little"))
    h.update(chunk)


def _canonical_column(s: pd.Series) -> tuple[str, np.ndarray, bytes]:
    """Return (dtype family, missing mask, value bytes) for :func:`frame_sha256`."""
    missing = s.isna().to_numpy(dtype=bool)
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        values = s.to_numpy(dtype="float64", na_value=0.0).astype("u1")
        return "bool", missing, values.tobytes()
    if pd.api.types.is_integer_dtype(dtype):
        return "int", missing, s.to_numpy(dtype="<i8", na_value=0).tobytes()
    if pd.api.types.is_float_dtype(dtype):
        values = s.to_numpy(dtype="<f8", na_value=np.nan).copy()
        values[np.isnan(values)] = 0.0
        values[values == 0.0] = 0.0
        return "float", missing, values.tobytes()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        if getattr(s.dt, "tz", None) is not None:
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        values = s.astype("datetime64[ns]").to_numpy().view("<i8").copy()
        values[missing] = 0
        return "datetime", missing, values.tobytes()
    if pd.api.types.is_timedelta64_dtype(dtype):
        values = s.astype("timedelta64[ns]").to_numpy().view("<i8").copy()
        values[missing] = 0
        return "timedelta", missing, values.tobytes()
    parts = bytearray()
    for value, is_missing in zip(s.astype("object").to_numpy(), missing, strict=True):
        encoded = b"" if is_missing else str(value).encode("utf-8")
        parts += len(encoded).to_bytes(8, "little") + encoded
    return "str", missing, bytes(parts)
