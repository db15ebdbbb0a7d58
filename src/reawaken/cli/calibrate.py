"""``reawaken calibrate``: a reported finding (and assumptions) -> a calibrated scenario TOML."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from ..calibration import (
    DEFAULT_SE_TARGET,
    DEFAULT_TEMPLATE,
    SE_TARGETS,
    calibrate_to_finding,
    canonical_command,
)
from ..errors import InputFileError, ScenarioError
from ..findings import ESTIMANDS, ReportedFinding, finding_from_dict, list_templates, load_finding
from ..io import write_text_atomic
from ..outputs import check_name, dumps_json
from .args import CHECKPOINT_HELP, PERSONS, REPS, SEED, WORKERS, integer, number, text_line

_FLAGS = ("n", "followup_months", "estimand", "estimate", "ci")
_POSITIVE = number(0, lo_open=True, example="1.44")
_LINE = text_line("--name")


def _finding_name(text: str) -> str:
    """One line that is also safe as a file name (a finding's name names report files)."""
    try:
        return check_name(_LINE(text), "--name")
    except InputFileError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _finding(args: argparse.Namespace) -> tuple[ReportedFinding, str]:
    """The finding and its canonical flags (empty when given by name or file)."""
    given = [f for f in _FLAGS if getattr(args, f) is not None]
    if args.finding is not None:
        if given:
            raise ScenarioError(
                f"--finding and --{given[0].replace('_', '-')} exclude each other; fix: "
                "give a finding name/file, or all of --n --followup-months --estimand "
                "--estimate --ci"
            )
        return load_finding(args.finding), ""
    missing = [f for f in _FLAGS if getattr(args, f) is None]
    if missing:
        raise ScenarioError(
            f"no finding given (missing --{missing[0].replace('_', '-')}); fix: pass --finding "
            "NAME|FILE, or all of --n --followup-months --estimand --estimate --ci"
        )
    lo, hi = args.ci
    data = {
        "name": args.name,
        "n": args.n,
        "followup_months": args.followup_months,
        "estimand": args.estimand,
        "estimate": args.estimate,
        "ci_low": lo,
        "ci_high": hi,
    }
    flags = (
        f"--name {shlex.quote(args.name)} --n {args.n} --followup-months {args.followup_months:g} "
        f"--estimand {args.estimand} --estimate {args.estimate:g} --ci {lo:g} {hi:g}"
    )
    return finding_from_dict(data, "command-line finding"), flags


def cmd_calibrate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".toml":
        raise InputFileError(f"--out {out} must end in .toml; fix: name the scenario file *.toml")
    finding, flags = _finding(args)
    template = args.template or DEFAULT_TEMPLATE[finding.estimand]
    command = canonical_command(
        args.finding or finding.name,
        template,
        reps=args.reps,
        seed=args.seed,
        exposed_share=args.exposed_share,
        effect_shape=args.effect_shape,
        finding_flags=flags,
        se_target=args.se_target,
    )
    result = calibrate_to_finding(
        template,
        finding,
        exposed_share=args.exposed_share,
        effect_shape=args.effect_shape,
        reps=args.reps,
        seed=args.seed,
        executor=args.executor,
        workers=args.workers,
        max_iterations=args.max_iterations,
        command=command,
        progress=not args.no_progress,
        se_target=args.se_target,
        checkpoint=args.checkpoint,
    )
    write_text_atomic(out, result.text)
    implied = result.implied
    payload = {
        "finding": finding.name,
        "file": str(out),
        "implied_se": finding.implied_se,
        "implied_information": implied["information"],
        "implied_events": implied["events"],
        "implied_events_formula": implied["events_formula"],
        "calibration": dict(result.record),
        "history": result.history.to_dict(orient="records"),
    }
    text = (
        f"{finding.summary()}\n"
        f"implied SE(log {finding.estimand}) {finding.implied_se:.4f}, information 1/SE^2 = "
        f"{implied['information']:.1f}, implied events ~{implied['events']:.0f} "
        f"({implied['events_formula']})\n"
        f"{result.summary()}\nwrote {out}"
    )
    print(dumps_json(payload) if args.json else text)
    return 0


def add_calibrate_parser(sub, default_seed: int) -> None:
    p = sub.add_parser(
        "calibrate",
        help="solve a scenario that reproduces a reported HR/OR and CI; write it as TOML",
        description="Calibrate a template scenario to a reported finding: solve the outcome "
        "baseline (CI width), the effect's log-HR scale (estimate) and the infection level "
        "(exposed share) by simulation, and write the scenario with a [calibration] record.",
    )
    src = p.add_argument_group("the finding: a name/file, or the flags below")
    src.add_argument(
        "--finding", help="shipped finding name or a finding .toml (see findings/reported/)"
    )
    src.add_argument(
        "--name", type=_finding_name, default="my_finding", help="name of a finding given by flags"
    )
    src.add_argument("--n", type=PERSONS, help="persons in the study")
    src.add_argument("--followup-months", type=_POSITIVE, help="follow-up in months")
    src.add_argument("--estimand", choices=ESTIMANDS, help="HR or OR")
    src.add_argument("--estimate", type=_POSITIVE, help="reported ratio estimate")
    src.add_argument(
        "--ci", type=_POSITIVE, nargs=2, metavar=("LOW", "HIGH"), help="reported 95%% CI"
    )
    p.add_argument(
        "--template",
        help=f"assumptions to calibrate: {', '.join(list_templates())} or a scenario .toml "
        "(default: time_varying_cohort for an HR, matched_test_negative for an OR)",
    )
    p.add_argument(
        "--exposed-share",
        type=number(0, 1, lo_open=True, hi_open=True, example="--exposed-share 0.25"),
        help="assumed share of persons with a documented exposure, in (0, 1) "
        "(default: keep the template's infection rates)",
    )
    p.add_argument(
        "--effect-shape",
        help="relative log-HR by window start day, e.g. 0:1,90:0.45,365:0.15 "
        "(default: the template's effect profile)",
    )
    p.add_argument(
        "--se-target",
        choices=SE_TARGETS,
        default=DEFAULT_SE_TARGET,
        help="match the reported SE by the replicates' median model-based SE ('model': what a "
        "study printing a model-based CI reported) or by the empirical SD of their estimates "
        "('empirical'); default %(default)s",
    )
    p.add_argument("--reps", type=REPS, default=400, help="replicates per iteration (default 400)")
    p.add_argument("--seed", type=SEED, default=default_seed, help="seed (default %(default)s)")
    p.add_argument(
        "--max-iterations",
        type=integer(1, example="--max-iterations 15"),
        default=15,
        help="give up after (default 15)",
    )
    p.add_argument("--executor", choices=["processes", "serial", "dask"], default="processes")
    p.add_argument("--workers", type=WORKERS, help="worker processes (default: all cores)")
    p.add_argument("--out", required=True, help="scenario file to write (.toml, atomically)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--checkpoint", metavar="DIR", help=CHECKPOINT_HELP)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_calibrate)
