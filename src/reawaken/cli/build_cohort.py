"""``reawaken build-cohort``: dated records (per a TOML spec) -> cohort file and flow table."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputFileError
from .args import Subparsers, add_json, examples

if TYPE_CHECKING:
    from ..cohort_builder import BuiltCohort


def flow_path(out: Path, flow: str | None) -> Path:
    """Where the flow table goes: ``--flow`` or ``<out stem>_flow.csv`` beside the cohort."""
    return Path(flow) if flow else out.with_name(f"{out.stem}_flow.csv")


def check_out(out: Path) -> None:
    """Reject an output name that is not .csv or .parquet before any work is done."""
    from ..io import SUPPORTED_TABLE_EXTENSIONS

    if out.suffix.lower() not in SUPPORTED_TABLE_EXTENSIONS:
        raise InputFileError(
            f"--out {out} must end in {' or '.join(SUPPORTED_TABLE_EXTENSIONS)}; fix: rename it"
        )


def write_built(built: BuiltCohort, out: Path, flow: str | None) -> list[Path]:
    """Write the cohort and its flow table (atomically); return the paths."""
    from ..io import write_table

    return [write_table(built.data, out), write_table(built.flow, flow_path(out, flow))]


def built_payload(built: BuiltCohort, paths: list[Path]) -> dict:
    """JSON payload: flow rows, notes, counts, files."""
    import numpy as np

    flow = built.flow.replace({np.nan: None}).to_dict(orient="records")
    data = built.data
    return {
        "persons": len(data),
        "exposed": int(data["exposure_day"].notna().sum()),
        "events": {str(k): int(v) for k, v in data["event"].value_counts().sort_index().items()},
        "flow": flow,
        "notes": list(built.notes),
        "files": [str(p) for p in paths],
    }


def cmd_build_cohort(args: argparse.Namespace) -> int:
    from ..cohort_builder import build_cohort_from_spec
    from ..outputs import dumps_json

    out = Path(args.out)
    check_out(out)
    built = build_cohort_from_spec(args.spec)
    paths = write_built(built, out, args.flow)
    text = f"{built.summary()}\nwrote {paths[0]} and {paths[1]}"
    print(dumps_json(built_payload(built, paths)) if args.json else text)
    return 0


def add_build_cohort_parser(sub: Subparsers) -> None:
    """Register ``build-cohort``."""
    p = sub.add_parser(
        "build-cohort",
        help="build a cohort file from dated records (persons, tests, outcomes, deaths)",
        description="Build the cohort contract from dated record files named in a TOML spec "
        "(format and rules: docs/own-data.md); prints and saves the flow table of exclusions.",
        epilog=examples(
            "reawaken build-cohort --spec examples/own-data/study.toml --out own.parquet",
            "reawaken build-cohort --spec examples/own-data/study.toml --out own.csv "
            "--flow own_flow.csv --json",
        ),
    )
    p.add_argument("--spec", required=True, help="cohort-building spec (.toml)")
    p.add_argument("--out", required=True, help="cohort file to write, .parquet or .csv")
    p.add_argument("--flow", help="flow table file (default: <out>_flow.csv beside --out)")
    add_json(p)
    p.set_defaults(func=cmd_build_cohort)
