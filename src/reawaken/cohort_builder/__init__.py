"""Cohort builder: from dated records (persons, tests, outcomes, deaths, last contacts) to the
cohort contract of :mod:`reawaken.schema`, with a flow table of exclusions.

* :func:`build_cohort` — the builder (rules in :mod:`reawaken.cohort_builder.builder`);
* :class:`Records` — one table of dated records and the names of its columns;
* :func:`build_cohort_from_spec` — the same from a TOML spec naming files and columns
  (format in :mod:`reawaken.cohort_builder.spec`), as ``reawaken build-cohort --spec`` runs it.
"""

from .builder import PREVALENT_EXPOSURE_RULES, BuiltCohort, build_cohort
from .records import Records
from .spec import build_cohort_from_spec, read_spec

__all__ = [
    "PREVALENT_EXPOSURE_RULES",
    "BuiltCohort",
    "Records",
    "build_cohort",
    "build_cohort_from_spec",
    "read_spec",
]
