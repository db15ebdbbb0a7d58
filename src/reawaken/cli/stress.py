"""``reawaken stress``: the bias battery with tipping points, E-values and a figure."""

from __future__ import annotations

import argparse

from ..errors import AnalysisError
from ..findings import list_findings, load_finding
from ..io import write_table, write_text_atomic
from ..outputs import dumps_json, output_directory
from ..report.figures import save_figure
from ..scenario import load_scenario_for_finding
from ..sensitivity.evalue import evalue_for_finding
from ..sensitivity.stress import MECHANISMS, run_battery
from .args import CHECKPOINT_HELP, PERSONS, REPS, SEED, WORKERS, scheduler


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
    from ..report.stress_plots import plot_stress

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


def add_stress_parser(sub, default_seed: int) -> None:
    p = sub.add_parser("stress", help="bias battery: what each bias does, tipping points")
    p.add_argument(
        "--finding",
        required=True,
        help=f"{', '.join(list_findings())} or a finding .toml (then also --scenario)",
    )
    p.add_argument("--scenario", help="scenario to stress (default: the finding's preset)")
    p.add_argument("--reps", type=REPS, default=200, help="replicates per mechanism × strength")
    p.add_argument("--mechanisms", help=f"comma-separated subset of: {', '.join(MECHANISMS)}")
    p.add_argument("--n", type=PERSONS, help="cohort size (default: the scenario's)")
    p.add_argument("--seed", type=SEED, default=default_seed)
    p.add_argument("--executor", choices=["processes", "serial", "dask"], default="processes")
    p.add_argument("--workers", type=WORKERS, help="worker processes (default: all cores)")
    p.add_argument("--scheduler", type=scheduler, help="Dask scheduler address")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--checkpoint", metavar="DIR", help=CHECKPOINT_HELP)
    p.add_argument("--out", required=True, help="output folder (written whole or not at all)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out folder (default: refuse)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_stress)
