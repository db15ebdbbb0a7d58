"""A cohort-building spec in TOML: which files hold which dated records, under which names.

::

    origin_date = "2020-03-01"          # day 0
    end_date = "2024-06-30"             # last day of follow-up
    id = "patient_id"                   # person-id column in every file (default "id")
    prevalent_exposure = "exclude"      # or "index_at_entry"

    [persons]                           # one row per person
    file = "patients.csv"               # relative to the spec file; .csv or .parquet
    entry = "diagnosis_date"
    birth = "birth_date"                # optional: adds age at entry
    covariates = ["stage", "her2"]      # optional (default: every numeric column)
    categorical = { stage = ["I", "II", "III", "IV"] }   # dummy-coded, first = reference

    [exposures]                         # tests or diagnoses, several per person
    file = "covid_tests.csv"
    date = "test_date"
    result = "result"                   # optional, then positive (and negative) values
    positive = ["positive"]
    negative = ["negative"]             # optional: first negative test -> test_day

    [outcomes]
    file = "metastases.csv"
    date = "metastasis_date"

    [deaths]
    file = "patients.csv"               # a file may serve several tables
    date = "death_date"
    cause = "death_cause"               # optional
    outcome_causes = ["cancer"]         # optional: deaths that are the outcome

    [last_contact]
    file = "patients.csv"
    date = "last_contact_date"

Every table but ``[persons]`` is optional; each may name its own ``id`` column.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from ..checks import checked
from ..errors import InputFileError
from ..io import SUPPORTED_TABLE_EXTENSIONS
from .builder import BuiltCohort, build_cohort
from .records import Records

__all__ = ["build_cohort_from_spec", "read_spec"]

_TOP = (
    "origin_date",
    "end_date",
    "id",
    "prevalent_exposure",
    "persons",
    "exposures",
    "outcomes",
    "deaths",
    "last_contact",
)
_TABLE_KEYS = {
    "persons": ("file", "entry", "birth", "covariates", "categorical"),
    "exposures": ("file", "id", "date", "result", "positive", "negative"),
    "outcomes": ("file", "id", "date"),
    "deaths": ("file", "id", "date", "cause", "outcome_causes"),
    "last_contact": ("file", "id", "date"),
}
_RECORD_KEYS = ("id", "date", "result", "positive", "negative", "cause", "outcome_causes")


def read_spec(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a cohort-building spec (keys in the module docstring).

    Parameters
    ----------
    path : str or path-like
        The ``.toml`` file.

    Returns
    -------
    dict
        The parsed spec.

    Raises
    ------
    InputFileError
        If the file is missing or not TOML, or a key is unknown or a required one missing.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"spec file not found: {path}; fix: check the path")
    try:
        spec = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path} is not valid TOML ({exc}); fix: correct the syntax") from exc
    _check_keys(spec, "", _TOP, path)
    for name in ("origin_date", "end_date", "persons"):
        if name not in spec:
            raise InputFileError(
                f"{path}: required key '{name}' is missing; fix: add it (see "
                "`reawaken build-cohort --help`)"
            )
    for table, allowed in _TABLE_KEYS.items():
        if table in spec:
            if not isinstance(spec[table], dict):
                raise InputFileError(
                    f"{path}: '{table}' must be a table [{table}]; fix: write it "
                    f"as [{table}] with file = ... and date = ..."
                )
            _check_keys(spec[table], table, allowed, path)
            if "file" not in spec[table]:
                raise InputFileError(f'{path}: [{table}] needs file = "..."; fix: add it')
    if "entry" not in spec["persons"]:
        raise InputFileError(f'{path}: [persons] needs entry = "<entry date column>"; fix: add it')
    return spec


def _check_keys(table: dict, where: str, allowed: tuple, path: Path) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise InputFileError(
            f"{path}: unknown key '{key}'; fix: use only {', '.join(allowed)}"
            + (f" in [{where}]" if where else " at the top level")
        )


@checked
def build_cohort_from_spec(path: str | os.PathLike[str]) -> BuiltCohort:
    """Read a spec and its files, then :func:`~reawaken.cohort_builder.build_cohort`.

    Parameters
    ----------
    path : str or path-like
        The spec (``.toml``); file paths in it are relative to its folder.

    Returns
    -------
    BuiltCohort
        The cohort, its flow table and notes.

    Raises
    ------
    InputFileError
        If the spec or a file cannot be read.
    CohortError, AnalysisError
        As :func:`~reawaken.cohort_builder.build_cohort`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import reawaken as rw
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "persons.csv").write_text("id,diagnosis\\n1,2014-05-01\\n2,2015-01-10\\n")
    >>> _ = (folder / "spec.toml").write_text(
    ...     'origin_date = "2020-03-01"\\nend_date = "2022-09-01"\\n'
    ...     '[persons]\\nfile = "persons.csv"\\nentry = "diagnosis"\\n')
    >>> built = rw.build_cohort_from_spec(folder / "spec.toml")
    >>> built.data[["id", "entry_day", "event_day", "event"]]
       id  entry_day  event_day  event
    0   1        0.0      915.0      0
    1   2        0.0      915.0      0
    """
    path = Path(path)
    spec = read_spec(path)
    cache: dict[Path, pd.DataFrame] = {}
    persons_spec = spec["persons"]
    persons = _load(path.parent / persons_spec["file"], cache)
    records = {}
    for kind in ("exposures", "outcomes", "deaths", "last_contact"):
        if kind in spec:
            table = spec[kind]
            options = {k: table[k] for k in _RECORD_KEYS if k in table}
            records[kind] = Records(_load(path.parent / table["file"], cache), **options)
    categorical = persons_spec.get("categorical")
    if isinstance(categorical, list):
        categorical = dict.fromkeys(categorical)
    return build_cohort(
        persons,
        origin_date=spec["origin_date"],
        end_date=spec["end_date"],
        entry=persons_spec["entry"],
        id_col=spec.get("id", "id"),
        covariates=persons_spec.get("covariates"),
        categorical=categorical,
        birth=persons_spec.get("birth"),
        prevalent_exposure=spec.get("prevalent_exposure", "exclude"),
        source=Path(persons_spec["file"]).name,
        **records,
    )


def _load(file: Path, cache: dict[Path, pd.DataFrame]) -> pd.DataFrame:
    """Read a CSV/Parquet file once (a file serving several tables is the same frame)."""
    key = file.resolve()
    if key not in cache:
        ext = file.suffix.lower()
        if ext not in SUPPORTED_TABLE_EXTENSIONS:
            raise InputFileError(
                f"unsupported file extension {file.suffix or '(none)'!r} for {file}; fix: use "
                f"one of {', '.join(SUPPORTED_TABLE_EXTENSIONS)}"
            )
        if not file.is_file():
            raise InputFileError(
                f"file not found: {file}; fix: check the path in the spec "
                "(relative to the spec's folder)"
            )
        try:
            cache[key] = pd.read_csv(file) if ext == ".csv" else pd.read_parquet(file)
        except (OSError, ValueError) as exc:
            raise InputFileError(
                f"cannot read {file} ({type(exc).__name__}: {exc}); fix: check "
                "that it is a complete CSV/Parquet file"
            ) from exc
    return cache[key]
