"""``reawaken power ...`` subcommands: analytic, simulation-based and design analysis.

Kept apart from :mod:`reawaken.cli` so each file stays small; ``cli`` registers them.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..errors import AnalysisError
from ..io import write_table, write_text_atomic
from ..outputs import dumps_json, output_directory
from ..power.analytic import (
    PowerResult,
    event_probability_from_scenario,
    exposed_share_for_matching,
    freedman,
    persons_for_events,
    schoenfeld,
)
from ..report.figures import save_figure
from ..resources import check_memory, design_simulation_bytes
from .args import (
    CHECKPOINT_HELP,
    PERSONS,
    REPS,
    SEED,
    WORKERS,
    integer,
    number,
    number_list,
    scheduler,
)

_RATIO = number(0, lo_open=True, example="1.44")
_PROBABILITY = number(0, 1, lo_open=True, hi_open=True, example="0.5")
_ALPHA = number(0, 1, lo_open=True, hi_open=True, example="--alpha 0.05")


def _analytic(args: argparse.Namespace, solve: str) -> PowerResult:
    share = args.exposed_share
    if args.controls is not None:
        share = exposed_share_for_matching(args.controls)
    event_p = args.event_probability
    if event_p is None and args.scenario is not None:
        from ..scenario import load_scenario

        event_p = event_probability_from_scenario(load_scenario(args.scenario))
    if solve == "n" and event_p is None:
        raise AnalysisError(
            "power n needs the probability that a person has an event: pass "
            "--event-probability P or --scenario NAME"
        )
    known = {"events": args.events, "hr": args.hr, "power": args.power}
    known[solve if solve != "n" else "events"] = None
    common = {"alpha": args.alpha, "sided": args.sided, "event_probability": event_p}
    if args.method == "freedman":
        return freedman(**known, allocation_ratio=share / (1 - share), **common)
    return schoenfeld(**known, exposed_share=share, **common)


def _emit_result(args: argparse.Namespace, payload: dict, text: str, tables=(), figures=()) -> None:
    """Write the tables, ``power.json`` and the figures into ``--out`` (whole or not at all),
    then print the text or JSON."""
    if args.out:
        with output_directory(args.out, overwrite=args.overwrite) as out:
            for name, table in tables:
                write_table(table, out / f"{name}.csv")
            write_text_atomic(out / "power.json", dumps_json(payload) + "\n")
            for name, make in figures:
                save_figure(make(), out / name)
    print(dumps_json(payload) if args.json else text)


def cmd_power_analytic(args: argparse.Namespace) -> int:
    result = _analytic(args, args.power_command if args.power_command != "achieved" else "power")
    payload = result.to_dict()
    if args.power_command == "n" and result.persons is None:
        payload["persons"] = persons_for_events(
            result.required_events, event_probability=result.event_probability
        )
    _emit_result(args, payload, result.summary())
    return 0


def _require_some_estimates(table) -> None:
    """A curve whose every replicate failed has no power to report (it is not 0)."""
    if len(table) and (table["failed"] >= table["reps"]).all():
        sizes = ", ".join(f"{n:,}" for n in dict.fromkeys(table["n"]))
        raise AnalysisError(
            f"every replicate failed at n = {sizes} (the analysis found too few events or "
            "persons in an arm); fix: simulate larger cohorts with --n, or check the scenario"
        )


def cmd_power_simulate(args: argparse.Namespace) -> int:
    from ..power.simulation import sample_size_for_power, simulate_power
    from ..report.power_plots import plot_power_curve
    from ..scenario import load_scenario

    if args.scheduler is not None and args.executor != "dask":
        raise AnalysisError("--scheduler needs --executor dask; fix: add --executor dask")
    scenario = load_scenario(args.scenario)
    ns, hrs = args.n, args.hr
    kwargs = {
        "reps": args.reps,
        "seed": args.seed,
        "alpha": args.alpha,
        "executor": args.executor,
        "workers": args.workers,
        "scheduler": args.scheduler,
        "progress": not args.no_progress,
        "checkpoint": args.checkpoint,
    }
    if args.target is not None:
        if hrs:
            raise AnalysisError("--target searches over --n; give a single effect (no --hr)")
        result = sample_size_for_power(
            scenario, n_grid=ns or [scenario.n], target=args.target, **kwargs
        )
        curve, text = result.curve, result.summary()
        payload = {
            "n_required": result.n_required,
            "target": result.target,
            "table": curve.table.to_dict(orient="records"),
        }
    else:
        curve = simulate_power(scenario, n_grid=ns, hr_grid=hrs, **kwargs)
        text = curve.summary()
        payload = {"table": curve.table.to_dict(orient="records")}
    _require_some_estimates(curve.table)
    x = "n" if (hrs is None or len(set(curve.table["n"])) > 1) else "hr"

    def figure():
        return plot_power_curve(
            curve.table.assign(hr=curve.table["hr"].fillna(0)),
            x=x,
            mcse="mcse",
            xlabel="cohort size n" if x == "n" else "true HR",
            title=f"Simulated power, {scenario.name}",
        )

    _emit_result(args, payload, text, [("power_simulated", curve.table)], [("power_curve", figure)])
    return 0


def cmd_power_design(args: argparse.Namespace) -> int:
    from ..power.design_analysis import design_analysis
    from ..report.exaggeration_plot import plot_exaggeration

    truths = args.true or [1.1, 1.2, 1.3, args.estimate]
    check_memory(
        design_simulation_bytes(args.sims),
        f"--sims {args.sims:,}",
        "use fewer simulated draws, e.g. --sims 100000",
    )
    rng = np.random.default_rng(args.seed) if args.sims else None
    result = design_analysis(
        estimate=args.estimate,
        ci=tuple(args.ci),
        true_effects=truths,
        alpha=args.alpha,
        n_sims=args.sims,
        rng=rng,
    )
    payload = {
        "se": result.se,
        "information": result.information,
        "table": result.table.to_dict(orient="records"),
    }
    _emit_result(
        args,
        payload,
        result.summary(),
        [("design_analysis", result.table)],
        [("exaggeration", lambda: plot_exaggeration(result, reported=args.estimate))],
    )
    return 0


def _add_overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out folder (default: refuse)",
    )


def add_power_parser(sub, parser_class, default_seed: int) -> None:
    """Register ``power`` and its subcommands on the top-level subparsers."""
    power = sub.add_parser("power", help="power and sample size: analytic, simulated, design")
    psub = power.add_subparsers(dest="power_command", required=True, parser_class=parser_class)
    helps = {
        "events": "events needed for --power at --hr",
        "n": "persons needed (events / event probability)",
        "hr": "minimum detectable HR with --events at --power",
        "achieved": "power with --events at --hr",
    }
    for name, text in helps.items():
        p = psub.add_parser(name, help=text)
        p.add_argument(
            "--events", type=number(0, lo_open=True, example="--events 200"), help="events"
        )
        p.add_argument("--hr", type=_RATIO, help="hazard ratio to detect")
        p.add_argument(
            "--power",
            type=_PROBABILITY,
            default=None if name == "achieved" else 0.8,
            help="target power (default 0.8)",
        )
        p.add_argument("--alpha", type=_ALPHA, default=0.05, help="significance level")
        p.add_argument("--sided", type=int, choices=[1, 2], default=2, help="one- or two-sided")
        p.add_argument(
            "--exposed-share",
            type=_PROBABILITY,
            default=0.5,
            help="share of exposed persons (allocation; default 0.5)",
        )
        p.add_argument(
            "--controls",
            type=integer(1, example="--controls 4"),
            help="1:K matched design (exposed share 1/(K+1))",
        )
        p.add_argument("--method", choices=["schoenfeld", "freedman"], default="schoenfeld")
        p.add_argument(
            "--event-probability",
            type=number(0, 1, lo_open=True, example="--event-probability 0.05"),
            help="P(event) per person (for n)",
        )
        p.add_argument("--scenario", help="derive the event probability from a scenario")
        p.add_argument("--out", help="folder for power.json (written whole or not at all)")
        _add_overwrite(p)
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        p.set_defaults(func=cmd_power_analytic)

    p = psub.add_parser("simulate", help="simulation-based power of the full pipeline")
    p.add_argument("--scenario", required=True, help="preset name or .toml path")
    p.add_argument("--reps", type=REPS, default=200, help="replicates per grid point")
    p.add_argument(
        "--n",
        type=number_list(PERSONS, "--n 20000,36845"),
        help="comma-separated cohort sizes, e.g. 20000,36845,60000",
    )
    p.add_argument(
        "--hr",
        type=number_list(_RATIO, "--hr 1.2,1.44"),
        help="comma-separated constant true HRs (replace the scenario's)",
    )
    p.add_argument("--target", type=_PROBABILITY, help="solve for the n giving this power")
    p.add_argument("--alpha", type=_ALPHA, default=0.05)
    p.add_argument("--seed", type=SEED, default=default_seed)
    p.add_argument("--executor", choices=["processes", "serial", "dask"], default="processes")
    p.add_argument("--workers", type=WORKERS, help="worker processes (default: all cores)")
    p.add_argument(
        "--scheduler", type=scheduler, help="Dask scheduler address, e.g. tcp://HOST:8786"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--checkpoint", metavar="DIR", help=CHECKPOINT_HELP)
    p.add_argument("--out", help="folder for the table (CSV, JSON) and the power curve")
    _add_overwrite(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_power_simulate)

    p = psub.add_parser("design", help="design analysis of a reported estimate (type S/M)")
    p.add_argument("--estimate", type=_RATIO, required=True, help="reported ratio, e.g. 1.44")
    p.add_argument(
        "--ci",
        type=_RATIO,
        nargs=2,
        required=True,
        metavar=("LOW", "HIGH"),
        help="reported 95%% CI",
    )
    p.add_argument(
        "--true",
        type=number_list(_RATIO, "--true 1.2,1.5"),
        help="comma-separated assumed true ratios",
    )
    p.add_argument("--alpha", type=_ALPHA, default=0.05)
    p.add_argument(
        "--sims",
        type=integer(0, example="--sims 10000"),
        default=0,
        help="also check type M by simulation",
    )
    p.add_argument("--seed", type=SEED, default=default_seed)
    p.add_argument("--out", help="folder for the table and the exaggeration figure")
    _add_overwrite(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_power_design)
