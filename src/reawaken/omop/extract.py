"""Extract a study cohort from an OMOP CDM: selection in the database, rules in the builder.

The database does the selection and the per-person reduction (sqlglot expressions, one
definition rendered for DuckDB or PostgreSQL): persons with a condition of the population
concept set and an observation period; entry date = the later of the first such condition
and the start of observation (the builder then takes the later of that and the origin); last
contact = the end of the last observation period (gaps are not used); the first qualifying
exposure (a condition of the set, or a measurement of the set with a positive value concept);
negative tests from the origin to the end date; the first outcome condition; the death with
whether its cause is an outcome cause; covariates at the entry date (condition flags: any
record on or before entry; measurements: the latest on or before entry, ties broken by the
larger ``measurement_id``; age from ``birth_datetime``, else from year/month/day of birth
with a missing month as July and a missing day as the 1st). The cohort builder
(:func:`reawaken.cohort_builder.build_cohort`) applies the day rules and exclusions, and the
flow table starts from the CDM's ``person`` table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlglot
from sqlglot import exp

from ..cohort_builder import BuiltCohort, Records, build_cohort
from ..errors import AnalysisError, InputFileError
from .database import CDM_TABLES, Database, connect
from .study import OmopStudy, load_study

__all__ = ["extract_cohort", "person_query"]

_REQUIRED = {
    "person": (
        "person_id",
        "gender_concept_id",
        "year_of_birth",
        "month_of_birth",
        "day_of_birth",
        "birth_datetime",
    ),
    "observation_period": (
        "person_id",
        "observation_period_start_date",
        "observation_period_end_date",
    ),
    "condition_occurrence": ("person_id", "condition_concept_id", "condition_start_date"),
    "measurement": (
        "measurement_id",
        "person_id",
        "measurement_concept_id",
        "measurement_date",
        "value_as_number",
        "value_as_concept_id",
    ),
    "death": ("person_id", "death_date", "cause_concept_id"),
    "concept": ("concept_id",),
}


def _ids(column: str, ids: tuple[int, ...]) -> exp.Expression:
    return exp.to_column(column).isin(*[exp.Literal.number(i) for i in ids])


def _date(value: str) -> exp.Expression:
    return exp.cast(exp.Literal.string(value), "DATE")


def _population(db: Database, study: OmopStudy) -> exp.Select:
    """pop(person_id, dx_date): persons with a population condition (or every person)."""
    if not study.population:
        return sqlglot.select("person_id", "CAST(NULL AS DATE) AS dx_date").from_(
            db.table("person")
        )
    return (
        sqlglot.select("person_id", "MIN(condition_start_date) AS dx_date")
        .from_(db.table("condition_occurrence"))
        .where(_ids("condition_concept_id", study.population))
        .group_by("person_id")
    )


def _in_population(db: Database, study: OmopStudy) -> exp.Expression:
    return exp.column("person_id").isin(
        query=sqlglot.select("person_id").from_(_population(db, study).subquery("pop"))
    )


def _base(db: Database, study: OmopStudy) -> exp.Select:
    """base(person_id, gender, birth, entry_date, last_contact) for the population."""
    obs = (
        sqlglot.select(
            "person_id",
            "MIN(observation_period_start_date) AS obs_start",
            "MAX(observation_period_end_date) AS obs_end",
        )
        .from_(db.table("observation_period"))
        .group_by("person_id")
    )
    birth = (
        "COALESCE(p.birth_datetime, CAST(MAKE_DATE(p.year_of_birth, "
        "COALESCE(p.month_of_birth, 7), COALESCE(p.day_of_birth, 1)) AS TIMESTAMP))"
    )
    entry = (
        "CASE WHEN pop.dx_date IS NULL OR obs.obs_start > pop.dx_date "
        "THEN obs.obs_start ELSE pop.dx_date END"
    )
    return (
        sqlglot.select(
            "p.person_id AS person_id",
            "p.gender_concept_id AS gender_concept_id",
            f"{birth} AS birth",
            f"{entry} AS entry_date",
            "obs.obs_end AS last_contact",
        )
        .from_(exp.alias_(db.table("person"), "p"))
        .join(_population(db, study).subquery("pop"), on="pop.person_id = p.person_id")
        .join(obs.subquery("obs"), on="obs.person_id = p.person_id")
    )


def person_query(db: Database, study: OmopStudy) -> exp.Select:
    """One row per person of the population: entry, last contact, birth, covariates."""
    q = sqlglot.select("base.person_id", "base.entry_date", "base.last_contact", "base.birth")
    q = q.with_("base", as_=_base(db, study)).from_("base")
    for k, cov in enumerate(study.covariates):
        alias = f"c{k}"
        if cov.source == "gender":
            q = q.select(
                exp.alias_(
                    exp.case().when(_ids("base.gender_concept_id", cov.concepts), "1").else_("0"),
                    cov.name,
                    quoted=True,
                )
            )
        elif cov.source == "condition":
            first = (
                sqlglot.select("person_id", "MIN(condition_start_date) AS first_date")
                .from_(db.table("condition_occurrence"))
                .where(_ids("condition_concept_id", cov.concepts))
                .group_by("person_id")
            )
            q = q.join(
                first.subquery(alias), on=f"{alias}.person_id = base.person_id", join_type="left"
            )
            flag = exp.case().when(f"{alias}.first_date <= base.entry_date", "1").else_("0")
            q = q.select(exp.alias_(flag, cov.name, quoted=True))
        elif cov.source.startswith("measurement"):
            q = _latest_measurement(db, q, cov, alias)
    return q.order_by("base.person_id")


def _latest_measurement(db: Database, q: exp.Select, cov, alias: str) -> exp.Select:
    latest = (
        sqlglot.select(
            "m.person_id",
            "m.value_as_number AS v",
            "m.value_as_concept_id AS vc",
            "ROW_NUMBER() OVER (PARTITION BY m.person_id ORDER BY m.measurement_date"
            " DESC, m.measurement_id DESC) AS rn",
        )
        .from_(exp.alias_(db.table("measurement"), "m"))
        .join("base AS b", on="b.person_id = m.person_id")
        .where(_ids("m.measurement_concept_id", cov.concepts))
        .where("m.measurement_date <= b.entry_date")
    )
    q = q.join(
        latest.subquery(alias),
        on=f"{alias}.person_id = base.person_id AND {alias}.rn = 1",
        join_type="left",
    )
    if cov.source == "measurement_value":
        return q.select(exp.alias_(f"{alias}.v", cov.name, quoted=True))
    flag = (
        exp.case()
        .when(f"{alias}.vc IS NULL", "NULL")
        .when(_ids(f"{alias}.vc", cov.values), "1")
        .else_("0")
    )
    return q.select(exp.alias_(flag, cov.name, quoted=True))


def _exposure_query(db: Database, study: OmopStudy) -> exp.Select | None:
    parts = []
    if study.exposure_conditions:
        parts.append(
            sqlglot.select("person_id", "condition_start_date AS d")
            .from_(db.table("condition_occurrence"))
            .where(_ids("condition_concept_id", study.exposure_conditions))
        )
    if study.exposure_measurements:
        parts.append(
            sqlglot.select("person_id", "measurement_date AS d")
            .from_(db.table("measurement"))
            .where(_ids("measurement_concept_id", study.exposure_measurements))
            .where(_ids("value_as_concept_id", study.positive_values))
        )
    if not parts:
        return None
    union = parts[0] if len(parts) == 1 else exp.union(*parts, distinct=False)
    return (
        sqlglot.select("person_id", "MIN(d) AS exposure_date")
        .from_(union.subquery("x"))
        .where(_in_population(db, study))
        .group_by("person_id")
    )


def _negative_query(db: Database, study: OmopStudy) -> exp.Select | None:
    if not study.test_measurements:
        return None
    between = exp.column("measurement_date").between(
        _date(study.origin_date), _date(study.end_date)
    )
    return (
        sqlglot.select("person_id", "measurement_date AS test_date")
        .from_(db.table("measurement"))
        .where(_ids("measurement_concept_id", study.test_measurements))
        .where(_ids("value_as_concept_id", study.negative_values))
        .where(between)
        .where(_in_population(db, study))
    )


def _outcome_query(db: Database, study: OmopStudy) -> exp.Select | None:
    if not study.outcome_conditions:
        return None
    return (
        sqlglot.select("person_id", "MIN(condition_start_date) AS outcome_date")
        .from_(db.table("condition_occurrence"))
        .where(_ids("condition_concept_id", study.outcome_conditions))
        .where(_in_population(db, study))
        .group_by("person_id")
    )


def _death_query(db: Database, study: OmopStudy) -> exp.Select:
    cause = (
        exp.case().when(_ids("cause_concept_id", study.outcome_death_causes), "1").else_("0")
        if study.outcome_death_causes
        else exp.Literal.number(0)
    )
    return (
        sqlglot.select("person_id", "death_date", exp.alias_(cause, "cause_is_outcome"))
        .from_(db.table("death"))
        .where(_in_population(db, study))
    )


def check_cdm(db: Database, study: OmopStudy) -> None:
    """Raise if a needed table/column or a concept id of the study is missing."""
    tables = db.columns()
    for table, cols in _REQUIRED.items():
        if table not in tables:
            raise InputFileError(
                f"{db.label} has no table {table!r} (CDM v5.4){_schema_hint(db)}; fix: point "
                "--db/--schema at the CDM, or load the table"
            )
        missing = [c for c in cols if c not in tables[table]]
        if missing:
            raise InputFileError(
                f"{db.label}: table {table} has no column {', '.join(missing)}; fix: use a CDM "
                f"v5.4 {table} table (columns: {', '.join(c for c, _, _ in CDM_TABLES[table])})"
            )
    roles = study.concept_ids()
    wanted = sorted({i for ids in roles.values() for i in ids})
    q = sqlglot.select("concept_id").from_(db.table("concept")).where(_ids("concept_id", wanted))
    found = set(db.query(q)["concept_id"].astype(int))
    unknown = [f"{i} ({role})" for role, ids in roles.items() for i in ids if i not in found]
    if unknown:
        raise InputFileError(
            f"{db.label}: concept id(s) of study {study.name} not in the concept table: "
            f"{', '.join(unknown[:6])}; fix: correct the study's concept sets or load the "
            "vocabulary"
        )


def _schema_hint(db: Database) -> str:
    return f" in schema {db.schema}" if db.schema else ""


def extract_cohort(
    target: str, study: OmopStudy | str, *, db_schema: str | None = None
) -> BuiltCohort:
    """Build a study cohort from an OMOP CDM (DuckDB file or PostgreSQL URL).

    Parameters
    ----------
    target : str
        ``FILE.duckdb`` or ``postgresql://...``.
    study : OmopStudy or str
        A study, a shipped study name or a study TOML path.
    db_schema : str, optional
        Schema of the CDM tables.

    Returns
    -------
    BuiltCohort
        The cohort (covariates named as in the study), the flow table from the CDM's persons,
        notes.

    Raises
    ------
    InputFileError
        If the database, a table, a column or a concept id is missing.
    AnalysisError
        If no person qualifies.
    """
    if not isinstance(study, OmopStudy):
        study = load_study(study)
    with connect(target, schema=db_schema) as db:
        check_cdm(db, study)
        n_persons = int(db.scalar(sqlglot.select("COUNT(*)").from_(db.table("person"))))
        pop = _population(db, study).subquery("pop")
        n_pop = int(db.scalar(sqlglot.select("COUNT(*)").from_(pop)))
        persons = db.query(person_query(db, study))
        frames = {
            name: None if q is None else db.query(q)
            for name, q in (
                ("exposures", _exposure_query(db, study)),
                ("negatives", _negative_query(db, study)),
                ("outcomes", _outcome_query(db, study)),
                ("deaths", _death_query(db, study)),
            )
        }
    return _build(study, persons, frames, (n_persons, n_pop))


def _build(study: OmopStudy, persons: pd.DataFrame, frames: dict, counts) -> BuiltCohort:
    n_persons, n_pop = counts
    exposures = None
    if frames["exposures"] is not None or frames["negatives"] is not None:
        parts = []
        if frames["exposures"] is not None:
            parts.append(
                frames["exposures"]
                .rename(columns={"exposure_date": "date"})
                .assign(result="positive")
            )
        if frames["negatives"] is not None:
            parts.append(
                frames["negatives"].rename(columns={"test_date": "date"}).assign(result="negative")
            )
        exposures = Records(
            pd.concat(parts, ignore_index=True),
            result="result",
            positive=["positive"],
            negative=["negative"],
            id="person_id",
        )
    has_age = any(c.source == "age" for c in study.covariates)
    names = [c.name for c in study.covariates if c.source != "age"]
    if not len(persons):
        raise AnalysisError(
            f"no person of the CDM qualifies for study {study.name} ({n_persons} persons, "
            f"{n_pop} with a population condition, none with an observation period); fix: "
            "check the population concept set and observation_period"
        )
    for name in names:
        persons[name] = pd.to_numeric(persons[name], errors="coerce").astype(float)
    built = build_cohort(
        persons,
        origin_date=study.origin_date,
        end_date=study.end_date,
        entry="entry_date",
        id_col="person_id",
        covariates=names,
        birth="birth" if has_age else None,
        prevalent_exposure=study.prevalent_exposure,
        source="CDM population",
        exposures=exposures,
        outcomes=None
        if frames["outcomes"] is None
        else Records(frames["outcomes"], date="outcome_date", id="person_id"),
        deaths=Records(
            frames["deaths"],
            date="death_date",
            cause="cause_is_outcome",
            outcome_causes=[1],
            id="person_id",
        ),
        last_contact=Records(persons, date="last_contact", id="person_id"),
    )
    return _with_cdm_flow(built, study, n_persons, n_pop)


def _with_cdm_flow(built: BuiltCohort, study: OmopStudy, n_persons: int, n_pop: int):
    """Prepend the database's selection steps to the builder's flow table."""
    n_base = int(built.flow["remaining"].iloc[0])
    head = pd.DataFrame(
        [
            {
                "step": 0,
                "description": "persons in the CDM person table",
                "excluded": np.nan,
                "remaining": n_persons,
            },
            {
                "step": 1,
                "description": "no condition of the population concept set "
                f"({', '.join(map(str, study.population)) or 'all persons'})",
                "excluded": float(n_persons - n_pop),
                "remaining": n_pop,
            },
            {
                "step": 2,
                "description": "no observation period",
                "excluded": float(n_pop - n_base),
                "remaining": n_base,
            },
        ]
    )
    tail = built.flow.iloc[1:].copy()
    tail["step"] = np.arange(3, 3 + len(tail))
    flow = pd.concat([head, tail], ignore_index=True)
    data = built.data.rename(columns={"person_id": "id"})
    return BuiltCohort(data=data, flow=flow, notes=built.notes, origin_date=built.origin_date)
