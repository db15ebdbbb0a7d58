"""``reawaken reproduce``: the reproduction certificate and HTML report of the reported findings
(:func:`reawaken.certificate.build_certificate`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import AnalysisError
from ..findings import list_findings
from .args import (
    Subparsers,
    add_checkpoint,
    add_executor,
    add_json,
    add_overwrite,
    add_progress,
    add_seed,
    examples,
    integer,
)
from .cohort import emit
from .defaults import DEFAULT_SEED


def _finding_names(args: argparse.Namespace) -> list[str]:
    """The findings to reproduce, checked before the long run (their names name files)."""
    from ..findings import load_finding
    from ..outputs import check_name

    names = args.finding or list_findings()
    if args.scenario is not None and len(names) != 1:
        raise AnalysisError(
            "--scenario needs exactly one --finding (the finding it reproduces); fix: pass "
            "--finding NAME|FILE once"
        )
    for name in names:
        check_name(load_finding(name).name, f"finding name (in {name})")
    return names


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ..certificate import build_certificate
    from ..outputs import output_directory
    from ..report.document import write_report

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
        for name in _finding_names(args)
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
    emit(payload, args.json, text)
    return 0 if all(c.passed for c in certificates) else 1


def add_reproduce_parser(sub: Subparsers) -> None:
    """Register ``reproduce``."""
    p = sub.add_parser(
        "reproduce",
        help="reproduction certificate and HTML report of the reported findings",
        description="Reproduce each reported finding from its scenario: the estimate and CI "
        "over replicate cohorts, honest inference (coverage, null rejection), a power curve "
        "and the bias battery, as a certificate table and an HTML report. Exit status 1 if a "
        "certificate is out of tolerance.",
        epilog=examples(
            "reawaken reproduce",
            "reawaken reproduce --finding ukb_cancer_mortality --reps 200 --out report_ukb",
        ),
    )
    p.add_argument(
        "--finding",
        action="append",
        help=f"finding to reproduce: {', '.join(list_findings())} or a finding .toml "
        "(repeatable; default: all shipped)",
    )
    p.add_argument(
        "--scenario",
        help="scenario reproducing the finding, e.g. a file written by `reawaken calibrate` "
        "(default: the finding's preset)",
    )
    add_seed(p, DEFAULT_SEED)
    at_least_2 = integer(2, example="--reps 600")
    p.add_argument("--reps", type=at_least_2, default=600, help="replicate cohorts per finding")
    p.add_argument(
        "--power-reps", type=at_least_2, default=40, help="replicates per power-curve point"
    )
    p.add_argument(
        "--stress-reps", type=at_least_2, default=10, help="replicates per bias-battery cell"
    )
    add_executor(p, workers=False)
    add_checkpoint(p)
    p.add_argument("--out", default="report", help="report folder (written whole or not at all)")
    add_overwrite(p)
    add_progress(p)
    add_json(p)
    p.set_defaults(func=cmd_reproduce)
