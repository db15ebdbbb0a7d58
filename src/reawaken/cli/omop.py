"""``reawaken omop write|extract``: a simulated cohort as an OMOP CDM, and a study cohort
extracted from a CDM (DuckDB file or PostgreSQL URL)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputFileError
from .args import PERSONS, SEED, Subparsers, add_json, examples
from .build_cohort import built_payload, check_out, write_built
from .defaults import DEFAULT_SEED


def cmd_omop_write(args: argparse.Namespace) -> int:
    import numpy as np

    from ..omop import day_rounded, list_studies, load_study, mask_url, write_omop
    from ..outputs import dumps_json
    from ..scenario import load_scenario
    from ..simulate.cohort import simulate_cohort

    scenario = load_scenario(args.scenario)
    study_name = args.study or scenario.name
    if args.study is None and study_name not in list_studies():
        raise InputFileError(
            f"scenario {scenario.name} has no shipped OMOP study; fix: pass --study FILE.toml "
            f"with its concept sets (shipped: {', '.join(list_studies())})"
        )
    study = load_study(study_name)
    cohort = simulate_cohort(scenario, np.random.default_rng(args.seed), n=args.n).data
    counts = write_omop(
        day_rounded(cohort), study, args.out, db_schema=args.schema, replace=args.replace
    )
    where = mask_url(args.out)
    payload = {
        "scenario": scenario.name,
        "study": study.name,
        "seed": args.seed,
        "out": where,
        "rows": counts,
    }
    rows = ", ".join(f"{table} {n:,}" for table, n in counts.items())
    text = f"wrote OMOP CDM v5.4 tables of {scenario.name} (seed {args.seed}) to {where}: {rows}"
    print(dumps_json(payload) if args.json else text)
    return 0


def cmd_omop_extract(args: argparse.Namespace) -> int:
    from ..omop import extract_cohort, mask_url
    from ..outputs import dumps_json

    out = Path(args.out)
    check_out(out)
    built = extract_cohort(args.db, args.study, db_schema=args.schema)
    paths = write_built(built, out, args.flow)
    payload = {"db": mask_url(args.db), "study": str(args.study), **built_payload(built, paths)}
    text = f"{built.summary()}\nwrote {paths[0]} and {paths[1]}"
    print(dumps_json(payload) if args.json else text)
    return 0


def _add_write_parser(omop: Subparsers) -> None:
    w = omop.add_parser(
        "write",
        help="simulate a scenario and write it as OMOP CDM v5.4 tables",
        description="Simulate a scenario and write the cohort as OMOP CDM v5.4 tables (person, "
        "observation_period, measurement, condition_occurrence, death, ...) into a DuckDB file "
        "or a PostgreSQL database, coded with the study's concept sets.",
        epilog=examples(
            "reawaken omop write --scenario flatiron_lung_mets --n 2000 --out cdm.duckdb",
            "reawaken omop write --scenario ukb_cancer_mortality --n 2000 --out ukb_cdm.duckdb",
        ),
    )
    w.add_argument("--scenario", required=True, help="preset name or scenario .toml")
    w.add_argument("--seed", type=SEED, default=DEFAULT_SEED, help="random seed")
    w.add_argument("--n", type=PERSONS, help="persons (default: the scenario's n)")
    w.add_argument(
        "--study", help="study (concept sets) .toml (default: the shipped study of the scenario)"
    )
    w.add_argument("--out", required=True, help="FILE.duckdb or postgresql://user@host/db")
    w.add_argument(
        "--schema",
        help="database schema for the tables, created if needed (default: main in DuckDB, "
        "public in PostgreSQL)",
    )
    w.add_argument(
        "--replace", action="store_true", help="PostgreSQL: drop CDM tables already in the schema"
    )
    add_json(w)
    w.set_defaults(func=cmd_omop_write)


def _add_extract_parser(omop: Subparsers) -> None:
    e = omop.add_parser(
        "extract",
        help="build a study cohort file from an OMOP CDM database",
        description="Extract a study cohort from an OMOP CDM database (DuckDB file or "
        "PostgreSQL URL) with the study's concept sets, and write the cohort file and its flow "
        "table of exclusions.",
        epilog=examples(
            "reawaken omop extract --db cdm.duckdb --study flatiron_lung_mets "
            "--out omop_cohort.parquet",
            "reawaken omop extract --db ukb_cdm.duckdb --study ukb_cancer_mortality "
            "--out ukb_omop.csv --json",
        ),
    )
    e.add_argument("--db", required=True, help="FILE.duckdb or postgresql://user@host/db")
    e.add_argument(
        "--study",
        required=True,
        help="shipped study (flatiron_lung_mets, ukb_cancer_mortality) or .toml",
    )
    e.add_argument(
        "--schema",
        help="schema holding the CDM tables (default: main in DuckDB, public in PostgreSQL)",
    )
    e.add_argument("--out", required=True, help="cohort file to write, .parquet or .csv")
    e.add_argument("--flow", help="flow table file (default: <out>_flow.csv beside --out)")
    add_json(e)
    e.set_defaults(func=cmd_omop_extract)


def add_omop_parser(sub: Subparsers) -> None:
    """Register ``omop write`` and ``omop extract``."""
    p = sub.add_parser(
        "omop",
        help="OMOP CDM: write a simulated CDM, extract a study cohort",
        description="Work with the OMOP Common Data Model (v5.4): write a simulated cohort as a "
        "CDM, or extract a study cohort from a CDM. Needs pip install 'reawaken[omop]'.",
        epilog=examples(
            "reawaken omop write --scenario flatiron_lung_mets --n 2000 --out cdm.duckdb",
            "reawaken omop extract --db cdm.duckdb --study flatiron_lung_mets "
            "--out omop_cohort.parquet",
        ),
    )
    omop = p.add_subparsers(
        dest="omop_command", required=True, title="subcommands", metavar="SUBCOMMAND"
    )
    _add_write_parser(omop)
    _add_extract_parser(omop)
