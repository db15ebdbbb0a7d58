"""``reawaken stress``: the bias battery with tipping points, E-values and a figure
(:func:`reawaken.sensitivity.stress.run_battery`)."""

from __future__ import annotations

import argparse

from ..errors import AnalysisError
from ..findings import list_findings
from .args import (
    PERSONS,
    REPS,
    Subparsers,
    add_checkpoint,
    add_executor,
    add_json,
    add_overwrite,
    add_progress,
    add_seed,
    examples,
)
from .defaults import DEFAULT_SEED, MECHANISMS


def _mechanisms(text: str | None) -> list[str] | None:
    if not text:
        return None
    mechanisms = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in mechanisms if m not in MECHANISMS]
    if unknown or not mechanisms:
        raise AnalysisError(
            f"--mechanisms: unknown {', '.join(unknown) or '(none given)'}; fix: choose from "
            f"{', '.join(MECHANISMS)}"
        )
    return mechanisms


def cmd_stress(args: argparse.Namespace) -> int:
    from ..findings import load_finding
    from ..io import write_table, write_text_atomic
    from ..outputs import dumps_json, output_directory
    from ..report.figures import save_figure
    from ..report.stress_plots import plot_stress
    from ..scenario import load_scenario_for_finding
    from ..sensitivity.evalue import evalue_for_finding
    from ..sensitivity.stress import run_battery

    if args.scheduler is not None and args.executor != "dask":
        raise AnalysisError("--scheduler needs --executor dask; fix: add --executor dask")
    finding = load_finding(args.finding)
    result = run_battery(
        load_scenario_for_finding(args.finding, args.scenario),
        finding,
        reps=args.reps,
        seed=args.seed,
        mechanisms=_mechanisms(args.mechanisms),
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        n=args.n,
        progress=not args.no_progress,
        checkpoint=args.checkpoint,
    )
    ev = evalue_for_finding(finding)
    payload = {
        "finding": finding.name,
        "reps": args.reps,
        "tipping_points": result.tipping_points.to_dict(orient="records"),
        "evalue": ev.to_dict(),
    }
    figure = plot_stress(
        result.table, reported=finding.estimate, title=f"Bias battery: {finding.title}"
    )
    with output_directory(args.out, overwrite=args.overwrite) as out:
        write_table(result.table, out / "stress_battery.csv")
        write_table(result.tipping_points, out / "tipping_points.csv")
        write_text_atomic(out / "stress.json", dumps_json(payload) + "\n")
        save_figure(figure, out / "stress")
    text = result.summary() + "\n" + ev.summary() + f"\nwrote tables and figures to {args.out}"
    print(dumps_json(payload) if args.json else text)
    return 0


def add_stress_parser(sub: Subparsers) -> None:
    """Register ``stress``."""
    p = sub.add_parser(
        "stress",
        help="bias battery: what each bias does to a finding, tipping points, E-value",
        description="Stress a finding with a battery of biases (immortal time, "
        "misclassification, unmeasured confounding, ...) switched on at increasing strengths "
        "in replicate cohorts analysed with the study's design: what each bias does to the "
        "estimate when the reported effect is true, and the tipping point, the strength at "
        "which bias alone (true HR = 1) reaches the reported estimate. Also prints the "
        "E-value of the reported estimate.",
        epilog=examples(
            "reawaken stress --finding flatiron_lung_mets --out stress",
            "reawaken stress --finding ukb_cancer_mortality --mechanisms "
            "immortal_time,misclassification --reps 50 --out stress_ukb",
        ),
    )
    p.add_argument(
        "--finding",
        required=True,
        help=f"{', '.join(list_findings())} or a finding .toml (then also --scenario)",
    )
    p.add_argument("--scenario", help="scenario to stress (default: the finding's preset)")
    p.add_argument(
        "--reps", type=REPS, default=200, help="replicate cohorts per mechanism and strength"
    )
    p.add_argument(
        "--mechanisms",
        help=f"comma-separated subset of: {', '.join(MECHANISMS)} (default: all)",
    )
    p.add_argument("--n", type=PERSONS, help="cohort size (default: the scenario's n)")
    add_seed(p, DEFAULT_SEED)
    add_executor(p, dask_scheduler=True)
    add_progress(p)
    add_checkpoint(p)
    p.add_argument("--out", required=True, help="output folder (written whole or not at all)")
    add_overwrite(p)
    add_json(p)
    p.set_defaults(func=cmd_stress)
