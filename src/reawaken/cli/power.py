"""``reawaken power ...`` subcommands: analytic (``events``, ``n``, ``hr``, ``achieved``),
simulation-based (``simulate``) and design analysis of a reported estimate (``design``).

The analytic subcommands solve one relation between events ``D``, hazard ratio and power:
Schoenfeld's ``D = (z_{1-a/s} + z_{1-b})^2 / (p (1 - p) log(HR)^2)`` (Biometrics 1983) or
Freedman's (Stat Med 1982) with ``--method freedman``; each subcommand names what it solves
for (:mod:`reawaken.power.analytic`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import AnalysisError
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
    integer,
    number,
    number_list,
)
from .defaults import DEFAULT_SEED

if TYPE_CHECKING:
    from ..power.analytic import PowerResult

_RATIO = number(0, lo_open=True, example="1.44")
_PROBABILITY = number(0, 1, lo_open=True, hi_open=True, example="0.5")
_ALPHA = number(0, 1, lo_open=True, hi_open=True, example="--alpha 0.05")


def _analytic(args: argparse.Namespace, solve: str) -> PowerResult:
    from ..power.analytic import (
        event_probability_from_scenario,
        exposed_share_for_matching,
        freedman,
        schoenfeld,
    )

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
    known = {k: getattr(args, k, None) for k in ("events", "hr", "power")}
    known[solve if solve != "n" else "events"] = None
    common = {"alpha": args.alpha, "sided": args.sided, "event_probability": event_p}
    if args.method == "freedman":
        return freedman(**known, allocation_ratio=share / (1 - share), **common)
    return schoenfeld(**known, exposed_share=share, **common)


def _emit_result(args: argparse.Namespace, payload: dict, text: str, tables=(), figures=()) -> None:
    """Write the tables, ``power.json`` and the figures into ``--out`` (whole or not at all),
    then print the text or JSON."""
    from ..io import write_table, write_text_atomic
    from ..outputs import dumps_json, output_directory
    from ..report.figures import save_figure

    if args.out:
        with output_directory(args.out, overwrite=args.overwrite) as out:
            for name, table in tables:
                write_table(table, out / f"{name}.csv")
            write_text_atomic(out / "power.json", dumps_json(payload) + "\n")
            for name, make in figures:
                save_figure(make(), out / name)
    print(dumps_json(payload) if args.json else text)


def cmd_power_analytic(args: argparse.Namespace) -> int:
    from ..power.analytic import persons_for_events

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
    from ..resources import check_memory, design_simulation_bytes

    truths = args.true or [1.1, 1.2, 1.3, args.estimate]
    check_memory(
        design_simulation_bytes(args.sims),
        f"--sims {args.sims:,}",
        "use fewer simulated draws, e.g. --sims 100000",
    )
    rng = None
    if args.sims:
        import numpy as np

        rng = np.random.default_rng(args.seed)
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


ANALYTIC = {
    "events": (
        "solve for the events needed to detect --hr with --power",
        "Solve for the number of events D needed to detect the hazard ratio --hr with power "
        "--power in a two-sided (or --sided 1) test at level --alpha.",
        (
            "reawaken power events --hr 1.44",
            "reawaken power events --hr 1.85 --controls 4 --power 0.9",
        ),
    ),
    "n": (
        "solve for the persons needed: events needed / P(event)",
        "Solve for the number of persons needed: the events needed (as `power events`) divided "
        "by the probability that a person has an event, given by --event-probability or "
        "simulated from --scenario (200,000 persons).",
        (
            "reawaken power n --hr 1.44 --event-probability 0.05",
            "reawaken power n --hr 1.44 --scenario flatiron_lung_mets",
        ),
    ),
    "hr": (
        "solve for the minimum detectable HR with --events at --power",
        "Solve for the minimum detectable hazard ratio (above 1): the smallest HR that --events "
        "events detect with power --power at level --alpha.",
        (
            "reawaken power hr --events 300",
            "reawaken power hr --events 300 --power 0.9 --controls 4",
        ),
    ),
    "achieved": (
        "solve for the power achieved with --events at --hr",
        "Solve for the power achieved: the probability that a study with --events events "
        "rejects HR = 1 at level --alpha when the true hazard ratio is --hr.",
        (
            "reawaken power achieved --events 300 --hr 1.44",
            "reawaken power achieved --events 200 --hr 1.44 --controls 4 --method freedman",
        ),
    ),
}


def _add_design_options(p: argparse.ArgumentParser) -> None:
    """Level, sidedness, allocation and method of an analytic power calculation."""
    p.add_argument(
        "--alpha", type=_ALPHA, default=0.05, help="significance level: the type I error rate"
    )
    p.add_argument("--sided", type=int, choices=[1, 2], default=2, help="one- or two-sided test")
    p.add_argument(
        "--exposed-share",
        type=_PROBABILITY,
        default=0.5,
        help="share of exposed persons among those at risk",
    )
    p.add_argument(
        "--controls",
        type=integer(1, example="--controls 4"),
        help="1:K matched design: sets the exposed share to 1/(K+1) (default: --exposed-share)",
    )
    p.add_argument(
        "--method",
        choices=["schoenfeld", "freedman"],
        default="schoenfeld",
        help="events-HR-power relation: Schoenfeld (1983) or Freedman (1982)",
    )
    p.add_argument(
        "--event-probability",
        type=number(0, 1, lo_open=True, example="--event-probability 0.05"),
        help="probability that a person has an event; also reports the persons needed",
    )
    p.add_argument(
        "--scenario",
        help="estimate --event-probability by simulating this preset or scenario .toml",
    )


def _add_analytic_parser(psub: Subparsers, name: str) -> None:
    short, description, lines = ANALYTIC[name]
    p = psub.add_parser(name, help=short, description=description, epilog=examples(*lines))
    if name in ("hr", "achieved"):
        p.add_argument(
            "--events",
            type=number(0, lo_open=True, example="--events 200"),
            required=True,
            help="number of events (outcomes) in the study",
        )
    if name != "hr":
        what = "true hazard ratio" if name == "achieved" else "hazard ratio to detect"
        p.add_argument("--hr", type=_RATIO, required=True, help=f"{what}, e.g. 1.44")
    if name != "achieved":
        p.add_argument("--power", type=_PROBABILITY, default=0.8, help="target power")
    _add_design_options(p)
    p.add_argument("--out", help="folder for power.json (written whole or not at all)")
    add_overwrite(p)
    add_json(p)
    p.set_defaults(func=cmd_power_analytic)


def _add_simulate_parser(psub: Subparsers) -> None:
    p = psub.add_parser(
        "simulate",
        help="solve for power by simulating the full pipeline (or the n for --target)",
        description="Simulated power: the share of replicate cohorts of a scenario whose "
        "analysis rejects the null, at each cohort size --n (and true HR --hr), with its Monte "
        "Carlo SE; with --target, the smallest n on the grid reaching that power.",
        epilog=examples(
            "reawaken power simulate --scenario flatiron_lung_mets --n 20000,36845 --reps 100 "
            "--out power",
            "reawaken power simulate --scenario flatiron_lung_mets --n 10000,20000,40000 "
            "--target 0.8",
        ),
    )
    p.add_argument("--scenario", required=True, help="preset name or scenario .toml")
    p.add_argument("--reps", type=REPS, default=200, help="replicate cohorts per grid point")
    p.add_argument(
        "--n",
        type=number_list(PERSONS, "--n 20000,36845"),
        help="comma-separated cohort sizes, e.g. 20000,36845,60000 (default: the scenario's n)",
    )
    p.add_argument(
        "--hr",
        type=number_list(_RATIO, "--hr 1.2,1.44"),
        help="comma-separated constant true HRs replacing the scenario's effect "
        "(default: the scenario's effect)",
    )
    p.add_argument("--target", type=_PROBABILITY, help="solve for the n giving this power")
    p.add_argument("--alpha", type=_ALPHA, default=0.05, help="significance level")
    add_seed(p, DEFAULT_SEED)
    add_executor(p, dask_scheduler=True)
    add_progress(p)
    add_checkpoint(p)
    p.add_argument("--out", help="folder for the table (CSV, JSON) and the power curve figure")
    add_overwrite(p)
    add_json(p)
    p.set_defaults(func=cmd_power_simulate)


def _add_design_parser(psub: Subparsers) -> None:
    p = psub.add_parser(
        "design",
        help="design analysis of a reported estimate: power, type S and type M errors",
        description="Design analysis of a reported ratio and 95% CI (Gelman & Carlin 2014): "
        "for each assumed true ratio, the power of the study, the type S error rate (wrong "
        "sign) and the exaggeration ratio (type M) of a significant estimate.",
        epilog=examples(
            "reawaken power design --estimate 1.44 --ci 1.01 2.05",
            "reawaken power design --estimate 1.85 --ci 1.14 3.02 --true 1.1,1.3 --sims 10000 "
            "--out design",
        ),
    )
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
        help="comma-separated assumed true ratios (default: 1.1,1.2,1.3 and the estimate)",
    )
    p.add_argument("--alpha", type=_ALPHA, default=0.05, help="significance level")
    p.add_argument(
        "--sims",
        type=integer(0, example="--sims 10000"),
        default=0,
        help="also check type M with this many simulated estimates; 0 for the closed form only",
    )
    add_seed(p, DEFAULT_SEED, "seed of --sims")
    p.add_argument("--out", help="folder for the table and the exaggeration figure")
    add_overwrite(p)
    add_json(p)
    p.set_defaults(func=cmd_power_design)


def add_power_parser(sub: Subparsers) -> None:
    """Register ``power`` and its subcommands."""
    power = sub.add_parser(
        "power",
        help="power and sample size: analytic (events, n, hr, achieved), simulated, design",
        description="Power and sample size of a study of a hazard ratio. The analytic "
        "subcommands each solve for one quantity from the others; `simulate` runs the whole "
        "pipeline on replicate cohorts; `design` asks what a reported estimate can mean.",
        epilog=examples(
            "reawaken power events --hr 1.44", "reawaken power achieved --events 300 --hr 1.44"
        ),
    )
    psub = power.add_subparsers(
        dest="power_command", required=True, title="subcommands", metavar="SUBCOMMAND"
    )
    for name in ANALYTIC:
        _add_analytic_parser(psub, name)
    _add_simulate_parser(psub)
    _add_design_parser(psub)
