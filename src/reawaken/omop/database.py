"""Connections to the two engines, one interface: DuckDB (embedded file) and PostgreSQL.

:func:`connect` takes a DuckDB file path (``synth.duckdb``, ``duckdb:///path``) or a PostgreSQL
URL (``postgresql://user:password@host:5432/db``, or ``postgresql://user@/db?host=/socket``).
Queries are sqlglot expressions rendered in the engine's dialect; results come back as pandas
frames (DuckDB through Arrow, PostgreSQL through psycopg). Bulk loads use each engine's fast
path: DuckDB inserts from a registered DataFrame, PostgreSQL ``COPY ... FROM STDIN``.
Passwords are never printed: every message shows the URL with the password masked.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import sqlglot
from sqlglot import exp

from .._optional import require
from ..errors import InputFileError

__all__ = ["CDM_TABLES", "Database", "connect", "mask_url"]

#: CDM v5.4 columns of the tables this route uses (name, type, required), from the OHDSI DDL;
#: ``value_as_number``/``range_*`` are DOUBLE PRECISION (the OHDSI PostgreSQL DDL has NUMERIC,
#: which DuckDB would read as DECIMAL(18,3)).
CDM_TABLES: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "person": (
        ("person_id", "BIGINT", True),
        ("gender_concept_id", "INTEGER", True),
        ("year_of_birth", "INTEGER", True),
        ("month_of_birth", "INTEGER", False),
        ("day_of_birth", "INTEGER", False),
        ("birth_datetime", "TIMESTAMP", False),
        ("race_concept_id", "INTEGER", True),
        ("ethnicity_concept_id", "INTEGER", True),
        ("location_id", "INTEGER", False),
        ("provider_id", "INTEGER", False),
        ("care_site_id", "INTEGER", False),
        ("person_source_value", "VARCHAR(50)", False),
        ("gender_source_value", "VARCHAR(50)", False),
        ("gender_source_concept_id", "INTEGER", False),
        ("race_source_value", "VARCHAR(50)", False),
        ("race_source_concept_id", "INTEGER", False),
        ("ethnicity_source_value", "VARCHAR(50)", False),
        ("ethnicity_source_concept_id", "INTEGER", False),
    ),
    "observation_period": (
        ("observation_period_id", "BIGINT", True),
        ("person_id", "BIGINT", True),
        ("observation_period_start_date", "DATE", True),
        ("observation_period_end_date", "DATE", True),
        ("period_type_concept_id", "INTEGER", True),
    ),
    "condition_occurrence": (
        ("condition_occurrence_id", "BIGINT", True),
        ("person_id", "BIGINT", True),
        ("condition_concept_id", "INTEGER", True),
        ("condition_start_date", "DATE", True),
        ("condition_start_datetime", "TIMESTAMP", False),
        ("condition_end_date", "DATE", False),
        ("condition_end_datetime", "TIMESTAMP", False),
        ("condition_type_concept_id", "INTEGER", True),
        ("condition_status_concept_id", "INTEGER", False),
        ("stop_reason", "VARCHAR(20)", False),
        ("provider_id", "INTEGER", False),
        ("visit_occurrence_id", "BIGINT", False),
        ("visit_detail_id", "BIGINT", False),
        ("condition_source_value", "VARCHAR(50)", False),
        ("condition_source_concept_id", "INTEGER", False),
        ("condition_status_source_value", "VARCHAR(50)", False),
    ),
    "measurement": (
        ("measurement_id", "BIGINT", True),
        ("person_id", "BIGINT", True),
        ("measurement_concept_id", "INTEGER", True),
        ("measurement_date", "DATE", True),
        ("measurement_datetime", "TIMESTAMP", False),
        ("measurement_time", "VARCHAR(10)", False),
        ("measurement_type_concept_id", "INTEGER", True),
        ("operator_concept_id", "INTEGER", False),
        ("value_as_number", "DOUBLE PRECISION", False),
        ("value_as_concept_id", "INTEGER", False),
        ("unit_concept_id", "INTEGER", False),
        ("range_low", "DOUBLE PRECISION", False),
        ("range_high", "DOUBLE PRECISION", False),
        ("provider_id", "INTEGER", False),
        ("visit_occurrence_id", "BIGINT", False),
        ("visit_detail_id", "BIGINT", False),
        ("measurement_source_value", "VARCHAR(50)", False),
        ("measurement_source_concept_id", "INTEGER", False),
        ("unit_source_value", "VARCHAR(50)", False),
        ("unit_source_concept_id", "INTEGER", False),
        ("value_source_value", "VARCHAR(50)", False),
        ("measurement_event_id", "BIGINT", False),
        ("meas_event_field_concept_id", "INTEGER", False),
    ),
    "death": (
        ("person_id", "BIGINT", True),
        ("death_date", "DATE", True),
        ("death_datetime", "TIMESTAMP", False),
        ("death_type_concept_id", "INTEGER", False),
        ("cause_concept_id", "INTEGER", False),
        ("cause_source_value", "VARCHAR(50)", False),
        ("cause_source_concept_id", "INTEGER", False),
    ),
    "concept": (
        ("concept_id", "INTEGER", True),
        ("concept_name", "VARCHAR(255)", True),
        ("domain_id", "VARCHAR(20)", True),
        ("vocabulary_id", "VARCHAR(20)", True),
        ("concept_class_id", "VARCHAR(20)", True),
        ("standard_concept", "VARCHAR(1)", False),
        ("concept_code", "VARCHAR(50)", True),
        ("valid_start_date", "DATE", True),
        ("valid_end_date", "DATE", True),
        ("invalid_reason", "VARCHAR(1)", False),
    ),
}

_DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")


def mask_url(target: str) -> str:
    """The target with any password replaced by ``***`` (safe to print)."""
    parts = urlsplit(target)
    if parts.password is None:
        return target
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class Database:
    """An open connection: ``dialect`` is ``"duckdb"`` or ``"postgres"``."""

    dialect: str
    conn: Any
    label: str
    schema: str | None = None

    def table(self, name: str) -> exp.Table:
        """A CDM table, schema-qualified when a schema was given."""
        return exp.table_(name, db=self.schema, quoted=False)

    def sql(self, expression: exp.Expression) -> str:
        """Render a sqlglot expression in this engine's dialect."""
        return expression.sql(dialect=self.dialect)

    def query(self, expression: exp.Expression) -> pd.DataFrame:
        """Run a SELECT and return its rows as a DataFrame."""
        text = self.sql(expression)
        if self.dialect == "duckdb":
            return self.conn.execute(text).df()
        with self.conn.cursor() as cur:
            cur.execute(text)
            names = [d.name for d in cur.description]
            return pd.DataFrame.from_records(cur.fetchall(), columns=names)

    def scalar(self, expression: exp.Expression) -> Any:
        """Run a query that returns one value."""
        return self.query(expression).iloc[0, 0]

    def execute(self, statement: str) -> None:
        """Run a statement written in PostgreSQL syntax, transpiled to this dialect."""
        for text in sqlglot.transpile(statement, read="postgres", write=self.dialect):
            if self.dialect == "duckdb":
                self.conn.execute(text)
            else:
                with self.conn.cursor() as cur:
                    cur.execute(text)

    def columns(self) -> dict[str, set[str]]:
        """Lower-case column names of every table in the schema (from information_schema)."""
        schema = self.schema or ("main" if self.dialect == "duckdb" else "public")
        q = (
            sqlglot.select("table_name", "column_name")
            .from_("information_schema.columns")
            .where(exp.column("table_schema").eq(exp.Literal.string(schema)))
        )
        out: dict[str, set[str]] = {}
        for table, column in self.query(q).itertuples(index=False):
            out.setdefault(str(table).lower(), set()).add(str(column).lower())
        return out

    def load(self, table: str, frame: pd.DataFrame) -> None:
        """Append a frame to a table (columns by name; absent CDM columns stay NULL)."""
        target = self.sql(self.table(table))
        cols = ", ".join(frame.columns)
        if self.dialect == "duckdb":
            self.conn.register("_reawaken_frame", frame)
            try:
                self.conn.execute(
                    f"INSERT INTO {target} ({cols}) SELECT {cols} FROM _reawaken_frame"
                )
            finally:
                self.conn.unregister("_reawaken_frame")
            return
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S.%f")
        with (
            self.conn.cursor() as cur,
            cur.copy(f"COPY {target} ({cols}) FROM STDIN (FORMAT csv)") as copy,
        ):
            copy.write(buffer.getvalue())

    def commit(self) -> None:
        """Commit (PostgreSQL; DuckDB runs in autocommit)."""
        if self.dialect == "postgres":
            self.conn.commit()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(target: str, *, schema: str | None = None, write: bool = False) -> Database:
    """Open a DuckDB file or a PostgreSQL database.

    Parameters
    ----------
    target : str
        ``path.duckdb`` (also ``.db``/``.ddb`` or ``duckdb:///path``) or ``postgresql://...``.
    schema : str, optional
        Schema holding the CDM tables (default: DuckDB ``main``, PostgreSQL ``public``).
    write : bool, default False
        Open for writing (DuckDB files are opened read-only otherwise, and must exist).

    Returns
    -------
    Database
        The open connection.

    Raises
    ------
    InputFileError
        If the target is neither form, the DuckDB file is missing, or the server refuses the
        connection (the message masks the password).
    """
    if schema is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", schema):
        raise InputFileError(
            f"schema {schema!r} is not a plain SQL name; fix: use letters, digits and _"
        )
    scheme = urlsplit(target).scheme.lower()
    if scheme in ("postgresql", "postgres"):
        return _connect_postgres(target, schema)
    if scheme == "duckdb":  # duckdb:///relative.duckdb or duckdb:////absolute.duckdb
        target = target.split(":", 1)[1].removeprefix("///")
    elif scheme and len(scheme) > 1:
        raise InputFileError(
            f"unsupported database {mask_url(target)!r} (scheme {scheme}://); fix: give a DuckDB "
            "file (path ending .duckdb) or a postgresql://user@host/db URL"
        )
    return _connect_duckdb(target, schema, write)


