"""``reawaken calibrate``: a reported finding (and assumptions) -> a calibrated scenario TOML."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputFileError, ScenarioError
from ..findings import FINDING_MEASURES, list_templates
from .args import (
    PERSONS,
    REPS,
    Subparsers,
    add_checkpoint,
    add_executor,
    add_json,
    add_progress,
    add_seed,
    examples,
    integer,
    number,
    text_line,
)
from .defaults import DEFAULT_SE_TARGET, DEFAULT_SEED, DEFAULT_TEMPLATE, SE_TARGETS

if TYPE_CHECKING:
    from ..findings import ReportedFinding

_FLAGS = ("n", "followup_months", "measure", "estimate", "ci")
_POSITIVE = number(0, lo_open=True, example="1.44")
_LINE = text_line("--name")


def _finding_name(text: str) -> str:
    """One line that is also safe as a file name (a finding's name names report files)."""
    from ..outputs import check_name

    try:
        return check_name(_LINE(text), "--name")
    except InputFileError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _finding(args: argparse.Namespace) -> tuple[ReportedFinding, str]:
    """The finding and its canonical flags (empty when given by name or file)."""
    from ..findings import finding_from_dict, load_finding

    given = [f for f in _FLAGS if getattr(args, f) is not None]
    if args.finding is not None:
        if given:
            raise ScenarioError(
                f"--finding and --{given[0].replace('_', '-')} exclude each other; fix: "
                "give a finding name/file, or all of --n --followup-months --measure "
                "--estimate --ci"
            )
        return load_finding(args.finding), ""
    missing = [f for f in _FLAGS if getattr(args, f) is None]
    if missing:
        raise ScenarioError(
            f"no finding given (missing --{missing[0].replace('_', '-')}); fix: pass --finding "
            "NAME|FILE, or all of --n --followup-months --measure --estimate --ci"
        )
    lo, hi = args.ci
    data = {
        "name": args.name,
        "n": args.n,
        "followup_months": args.followup_months,
        "measure": args.measure,
        "estimate": args.estimate,
        "ci_low": lo,
        "ci_high": hi,
    }
    flags = (
        f"--name {shlex.quote(args.name)} --n {args.n} --followup-months {args.followup_months:g} "
        f"--measure {args.measure} --estimate {args.estimate:g} --ci {lo:g} {hi:g}"
    )
    return finding_from_dict(data, "command-line finding"), flags


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ..calibration import calibrate_to_finding, canonical_command
    from ..io import write_text_atomic
    from ..outputs import dumps_json

    out = Path(args.out)
    if out.suffix.lower() != ".toml":
        raise InputFileError(f"--out {out} must end in .toml; fix: name the scenario file *.toml")
    finding, flags = _finding(args)
    template = args.template or DEFAULT_TEMPLATE[finding.measure]
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
        f"implied SE(log {finding.measure}) {finding.implied_se:.4f}, information 1/SE^2 = "
        f"{implied['information']:.1f}, implied events ~{implied['events']:.0f} "
        f"({implied['events_formula']})\n"
        f"{result.summary()}\nwrote {out}"
    )
    print(dumps_json(payload) if args.json else text)
    return 0


def _add_finding_options(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("the finding: a name or file, or all of the flags below")
    src.add_argument(
        "--finding", help="shipped finding name or a finding .toml (see findings/reported/)"
    )
    src.add_argument(
        "--name", type=_finding_name, default="my_finding", help="name of a finding given by flags"
    )
    src.add_argument("--n", type=PERSONS, help="persons in the study")
    src.add_argument("--followup-months", type=_POSITIVE, help="follow-up in months")
    src.add_argument("--measure", choices=FINDING_MEASURES, help="HR or OR")
    src.add_argument("--estimate", type=_POSITIVE, help="reported ratio estimate")
    src.add_argument(
        "--ci", type=_POSITIVE, nargs=2, metavar=("LOW", "HIGH"), help="reported 95%% CI"
    )


def _add_assumption_options(p: argparse.ArgumentParser) -> None:
    templates = ", ".join(f"{v} for an {k}" for k, v in DEFAULT_TEMPLATE.items())
    p.add_argument(
        "--template",
        help=f"assumptions to calibrate: {', '.join(list_templates())} or a scenario .toml "
        f"(default: {templates})",
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
        "('empirical')",
    )


def add_calibrate_parser(sub: Subparsers) -> None:
    """Register ``calibrate``."""
    p = sub.add_parser(
        "calibrate",
        help="solve a scenario that reproduces a reported HR/OR and CI; write it as TOML",
        description="Calibrate a template scenario to a reported finding: solve the outcome "
        "baseline (CI width), the effect's log-HR scale (estimate) and the infection level "
        "(exposed share) by simulation, and write the scenario with a [calibration] record.",
        epilog=examples(
            "reawaken calibrate --finding flatiron_lung_mets --out flatiron_calibrated.toml",
            "reawaken calibrate --name my_study --n 20000 --followup-months 24 --measure HR "
            "--estimate 1.3 --ci 1.1 1.55 --out my_study.toml",
        ),
    )
    _add_finding_options(p)
    _add_assumption_options(p)
    p.add_argument("--reps", type=REPS, default=400, help="replicate cohorts per iteration")
    add_seed(p, DEFAULT_SEED)
    p.add_argument(
        "--max-iterations",
        type=integer(1, example="--max-iterations 15"),
        default=15,
        help="give up after this many iterations",
    )
    add_executor(p)
    p.add_argument("--out", required=True, help="scenario file to write (.toml, atomically)")
    add_progress(p)
    add_checkpoint(p)
    add_json(p)
    p.set_defaults(func=cmd_calibrate)
