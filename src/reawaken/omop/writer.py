"""Write a cohort as OMOP CDM v5.4 tables, so the OMOP route can be tried without real data.

A cohort at day resolution maps to dated records by the inverse of the cohort builder's rules
(:mod:`reawaken.cohort_builder.builder`): day ``k`` of an entry, exposure or test is the date
``origin + k``; an event or censoring at ``event_day = k + 1`` (end of day ``k``) is dated
``origin + k``. Per person:

* ``person``: gender from a ``gender`` covariate (else the study's ``[synthetic] gender``);
  ``birth_datetime = entry - age x 365.25 days`` to the microsecond, so age at entry comes back
  to ~1e-14 years;
* ``observation_period``: from the diagnosis date to the end of follow-up; the diagnosis
  (first concept of ``[population]``) is dated at entry, or a year before the origin for
  persons who enter at day 0 (prevalent patients);
* ``condition_occurrence``: the diagnosis, the exposure (first ``exposure.conditions``
  concept, if any), the outcome (first ``outcome.conditions`` concept), covariate conditions
  (at the diagnosis date);
* ``measurement``: positive tests (when the exposure has no condition concept), negative tests
  at ``test_day``, covariate measurements at the diagnosis date;
* ``death``: competing deaths (cause ``[synthetic] death_cause``) and, when the outcome is a
  cause of death, outcome deaths;
* ``concept``: the study's ``[concepts]`` rows.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..errors import AnalysisError
from .database import CDM_TABLES, Database, connect
from .study import OmopStudy

__all__ = ["cdm_tables", "day_rounded", "write_omop"]

#: Type concept of every record written: 32817 "EHR".
EHR_TYPE = 32817
_US_PER_DAY = 86_400_000_000
_PREVALENT_LEAD_DAYS = 365
_DEFAULT_AGE = 60.0


def day_rounded(cohort: pd.DataFrame) -> pd.DataFrame:
    """The cohort at day resolution: entry, exposure and test days floored, event days ceiled.

    This is what a CDM, which stores dates, can hold (the simulator's ``time_resolution =
    "day"`` rule); a cohort already at day resolution is returned unchanged (as a copy).
    """
    out = cohort.copy()
    for col in (schema.ENTRY_DAY, schema.EXPOSURE_DAY, schema.TEST_DAY):
        if col in out:
            out[col] = np.floor(out[col].to_numpy(dtype=float))
    out[schema.EVENT_DAY] = np.ceil(out[schema.EVENT_DAY].to_numpy(dtype=float))
    return out


def cdm_tables(cohort: pd.DataFrame, study: OmopStudy) -> dict[str, pd.DataFrame]:
    """The CDM tables (rules in the module docstring) of a cohort at day resolution.

    Parameters
    ----------
    cohort : pandas.DataFrame
        A cohort (``reawaken.schema`` contract) with the study's covariates as columns.
    study : OmopStudy
        Concept sets and dates.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``person``, ``observation_period``, ``condition_occurrence``, ``measurement``,
        ``death``, ``concept``.

    Raises
    ------
    AnalysisError
        If the cohort lacks a covariate of the study, is not at day resolution, or follows
        persons past the study's end date.
    """
    schema.validate_cohort(cohort, covariates=[])
    d = _checked(cohort, study)
    origin = pd.Timestamp(study.origin_date)
    entry = d[schema.ENTRY_DAY].to_numpy(dtype=float)
    dx_day = np.where(entry > 0, entry, -_PREVALENT_LEAD_DAYS)
    ids = d[schema.ID].to_numpy()
    conditions: list[pd.DataFrame] = []
    measurements: list[pd.DataFrame] = []
    if study.population:
        conditions.append(_records(ids, dx_day, study.population[0]))
    _exposure_records(d, study, conditions, measurements)
    _covariate_records(d, study, dx_day, conditions, measurements)
    deaths = _outcome_records(d, study, conditions)
    return {
        "person": _person(d, study, origin),
        "observation_period": pd.DataFrame(
            {
                "observation_period_id": ids,
                "person_id": ids,
                "observation_period_start_date": _dates(origin, dx_day),
                "observation_period_end_date": _dates(origin, d[schema.EVENT_DAY] - 1.0),
                "period_type_concept_id": EHR_TYPE,
            }
        ),
        "condition_occurrence": _condition_table(conditions, origin),
        "measurement": _measurement_table(measurements, origin),
        "death": _death_table(deaths, origin),
        "concept": _concept_table(study),
    }


def _checked(cohort: pd.DataFrame, study: OmopStudy) -> pd.DataFrame:
    missing = [c.name for c in study.covariates if c.name not in cohort]
    if missing:
        raise AnalysisError(
            f"the cohort has no column {', '.join(missing)} for the study's covariates; fix: "
            "simulate the study's scenario or pass a study whose covariates the cohort has"
        )
    times = cohort[[schema.ENTRY_DAY, schema.EXPOSURE_DAY, schema.EVENT_DAY]].to_numpy(float)
    if np.any(np.isfinite(times) & (times != np.round(times))):
        raise AnalysisError(
            "the cohort is not at day resolution; fix: round it with "
            "reawaken.omop.day_rounded(cohort) (a CDM stores dates)"
        )
    last = (pd.Timestamp(study.end_date) - pd.Timestamp(study.origin_date)).days + 1
    if cohort[schema.EVENT_DAY].max() > last:
        raise AnalysisError(
            f"the cohort follows persons to day {cohort[schema.EVENT_DAY].max():g}, past the "
            f"study's end_date {study.end_date} (day {last}); fix: use the study of the "
            "cohort's scenario or a later end_date"
        )
    return cohort.reset_index(drop=True)


def _dates(origin: pd.Timestamp, days) -> pd.Series:
    return origin + pd.to_timedelta(np.asarray(days, dtype=float), unit="D")


def _records(ids, days, concept: int, value=np.nan, value_concept=None) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "person_id": np.asarray(ids),
            "day": np.asarray(days, dtype=float),
            "concept": concept,
            "value": np.broadcast_to(np.asarray(value, dtype=float), n),
            "value_concept": pd.array(
                np.broadcast_to(np.asarray(-1 if value_concept is None else value_concept), n),
                dtype="Int64",
            ),
        }
    )


def _exposure_records(d, study: OmopStudy, conditions: list, measurements: list) -> None:
    exposed = d[d[schema.EXPOSURE_DAY].notna()]
    ids, days = exposed[schema.ID].to_numpy(), exposed[schema.EXPOSURE_DAY].to_numpy()
    if study.exposure_conditions:
        conditions.append(_records(ids, days, study.exposure_conditions[0]))
    elif study.exposure_measurements:
        measurements.append(
            _records(
                ids, days, study.exposure_measurements[0], value_concept=study.positive_values[0]
            )
        )
    if study.test_measurements and schema.TEST_DAY in d:
        tested = d[d[schema.TEST_DAY].notna()]
        measurements.append(
            _records(
                tested[schema.ID],
                tested[schema.TEST_DAY],
                study.test_measurements[0],
                value_concept=study.negative_values[0],
            )
        )


def _covariate_records(d, study: OmopStudy, dx_day, conditions: list, measurements: list):
    ids = d[schema.ID].to_numpy()
    for cov in study.covariates:
        x = d[cov.name].to_numpy(dtype=float)
        has = ~np.isnan(x)
        if cov.source == "condition":
            conditions.append(_records(ids[x == 1], dx_day[x == 1], cov.concepts[0]))
        elif cov.source == "measurement_value":
            measurements.append(_records(ids[has], dx_day[has], cov.concepts[0], value=x[has]))
        elif cov.source == "measurement_concept":
            value = np.where(x[has] == 1, cov.values[0], cov.other_value)
            measurements.append(
                _records(ids[has], dx_day[has], cov.concepts[0], value_concept=value)
            )


def _outcome_records(d, study: OmopStudy, conditions: list) -> pd.DataFrame:
    """Outcome conditions; returns the deaths (person_id, day, cause)."""
    last = d[schema.EVENT_DAY].to_numpy() - 1.0
    ids, event = d[schema.ID].to_numpy(), d[schema.EVENT].to_numpy()
    if study.outcome_conditions:
        conditions.append(_records(ids[event == 1], last[event == 1], study.outcome_conditions[0]))
        dead = event == 2
        cause = np.full(len(d), study.synthetic_death_cause)
    else:
        dead = event > 0
        cause = np.where(event == 1, study.outcome_death_causes[0], study.synthetic_death_cause)
    return pd.DataFrame({"person_id": ids[dead], "day": last[dead], "cause": cause[dead]})


def _person(d, study: OmopStudy, origin: pd.Timestamp) -> pd.DataFrame:
    n = len(d)
    age = d["age"].to_numpy(dtype=float) if "age" in d else np.full(n, _DEFAULT_AGE)
    entry_us = origin.value // 1000 + d[schema.ENTRY_DAY].to_numpy(dtype=float) * _US_PER_DAY
    birth = pd.to_datetime(
        (entry_us - np.round(age * 365.25 * _US_PER_DAY)).astype(np.int64), unit="us"
    )
    gender = np.full(n, study.synthetic_gender)
    for cov in study.covariates:
        if cov.source == "gender":
            gender = np.where(d[cov.name].to_numpy() == 1, cov.concepts[0], cov.other_value)
    return pd.DataFrame(
        {
            "person_id": d[schema.ID].to_numpy(),
            "gender_concept_id": gender,
            "year_of_birth": birth.year,
            "month_of_birth": birth.month,
            "day_of_birth": birth.day,
            "birth_datetime": birth,
            "race_concept_id": 0,
            "ethnicity_concept_id": 0,
        }
    )


def _condition_table(parts: list, origin) -> pd.DataFrame:
    rec = pd.concat(parts, ignore_index=True) if parts else _records([], [], 0)
    return pd.DataFrame(
        {
            "condition_occurrence_id": np.arange(1, len(rec) + 1),
            "person_id": rec["person_id"].to_numpy(),
            "condition_concept_id": rec["concept"].to_numpy(),
            "condition_start_date": _dates(origin, rec["day"]),
            "condition_type_concept_id": EHR_TYPE,
        }
    )


def _measurement_table(parts: list, origin) -> pd.DataFrame:
    rec = pd.concat(parts, ignore_index=True) if parts else _records([], [], 0)
    value_concept = rec["value_concept"].where(rec["value_concept"] >= 0).astype("Int64")
    return pd.DataFrame(
        {
            "measurement_id": np.arange(1, len(rec) + 1),
            "person_id": rec["person_id"].to_numpy(),
            "measurement_concept_id": rec["concept"].to_numpy(),
            "measurement_date": _dates(origin, rec["day"]),
            "measurement_type_concept_id": EHR_TYPE,
            "value_as_number": rec["value"].to_numpy(),
            "value_as_concept_id": value_concept.array,
        }
    )


def _death_table(deaths: pd.DataFrame, origin) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": deaths["person_id"].to_numpy(),
            "death_date": _dates(origin, deaths["day"]),
            "death_type_concept_id": EHR_TYPE,
            "cause_concept_id": deaths["cause"].to_numpy(),
        }
    )


def _concept_table(study: OmopStudy) -> pd.DataFrame:
    used = {i for ids in study.concept_ids().values() for i in ids}
    used |= {EHR_TYPE, study.synthetic_gender, study.synthetic_death_cause}
    used |= {c.other_value for c in study.covariates}
    unnamed = sorted(used - set(study.concepts))
    if unnamed:
        raise AnalysisError(
            f"study {study.name} uses concept ids without a [concepts] entry: "
            f"{', '.join(map(str, unnamed))}; fix: add them as id = [name, domain, vocabulary, "
            "code]"
        )
    rows = sorted(study.concepts.items())
    return pd.DataFrame(
        {
            "concept_id": [k for k, _ in rows],
            "concept_name": [v[0] for _, v in rows],
            "domain_id": [v[1] for _, v in rows],
            "vocabulary_id": [v[2] for _, v in rows],
            "concept_class_id": [v[1] for _, v in rows],
            "standard_concept": [None if v[2] in ("Local", "None") else "S" for _, v in rows],
            "concept_code": [v[3] for _, v in rows],
            "valid_start_date": pd.Timestamp("1970-01-01"),
            "valid_end_date": pd.Timestamp("2099-12-31"),
        }
    )


def write_omop(
    cohort: pd.DataFrame,
    study: OmopStudy,
    target: str,
    *,
    db_schema: str | None = None,
    replace: bool = False,
) -> dict[str, int]:
    """Write a cohort as CDM tables to a new DuckDB file or a PostgreSQL database.

    A DuckDB file is written to a temporary file and moved into place (a failed write leaves
    no file); on PostgreSQL everything happens in one transaction.

    Parameters
    ----------
    cohort : pandas.DataFrame
        Cohort at day resolution (see :func:`day_rounded`) with the study's covariates.
    study : OmopStudy
        Concept sets and dates.
    target : str
        ``FILE.duckdb`` or ``postgresql://...``.
    db_schema : str, optional
        Schema for the tables (created if needed).
    replace : bool, default False
        PostgreSQL: drop CDM tables that already exist in the schema.

    Returns
    -------
    dict of str to int
        Rows written per table.

    Raises
    ------
    AnalysisError
        As :func:`cdm_tables`.
    InputFileError
        If the database cannot be opened, or (PostgreSQL) already has CDM tables.
    """
    tables = cdm_tables(cohort, study)
    if target.lower().startswith(("postgresql:", "postgres:")):
        with connect(target, schema=db_schema, write=True) as db:
            _write_all(db, tables, replace)
            db.commit()
        return {name: len(frame) for name, frame in tables.items()}
    final = Path(
        target.split(":", 1)[1].removeprefix("///") if target.startswith("duckdb:") else target
    )
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".duckdb", dir=final.parent)
    os.close(handle)
    os.unlink(tmp)  # DuckDB creates the file itself
    try:
        with connect(tmp, schema=db_schema, write=True) as db:
            _write_all(db, tables, replace=False)
            db.execute("CHECKPOINT")
        os.replace(tmp, final)
    finally:
        for leftover in (tmp, tmp + ".wal"):
            Path(leftover).unlink(missing_ok=True)
    return {name: len(frame) for name, frame in tables.items()}


def _write_all(db: Database, tables: dict[str, pd.DataFrame], replace: bool) -> None:
    from ..errors import InputFileError

    if db.schema:
        db.execute(f"CREATE SCHEMA IF NOT EXISTS {db.schema}")
    existing = set(db.columns())
    clash = [t for t in tables if t in existing]
    if clash and not replace:
        raise InputFileError(
            f"{db.label} already has CDM table(s) {', '.join(clash)}; fix: write to an empty "
            "schema (--schema NAME) or pass --replace to drop them"
        )
    for name, frame in tables.items():
        qualified = db.sql(db.table(name))
        if name in existing:
            db.execute(f"DROP TABLE {qualified}")
        cols = ", ".join(
            f"{col} {kind}{' NOT NULL' if required else ''}"
            for col, kind, required in CDM_TABLES[name]
        )
        db.execute(f"CREATE TABLE {qualified} ({cols})")
        db.load(name, frame)
        if db.dialect == "postgres":
            db.execute(f"ANALYZE {qualified}")  # planner statistics, as a loaded CDM has
