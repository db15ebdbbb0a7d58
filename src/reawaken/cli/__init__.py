"""Command-line interface: thin subcommands over the public API.

Every command has ``--help``; every command that prints results takes ``--json`` (strict JSON:
NaN is ``null``). Bad input exits with status 2 and one line on stderr saying what is wrong and
how to fix it (with ``--json``: ``{"error": ..., "fix": ...}`` on stdout); the exit statuses are
:data:`reawaken.errors.EXIT_CODES` (see :mod:`reawaken.cli.run`). Output folders are written
whole or not at all (:func:`reawaken.outputs.output_directory`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .. import __version__, schema
from ..errors import EXIT_CODES, AnalysisError, CohortError, InputFileError
from ..findings import list_findings, load_finding
from ..io import read_cohort, write_table
from ..outputs import check_name, dumps_json, output_directory
from ..scenario import list_presets, load_scenario
from ..simulate.cohort import DEFAULT_SEED, simulate_cohort
from ..study.registry import STUDY_DESIGNS, analyze_design_names
from .args import CHECKPOINT_HELP, PERSONS, SEED, integer, number, number_list
from .build_cohort import add_build_cohort_parser
from .calibrate import add_calibrate_parser
from .methods import add_methods_check_parser, add_truth_parser
from .omop import add_omop_parser
from .power import add_power_parser
from .run import UsageError, report_bad_input, run_command
from .stress import add_stress_parser

PROGRESS_MIN_PERSONS = 200_000


class _Parser(argparse.ArgumentParser):
    """argparse whose errors raise :class:`~reawaken.cli.run.UsageError` (exit status 2,
    one line, or JSON with ``--json``)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, self.prog)


def _emit(payload: object, as_json: bool, text: str) -> None:
    print(dumps_json(payload) if as_json else text)


def _epilog() -> str:
    codes = "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES.items())
    return f"exit status:\n{codes}"


def _cohort_counts(data) -> dict[str, int]:
    counts = data[schema.EVENT].value_counts()
    return {
        "persons": len(data),
        "exposed": int(data[schema.EXPOSURE_DAY].notna().sum()),
        "events_outcome": int(counts.get(1, 0)),
        "events_competing": int(counts.get(2, 0)),
        "censored": int(counts.get(0, 0)),
    }


