"""``reawaken stress``: the bias battery with tipping points, E-values and a figure."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .errors import AnalysisError
from .findings import list_findings, load_finding
from .io import write_table, write_text_atomic
from .report.figures import save_figure
from .scenario import load_scenario_for_finding
from .sensitivity.evalue import evalue_for_finding
from .sensitivity.stress import MECHANISMS, run_battery


def cmd_stress(args: argparse.Namespace) -> int:
    from .report.stress_plots import plot_stress

    finding = load_finding(args.finding)
    mechanisms = args.mechanisms.split(",") if args.mechanisms else None
    if mechanisms:
        unknown = [m for m in mechanisms if m not in MECHANISMS]
        if unknown:
            raise AnalysisError(
                f"--mechanisms: unknown {', '.join(unknown)}; choose from {', '.join(MECHANISMS)}"
            )
    result = run_battery(
        load_scenario_for_finding(args.finding, args.scenario),
        finding,
        reps=args.reps,
        seed=args.seed,
        mechanisms=mechanisms,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        n=args.n,
        progress=not args.no_progress,
    )
    ev = evalue_for_finding(finding)
    out = Path(args.out)
    write_table(result.table, out / "stress_battery.csv")
    write_table(result.tipping_points, out / "tipping_points.csv")
    payload = {
        "finding": finding.name,
        "reps": args.reps,
        "tipping_points": result.tipping_points.replace({np.nan: None}).to_dict(orient="records"),
        "evalue": ev.to_dict(),
    }
    write_text_atomic(out / "stress.json", json.dumps(payload, indent=2, default=float) + "\n")
    save_figure(
        plot_stress(
            result.table, reported=finding.estimate, title=f"Bias battery: {finding.title}"
        ),
        out / "stress",
    )
    text = result.summary() + "\n" + ev.summary() + f"\nwrote tables and figures to {out}"
    print(json.dumps(payload, indent=2, default=float) if args.json else text)
    return 0


def add_stress_parser(sub, default_seed: int) -> None:
    p = sub.add_parser("stress", help="bias battery: what each bias does, tipping points")
    p.add_argument(
        "--finding",
        required=True,
        help=f"{', '.join(list_findings())} or a finding .toml (then also --scenario)",
    )
    p.add_argument("--scenario", help="scenario to stress (default: the finding's preset)")
    p.add_argument("--reps", type=int, default=200, help="replicates per mechanism × strength")
    p.add_argument("--mechanisms", help=f"comma-separated subset of: {', '.join(MECHANISMS)}")
    p.add_argument("--n", type=int, help="cohort size (default: the scenario's)")
    p.add_argument("--seed", type=int, default=default_seed)
    p.add_argument("--executor", choices=["processes", "serial", "dask"], default="processes")
    p.add_argument("--workers", type=int)
    p.add_argument("--scheduler", help="Dask scheduler address")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_stress)
