"""The OMOP Common Data Model route: from a CDM v5.4 database to the cohort contract.

* :func:`write_omop` writes a (simulated) cohort as CDM tables — ``person``,
  ``observation_period``, ``condition_occurrence``, ``measurement`` (test results), ``death``
  (with cause) and the ``concept`` rows used — so the route can be tried without real data;
* :func:`extract_cohort` builds a study cohort from a CDM with the study's concept sets
  (:func:`load_study`; one TOML per study, shipped for both presets), the selection done in
  the database, then the day rules and the flow table of :mod:`reawaken.cohort_builder`.

Engines: DuckDB (an embedded file, the default: nothing to install or run) and PostgreSQL
(the usual server for OMOP CDMs). Query layer: **sqlglot**. Every query is one sqlglot
expression tree rendered in the engine's dialect, so DuckDB and PostgreSQL run the same
definition, identifiers and literals are built as syntax nodes (concept ids are validated
integers, never pasted text), and the drivers' fast paths stay available — DuckDB returns
results through Arrow and loads DataFrames directly, PostgreSQL loads with ``COPY``. sqlglot
is pure Python with no dependencies. SQLAlchemy Core would add an engine layer whose DuckDB
dialect (duckdb-engine) lags SQLAlchemy releases (its reflection fails on SQLAlchemy 2.1),
and would fetch rows as Python tuples; Ibis would add a large dependency tree for a few
queries. The drivers (``duckdb``, ``psycopg``) are imported only when a database is opened.
All three come with the ``omop`` extra (``pip install 'reawaken[omop]'``; ``make test``
installs it); without it this package raises a one-line error saying so.

Day rules (the cohort builder's): a CDM date ``d`` is day ``k = (d - origin).days``; entry,
exposure and tests take effect at the start of their day (``k``), outcomes, deaths and the end
of observation at its end (``k + 1``). A simulated cohort therefore round-trips exactly at day
resolution (:func:`day_rounded`).
"""

from .._optional import require

require("sqlglot", "omop")

from .database import CDM_TABLES, Database, connect, mask_url  # noqa: E402
from .extract import extract_cohort  # noqa: E402
from .study import OmopStudy, list_studies, load_study  # noqa: E402
from .writer import cdm_tables, day_rounded, write_omop  # noqa: E402

__all__ = [
    "CDM_TABLES",
    "Database",
    "OmopStudy",
    "cdm_tables",
    "connect",
    "day_rounded",
    "extract_cohort",
    "list_studies",
    "load_study",
    "mask_url",
    "write_omop",
]