def cmd_scenarios(args: argparse.Namespace) -> int:
    rows = []
    for name in list_presets():
        sc = load_scenario(name)
        rows.append(
            {"name": name, "n": sc.n, "description": sc.description, "effect": sc.effect.describe()}
        )
    text = "\n".join(f"{r['name']:<24} n={r['n']:<7,} {r['description']}" for r in rows)
    _emit(rows, args.json, text)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
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
    payload = {
        "scenario": scenario.name,
        "seed": args.seed,
        "out": str(out),
        **_cohort_counts(cohort.data),
    }
    _emit(payload, args.json, f"{cohort.summary()} -> {out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
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
    _emit(
        {"file": args.file, "valid": True, **check.to_dict()},
        args.json,
        f"{args.file}: valid cohort: {check.summary()}",
    )
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ..report.certificate import build_certificate
    from ..report.document import write_report

    names = args.finding or list_findings()
    if args.scenario is not None and len(names) != 1:
        raise AnalysisError(
            "--scenario needs exactly one --finding (the finding it reproduces); fix: pass "
            "--finding NAME|FILE once"
        )
    for name in names:  # fail before the long run: finding names become file names
        check_name(load_finding(name).name, f"finding name (in {name})")
    certificates = [
        build_certificate(
            name,
            scenario=args.scenario,
            reps=args.reps,
            seed=args.seed,
            power_reps=args.power_reps,
            stress_reps=args.stress_reps,
            executor=args.executor,
            progress=not args.no_progress,
            checkpoint=args.checkpoint,
        )
        for name in names
    ]
    with output_directory(args.out, overwrite=args.overwrite) as folder:
        paths = write_report(
            certificates, folder, seed=args.seed, reps=args.reps, progress=not args.no_progress
        )
    payload = [
        {
            "finding": c.finding.name,
            "passed": c.passed,
            "certificate": c.rows.to_dict(orient="records"),
        }
        for c in certificates
    ]
    text = "\n".join(c.summary() for c in certificates)
    text += f"\nreport: {Path(args.out) / 'index.html'} ({len(paths)} files)"
    _emit(payload, args.json, text)
    return 0 if all(c.passed for c in certificates) else 1


def cmd_analyze(args: argparse.Namespace) -> int:
    from ..analyze import parse_match_on, run_analysis, write_analysis

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
    _emit(payload, args.json, f"{output.summary()}\nwrote {len(paths)} files to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reawaken",
        description=__doc__.splitlines()[0],
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reawaken {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("scenarios", help="list the shipped scenario presets")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_scenarios)

    p = sub.add_parser("simulate", help="simulate a cohort from a preset or scenario file")
    p.add_argument("--scenario", required=True, help="preset name (see `scenarios`) or .toml path")
    p.add_argument(
        "--seed", type=SEED, default=DEFAULT_SEED, help="random seed (default %(default)s)"
    )
    p.add_argument("--n", type=PERSONS, help="cohort size (default: the scenario's n)")
    p.add_argument(
        "--out", required=True, help="output file, .parquet or .csv (written atomically)"
    )
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("validate", help="check a cohort file (.csv/.parquet) against the contract")
    p.add_argument("file", help="cohort file; *_date columns need --origin-date")
    p.add_argument("--origin-date", help="study origin YYYY-MM-DD for files with ISO date columns")
    p.add_argument("--covariates", help="comma-separated covariate columns (default: all others)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("analyze", help="run a study design on a cohort file; write estimates")
    p.add_argument("cohort", help="cohort file (.csv/.parquet) following the contract")
    p.add_argument(
        "--design",
        required=True,
        choices=analyze_design_names(),
        help="; ".join(f"{d.name}: {d.summary}" for d in STUDY_DESIGNS.values() if d.analyze),
    )
    p.add_argument(
        "--formula",
        help="model formula instead of --covariates, e.g. 'exposed + age + C(stage) + her2' "
        "(C() dummy coding, a:b interactions, bs(age, df=4) splines)",
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
        help="landmark day of the landmark curves (time-varying; default %(default)g)",
    )
    p.add_argument(
        "--ties",
        choices=["efron", "breslow"],
        default="efron",
        help="tie handling of the Cox models (default efron, as R's coxph)",
    )
    p.add_argument("--duration", help="follow-up time column (time-fixed)")
    p.add_argument(
        "--event", default=schema.EVENT, help="event column (time-fixed; default %(default)s)"
    )
    p.add_argument(
        "--exposure",
        default="exposed",
        help="baseline exposure column (time-fixed; default %(default)s)",
    )
    p.add_argument(
        "--controls",
        type=integer(1, example="--controls 4"),
        default=4,
        help="controls per exposed, at most 100 (matched; default %(default)s)",
    )
    p.add_argument(
        "--match-on",
        help="matching columns: exact names, caliper as name:width, e.g. age:2,stage,her2",
    )
    p.add_argument(
        "--test-window",
        type=number(0, lo_open=True, example="--test-window 14"),
        help="negative test within +/- DAYS (matched)",
    )
    p.add_argument("--covariates", help="comma-separated covariates (default: all others)")
    p.add_argument(
        "--cause",
        type=integer(1, example="--cause 1"),
        default=1,
        help="event code of interest (default 1)",
    )
    p.add_argument("--origin-date", help="study origin YYYY-MM-DD for ISO date columns")
    p.add_argument(
        "--seed",
        type=SEED,
        default=DEFAULT_SEED,
        help="seed for control sampling (default %(default)s)",
    )
    p.add_argument("--out", required=True, help="output folder (written whole or not at all)")
    add_overwrite(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_analyze)

    add_power_parser(sub, _Parser, DEFAULT_SEED)
    add_stress_parser(sub, DEFAULT_SEED)
    add_calibrate_parser(sub, DEFAULT_SEED)
    add_build_cohort_parser(sub)
    add_omop_parser(sub, DEFAULT_SEED)
    add_truth_parser(sub)
    add_methods_check_parser(sub, DEFAULT_SEED)

    p = sub.add_parser(
        "reproduce", help="reproduction certificate and report for the reported findings"
    )
    p.add_argument(
        "--finding",
        action="append",
        help=f"finding to reproduce: {', '.join(list_findings())} or a finding .toml "
        "(repeatable; default: all shipped)",
    )
    p.add_argument(
        "--scenario",
        help="scenario reproducing the finding (default: its preset), e.g. a file written by "
        "`reawaken calibrate`",
    )
    p.add_argument(
        "--seed", type=SEED, default=DEFAULT_SEED, help="random seed (default %(default)s)"
    )
    at_least_2 = integer(2, example="--reps 600")
    p.add_argument(
        "--reps", type=at_least_2, default=600, help="replicates per finding (default 600)"
    )
    p.add_argument(
        "--power-reps", type=at_least_2, default=40, help="replicates per power-curve point"
    )
    p.add_argument(
        "--stress-reps",
        type=at_least_2,
        default=10,
        help="replicates per stress-battery cell (default 10)",
    )
    p.add_argument("--executor", choices=["processes", "serial"], default="processes")
    p.add_argument("--checkpoint", metavar="DIR", help=CHECKPOINT_HELP)
    p.add_argument("--out", default="report", help="report folder (default: report)")
    add_overwrite(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_reproduce)
    return parser


def add_overwrite(p: argparse.ArgumentParser) -> None:
    """The ``--overwrite`` flag of commands that write an output folder."""
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out folder (default: refuse)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reawaken`` console script; returns the exit status
    (:data:`reawaken.errors.EXIT_CODES`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        command = next((a for a in argv if not a.startswith("-")), "")
        return report_bad_input(command, exc, as_json)
    sub = [str(v) for k, v in vars(args).items() if k.endswith("_command") and v]
    return run_command(" ".join([args.command, *sub]), lambda: args.func(args), as_json)