def _connect_duckdb(path: str, schema: str | None, write: bool) -> Database:
    duckdb = require("duckdb", "omop")

    file = Path(path)
    if file.suffix.lower() not in _DUCKDB_SUFFIXES:
        raise InputFileError(
            f"{path} is not a DuckDB file name; fix: use a path ending in .duckdb, or a "
            "postgresql://user@host/db URL"
        )
    if not write and not file.is_file():
        raise InputFileError(
            f"no DuckDB database at {path}; fix: check the path, or create one with "
            "`reawaken omop write --scenario NAME --out FILE.duckdb`"
        )
    try:
        conn = duckdb.connect(os.fspath(file), read_only=not write)
        conn.execute("SET enable_progress_bar = false")  # it would print to stdout
    except duckdb.Error as exc:
        raise InputFileError(
            f"cannot open {path} as DuckDB ({type(exc).__name__}: {exc}); fix: check that it "
            "is a DuckDB database file not opened for writing elsewhere"
        ) from exc
    return Database("duckdb", conn, str(file), schema)


def _connect_postgres(url: str, schema: str | None) -> Database:
    psycopg = require("psycopg", "omop")

    label = mask_url(url)
    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except (psycopg.Error, ValueError) as exc:
        reason = " ".join(str(exc).split())
        password = urlsplit(url).password
        if password:
            reason = reason.replace(password, "***")
        raise InputFileError(
            f"cannot connect to {label} ({type(exc).__name__}: {reason}); fix: check the "
            "host, port, database name, user and password of the URL, and that the server runs"
        ) from exc
    return Database("postgres", conn, label, schema)
