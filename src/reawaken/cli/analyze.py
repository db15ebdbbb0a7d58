"""``reawaken analyze``: run one study design on a cohort file and write its estimates,
curves and figures (:func:`reawaken.analyze.run_analysis`)."""

from __future__ import annotations

import argparse

from ..study.registry import STUDY_DESIGNS, analyze_design_names
from .args import (
    Subparsers,
    add_json,
    add_overwrite,
    add_seed,
    examples,
    integer,
    number,
    number_list,
)
from .cohort import emit
from .defaults import DEFAULT_SEED, EVENT


def cmd_analyze(args: argparse.Namespace) -> int:
    import numpy as np

    from ..analyze import parse_match_on, run_analysis, write_analysis
    from ..io import read_cohort

    covariates = args.covariates.split(",") if args.covariates else None
    cohort = read_cohort(args.cohort, origin_date=args.origin_date, validate=False)
    exact, caliper = parse_match_on(args.match_on)
    output = run_analysis(
        cohort,
        design=args.design,
        rng=np.random.default_rng(args.seed),
        covariates=covariates,
        formula=args.formula,
        controls=args.controls,
        exact=exact,
        caliper=caliper,
        test_window_days=args.test_window,
        cause=args.cause,
        times=args.times,
        landmark=args.landmark,
        ties=args.ties,
        duration=args.duration,
        event=args.event,
        exposure=args.exposure,
    )
    paths = write_analysis(output, args.out, overwrite=args.overwrite)
    payload = {**output.to_dict(), "files": [str(p) for p in paths]}
    emit(payload, args.json, f"{output.summary()}\nwrote {len(paths)} files to {args.out}")
    return 0


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--design",
        required=True,
        choices=analyze_design_names(),
        help="; ".join(f"{d.name}: {d.summary}" for d in STUDY_DESIGNS.values() if d.analyze),
    )
    p.add_argument(
        "--covariates", help="comma-separated adjustment covariates (default: all other columns)"
    )
    p.add_argument(
        "--formula",
        help="model formula instead of --covariates, e.g. 'exposed + age + C(stage) + her2' "
        "(C() dummy coding, a:b interactions, bs(age, df=4) splines)",
    )
    p.add_argument(
        "--ties",
        choices=["efron", "breslow"],
        default="efron",
        help="tie handling of the Cox models; efron is what R's coxph uses",
    )
    p.add_argument(
        "--cause", type=integer(1, example="--cause 1"), default=1, help="event code of interest"
    )
    p.add_argument(
        "--times",
        type=number_list(number(0, example="--times 365,730"), "--times 365,730"),
        help="report the curves at these times, e.g. 365,730 (unit of the data; default: "
        "the at-risk table times)",
    )
    p.add_argument(
        "--landmark",
        type=number(0, example="--landmark 180"),
        default=180.0,
        help="landmark day of the landmark curves of time_varying_cox",
    )


def _add_matching_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--controls",
        type=integer(1, example="--controls 4"),
        default=4,
        help="controls per exposed person in matched_cox, at most 100",
    )
    p.add_argument(
        "--match-on",
        help="matching columns of matched_cox: exact names, calipers as name:width, "
        "e.g. age:2,stage,her2 (default: no matching columns)",
    )
    p.add_argument(
        "--test-window",
        type=number(0, lo_open=True, example="--test-window 14"),
        help="matched_cox: controls need a negative test within +/- DAYS of the match day "
        "(default: no test needed)",
    )
    add_seed(p, DEFAULT_SEED, "seed of the control sampling of matched_cox")


def _add_column_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--duration", help="follow-up time column of a time_fixed_cox table (required there)"
    )
    p.add_argument("--event", default=EVENT, help="event column of a time_fixed_cox table")
    p.add_argument(
        "--exposure", default="exposed", help="baseline exposure column of a time_fixed_cox table"
    )
    p.add_argument("--origin-date", help="study origin YYYY-MM-DD for files with ISO date columns")


def add_analyze_parser(sub: Subparsers) -> None:
    """Register ``analyze``."""
    p = sub.add_parser(
        "analyze",
        help="run a study design on a cohort file; write estimates, curves and figures",
        description="Run one study design on a cohort file (simulated, or your own following "
        "the cohort contract) and write the effect estimate with its CI, the curves by arm and "
        "the figures into a folder, whole or not at all.",
        epilog=examples(
            "reawaken analyze cohort.parquet --design time_varying_cox --out results",
            "reawaken analyze ukb.csv --design matched_cox --controls 4 --match-on age:5,female "
            "--test-window 14 --out matched",
        ),
    )
    p.add_argument("cohort", help="cohort file (.csv/.parquet) following the cohort contract")
    _add_model_options(p)
    _add_matching_options(p)
    _add_column_options(p)
    p.add_argument("--out", required=True, help="output folder (written whole or not at all)")
    add_overwrite(p)
    add_json(p)
    p.set_defaults(func=cmd_analyze)
