"""``reawaken scenarios|simulate|validate``: the shipped presets, a simulated cohort file and the
check of a cohort file against the cohort contract (:mod:`reawaken.schema`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CohortError, InputFileError
from .args import PERSONS, Subparsers, add_json, add_progress, add_seed, examples
from .defaults import DEFAULT_SEED

if TYPE_CHECKING:
    import pandas as pd

#: Cohorts at least this large show a progress bar while they are simulated.
PROGRESS_MIN_PERSONS = 200_000


def emit(payload: object, as_json: bool, text: str) -> None:
    """Print ``payload`` as strict JSON, or ``text``."""
    from ..outputs import dumps_json

    print(dumps_json(payload) if as_json else text)


def cohort_counts(data: pd.DataFrame) -> dict[str, int]:
    """Persons, exposed persons, outcome and competing events and censored persons."""
    from .. import schema

    counts = data[schema.EVENT].value_counts()
    return {
        "persons": len(data),
        "exposed": int(data[schema.EXPOSURE_DAY].notna().sum()),
        "events_outcome": int(counts.get(1, 0)),
        "events_competing": int(counts.get(2, 0)),
        "censored": int(counts.get(0, 0)),
    }


def cmd_scenarios(args: argparse.Namespace) -> int:
    from ..scenario import list_presets, load_scenario

    rows = []
    for name in list_presets():
        sc = load_scenario(name)
        rows.append(
            {"name": name, "n": sc.n, "description": sc.description, "effect": sc.effect.describe()}
        )
    text = "\n".join(f"{r['name']:<24} n={r['n']:<7,} {r['description']}" for r in rows)
    emit(rows, args.json, text)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    import numpy as np

    from ..io import write_table
    from ..scenario import load_scenario
    from ..simulate.cohort import simulate_cohort

    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise InputFileError(f"--out {out} must end in .parquet or .csv; fix: pick one of those")
    scenario = load_scenario(args.scenario)
    if args.n is not None:
        scenario = scenario.with_n(args.n)
    cohort = simulate_cohort(
        scenario,
        np.random.default_rng(args.seed),
        progress=not args.no_progress and scenario.n >= PROGRESS_MIN_PERSONS,
    )
    write_table(cohort.data, out)
    payload = {"scenario": scenario.name, "seed": args.seed, "out": str(out)}
    payload |= cohort_counts(cohort.data)
    emit(payload, args.json, f"{cohort.summary()} -> {out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from .. import schema
    from ..io import read_cohort

    covariates = args.covariates.split(",") if args.covariates else None
    data = read_cohort(args.file, origin_date=args.origin_date, validate=False)
    try:
        check = schema.validate_cohort(data, covariates=covariates)
    except CohortError as exc:
        count = len(exc.problems)
        raise CohortError(
            [
                f"{args.file} is not a valid cohort ({count} problem{'s' * (count > 1)}):",
                *exc.problems,
            ]
        ) from None
    emit(
        {"file": args.file, "valid": True, **check.to_dict()},
        args.json,
        f"{args.file}: valid cohort: {check.summary()}",
    )
    return 0


def add_scenarios_parser(sub: Subparsers) -> None:
    """Register ``scenarios``."""
    p = sub.add_parser(
        "scenarios",
        help="list the shipped scenarios (simulation presets of the two findings)",
        description="List the shipped scenario presets: name, cohort size and what each "
        "mirrors. A scenario is a TOML file; `simulate --scenario` takes a name or a file.",
        epilog=examples("reawaken scenarios", "reawaken scenarios --json"),
    )
    add_json(p)
    p.set_defaults(func=cmd_scenarios)


def add_simulate_parser(sub: Subparsers) -> None:
    """Register ``simulate``."""
    p = sub.add_parser(
        "simulate",
        help="simulate a cohort file from a scenario",
        description="Simulate one cohort of a scenario (one row per person: entry, "
        "documented infection, event day and code, covariates) and write it as a table that "
        "`validate` and `analyze` read.",
        epilog=examples(
            "reawaken simulate --scenario flatiron_lung_mets --n 5000 --out cohort.parquet",
            "reawaken simulate --scenario ukb_cancer_mortality --n 5000 --seed 7 --out ukb.csv",
        ),
    )
    p.add_argument(
        "--scenario", required=True, help="preset name (see `reawaken scenarios`) or .toml file"
    )
    add_seed(p, DEFAULT_SEED)
    p.add_argument("--n", type=PERSONS, help="cohort size (default: the scenario's n)")
    p.add_argument(
        "--out", required=True, help="output file, .parquet or .csv (written atomically)"
    )
    add_progress(p)
    add_json(p)
    p.set_defaults(func=cmd_simulate)


def add_validate_parser(sub: Subparsers) -> None:
    """Register ``validate``."""
    p = sub.add_parser(
        "validate",
        help="check a cohort file (.csv/.parquet) against the cohort contract",
        description="Check a cohort file against the cohort contract (docs/own-data.md): "
        "required columns, types, day order, event codes. Exit status 0 if valid, 2 with "
        "every problem listed if not.",
        epilog=examples("reawaken validate cohort.parquet", "reawaken validate ukb.csv --json"),
    )
    p.add_argument("file", help="cohort file; *_date columns need --origin-date")
    p.add_argument("--origin-date", help="study origin YYYY-MM-DD for files with ISO date columns")
    p.add_argument(
        "--covariates", help="comma-separated covariate columns (default: all other columns)"
    )
    add_json(p)
    p.set_defaults(func=cmd_validate)
