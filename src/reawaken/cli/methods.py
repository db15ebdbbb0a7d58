"""``reawaken truth`` (defined truths of the study analyses, :mod:`reawaken.truth`) and
``reawaken methods-check`` (the ADEMP validation table, :mod:`reawaken.methods_check`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import AnalysisError
from .args import (
    REPS,
    Subparsers,
    add_executor,
    add_json,
    add_progress,
    add_seed,
    examples,
    integer,
)
from .defaults import DEFAULT_SEED, TRUTH_COHORTS, TRUTH_MULTIPLIER, TRUTH_SEED, TRUTH_VERSIONS

_EXECUTORS = ("processes", "serial")


def _names(text: str | None, allowed: tuple[str, ...] | list[str], what: str) -> list[str] | None:
    """A comma-separated subset of ``allowed`` (``None`` for all)."""
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in names if t not in allowed]
    if unknown or not names:
        raise AnalysisError(
            f"--{what}: unknown {', '.join(unknown) or '(none given)'}; fix: choose from "
            f"{', '.join(allowed)}"
        )
    return names


def cmd_truth(args: argparse.Namespace) -> int:
    from ..outputs import dumps_json
    from ..scenario import list_presets, load_scenario
    from ..truth import (
        VERSIONS,
        compare_truths,
        compute_truths,
        format_truths,
        merge_truths,
        read_truths,
        stale_truths,
        stored_truths,
        truths_path,
        write_truths,
    )

    if args.check:
        problems = stale_truths(args.scenario)
        payload = {"scenario": args.scenario, "current": not problems, "problems": problems}
        text = "\n".join(problems) or f"{args.scenario}: stored truths are current"
        print(dumps_json(payload) if args.json else text)
        return 1 if problems else 0
    if args.write and args.scenario not in list_presets():
        raise AnalysisError(
            f"--write stores the truths of a shipped preset, not {args.scenario!r}; fix: pass "
            "--out FILE.json for a scenario file"
        )
    scenario = load_scenario(args.scenario)
    table = compute_truths(
        scenario,
        versions=_names(args.versions, VERSIONS, "versions") or VERSIONS,
        analyses=_names(args.analyses, _analysis_names(), "analyses"),
        cohorts=args.cohorts,
        multiplier=args.multiplier,
        seed=args.seed,
        executor=args.executor,
        workers=args.workers,
        progress=not args.no_progress,
    )
    target = truths_path(args.scenario) if args.write else args.out
    if target is not None:
        old = read_truths(target) if Path(target).exists() else None
        write_truths(merge_truths(old, table), target, scenario.name.split(":")[0])
    shown = compare_truths(table, stored_truths())
    text = format_truths(shown) + (f"\nwrote {target}" if target is not None else "")
    payload = {"scenario": args.scenario, "truths": shown.to_dict("records")}
    print(dumps_json(payload | {"out": target}) if args.json else text)
    return 0


def _analysis_names() -> list[str]:
    from ..study.registry import study_design_names

    return list(study_design_names())


def cmd_methods_check(args: argparse.Namespace) -> int:
    from ..io import write_text_atomic
    from ..methods_check import methods_check
    from ..outputs import dumps_json
    from ..scenario import list_presets

    result = methods_check(
        _names(args.scenario, list_presets(), "scenario"),
        reps=args.reps,
        seed=args.seed,
        reduced=args.reduced,
        executor=args.executor,
        workers=args.workers,
        progress=not args.no_progress,
    )
    if args.markdown:
        write_text_atomic(args.markdown, result.to_markdown())
    payload = {
        "reps": result.reps,
        "seed": result.seed,
        "reduced": result.reduced,
        "passed": result.passed,
        "rows": result.table.to_dict("records"),
    }
    print(dumps_json(payload) if args.json else result.summary())
    return 0 if result.passed else 1


def add_truth_parser(sub: Subparsers) -> None:
    """Register ``truth``."""
    p = sub.add_parser(
        "truth",
        help="defined truth of each study analysis in a preset (and its null): what it "
        "converges to, from K cohorts of m x n persons",
        description="Compute the defined truth of each study analysis in a scenario: the mean "
        "log estimate over K independent cohorts of m x n persons (with its Monte Carlo SE), "
        "for the preset, its null and their reduced versions. Bias and coverage in "
        "`methods-check` and `stress` are measured against it.",
        epilog=examples(
            "reawaken truth --scenario flatiron_lung_mets --check",
            "reawaken truth --scenario ukb_cancer_mortality --versions reduced --cohorts 40 "
            "--multiplier 1 --out truths.json",
        ),
    )
    p.add_argument("--scenario", required=True, help="preset name or scenario .toml")
    p.add_argument(
        "--versions",
        help=f"comma-separated subset of: {','.join(TRUTH_VERSIONS)} (default: all)",
    )
    p.add_argument("--analyses", help="comma-separated study analyses (default: those that apply)")
    p.add_argument(
        "--cohorts",
        type=integer(2, example="--cohorts 400"),
        default=TRUTH_COHORTS,
        help="K, independent truth cohorts",
    )
    p.add_argument(
        "--multiplier",
        type=integer(1, 100, example="--multiplier 4"),
        default=TRUTH_MULTIPLIER,
        help="m: each truth cohort has m x n persons",
    )
    add_seed(p, TRUTH_SEED)
    p.add_argument("--write", action="store_true", help="store in the package's truth file")
    p.add_argument("--out", help="write the truths to this .json file instead")
    p.add_argument(
        "--check",
        action="store_true",
        help="only check that the stored truths belong to the current preset (exit 1 if not)",
    )
    add_executor(p, _EXECUTORS)
    add_progress(p)
    add_json(p)
    p.set_defaults(func=cmd_truth)


def add_methods_check_parser(sub: Subparsers) -> None:
    """Register ``methods-check``."""
    p = sub.add_parser(
        "methods-check",
        help="ADEMP table: bias, SEs, coverage and null rejection of every study analysis "
        "against its defined truth, with MCSEs and a validity verdict",
        description="Validate the study analyses by simulation (ADEMP, Morris, White & "
        "Crowther 2019): bias, model and empirical SEs, coverage and null rejection of every "
        "analysis against its defined truth, with Monte Carlo SEs and a verdict. Exit status "
        "1 if a check fails.",
        epilog=examples(
            "reawaken methods-check --reduced --reps 200",
            "reawaken methods-check --scenario flatiron_lung_mets --markdown methods.md",
        ),
    )
    p.add_argument("--scenario", help="comma-separated presets (default: all shipped)")
    p.add_argument("--reps", type=REPS, default=1000, help="replicate cohorts per cell")
    add_seed(p, DEFAULT_SEED)
    p.add_argument(
        "--reduced",
        action="store_true",
        help="check the reduced versions (small cohorts, scaled hazard) instead: quick",
    )
    p.add_argument("--markdown", help="also write the table as Markdown to this file")
    add_executor(p, _EXECUTORS)
    add_progress(p)
    add_json(p)
    p.set_defaults(func=cmd_methods_check)
