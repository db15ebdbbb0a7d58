"""``reawaken truth`` (defined truths of the study analyses) and ``reawaken methods-check`` (the
ADEMP validation table); kept apart from :mod:`reawaken.cli`, which registers them."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import AnalysisError
from ..io import write_text_atomic
from ..outputs import dumps_json
from ..scenario import list_presets, load_scenario
from .args import REPS, SEED, WORKERS, integer

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
    from ..methods_check import methods_check

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


def add_truth_parser(sub) -> None:
    """Register ``truth``."""
    from ..truth import DEFAULT_COHORTS, DEFAULT_MULTIPLIER, TRUTH_SEED

    p = sub.add_parser(
        "truth",
        help="defined truth of each study analysis in a preset (and its null): what it "
        "converges to, from K cohorts of m x n persons",
    )
    p.add_argument("--scenario", required=True, help="preset name or scenario .toml")
    p.add_argument("--versions", help="comma-separated: preset,null,reduced,reduced-null (all)")
    p.add_argument("--analyses", help="comma-separated study analyses (default: those applying)")
    p.add_argument(
        "--cohorts",
        type=integer(2, example="--cohorts 400"),
        default=DEFAULT_COHORTS,
        help="K, independent truth cohorts (default %(default)s)",
    )
    p.add_argument(
        "--multiplier",
        type=integer(1, 100, example="--multiplier 4"),
        default=DEFAULT_MULTIPLIER,
        help="m, each truth cohort has m x n persons (default %(default)s)",
    )
    p.add_argument("--seed", type=SEED, default=TRUTH_SEED, help="root seed (default %(default)s)")
    p.add_argument("--write", action="store_true", help="store in the package's truth file")
    p.add_argument("--out", help="write the truths to this .json file instead")
    p.add_argument(
        "--check",
        action="store_true",
        help="only check that the stored truths belong to the current preset (exit 1 if not)",
    )
    p.add_argument("--executor", choices=_EXECUTORS, default="processes")
    p.add_argument("--workers", type=WORKERS, help="worker processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_truth)


def add_methods_check_parser(sub, default_seed: int) -> None:
    """Register ``methods-check``."""
    p = sub.add_parser(
        "methods-check",
        help="ADEMP table: bias, SEs, coverage and null rejection of every study analysis "
        "against its defined truth, with MCSEs and a validity verdict",
    )
    p.add_argument("--scenario", help="comma-separated presets (default: all shipped)")
    p.add_argument(
        "--reps", type=REPS, default=1000, help="replicates per cell (default %(default)s)"
    )
    p.add_argument(
        "--seed", type=SEED, default=default_seed, help="root seed (default %(default)s)"
    )
    p.add_argument(
        "--reduced",
        action="store_true",
        help="check the reduced versions (small cohorts, scaled hazard) instead: quick",
    )
    p.add_argument("--markdown", help="also write the table as Markdown to this file")
    p.add_argument("--executor", choices=_EXECUTORS, default="processes")
    p.add_argument("--workers", type=WORKERS, help="worker processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_methods_check)
