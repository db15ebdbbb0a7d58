"""The reproduction certificate: reported vs reproduced, for one finding.

For a finding and its calibrated preset: one simulated cohort analysed with the published
design (figures by arm), ``reps`` seeded replicates (the sampling distribution; the reproduced
estimate is the **median** over replicates, with MCSE ``1.2533 SD / sqrt(R)`` of a median of
near-normal values; the reproduced CI is the median CI), the power at the reported effect
(closed form from the reported CI, and the replicates' own rejection rate), the type M
exaggeration (Gelman & Carlin 2014), E-values (VanderWeele & Ding 2017), a simulated power
curve over cohort sizes, and the stress battery's tipping points. Pass criteria: reproduced
median within ±5% of the reported estimate, reproduced CI width (log scale) within ±10%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..analyze import run_analysis
from ..calibration import DEFAULT_SE_TARGET, target_se_column
from ..evaluate import run_replicates
from ..findings import ReportedFinding, load_finding
from ..inference import check_inference
from ..power.simulation import simulate_power
from ..scenario import DesignSpec, load_scenario_for_finding
from ..sensitivity.evalue import evalue_for_finding
from ..sensitivity.stress import run_battery
from ..simulate.cohort import simulate_cohort
from ..truth import null_scenario, stored_truth
from .figures import PUBLICATION_RC, plain_log_ticks
from .inference_rows import inference_rows
from .power_plots import plot_power_curve
from .stress_plots import plot_stress

ESTIMATE_TOLERANCE = 0.05
CI_WIDTH_TOLERANCE = 0.10


@dataclass(frozen=True, eq=False)
class Certificate:
    """Reported vs reproduced for one finding, with the tables and figures behind it."""

    finding: ReportedFinding
    rows: pd.DataFrame
    replicates: pd.DataFrame
    power_curve: pd.DataFrame
    stress: pd.DataFrame
    tipping_points: pd.DataFrame
    figures: dict[str, Figure] = field(default_factory=dict)
    provenance: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.rows["pass"].dropna().all())

    def summary(self) -> str:
        lines = [f"{self.finding.title}: {'PASS' if self.passed else 'FAIL'}"]
        for r in self.rows.itertuples():
            flag = "" if pd.isna(r._5) else (" ok" if r._5 else " OUT OF TOLERANCE")
            parts = [f"reported {r.reported}"] if r.reported else []
            parts += [f"reproduced {r.reproduced}"] if r.reproduced else []
            lines.append(f"  {r.quantity}: {'; '.join(parts)}{flag}")
        return "\n".join(lines)


def _fmt(x: float, digits: int = 2) -> str:
    return "" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _sampling_figure(log_est: np.ndarray, finding: ReportedFinding) -> Figure:
    import matplotlib as mpl

    with mpl.rc_context(PUBLICATION_RC):
        fig = Figure(figsize=(5.5, 3.2), layout="constrained", dpi=PUBLICATION_RC["savefig.dpi"])
        ax = fig.subplots()
        finite = log_est[np.isfinite(log_est)]
        ax.hist(
            np.exp(finite),
            bins=np.exp(np.linspace(finite.min(), finite.max(), 31)),
            color="C0",
            alpha=0.75,
        )
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.axvline(finding.estimate, color="C3", lw=1.5, label=f"reported {finding.estimate:g}")
        ax.axvline(
            float(np.exp(np.nanmedian(log_est))),
            color="black",
            ls="--",
            lw=1,
            label="median of replicates",
        )
        ax.axvline(1.0, color="grey", lw=0.8)
        ax.set_xlabel(f"estimated {finding.estimand} (log scale)")
        ax.set_ylabel("replicates")
        ax.set_title(f"Sampling distribution over {np.isfinite(log_est).sum()} replicates")
        ax.legend(frameon=False)
    return fig


def _forest_figure(certs_rows: list[tuple[str, float, float, float]]) -> Figure:
    """Forest plot rows ``(label, estimate, low, high)`` on the log scale."""
    import matplotlib as mpl

    with mpl.rc_context(PUBLICATION_RC):
        fig = Figure(
            figsize=(6.0, 0.45 * len(certs_rows) + 1.0),
            layout="constrained",
            dpi=PUBLICATION_RC["savefig.dpi"],
        )
        ax = fig.subplots()
        for i, (label, est, lo, hi) in enumerate(certs_rows):
            y = len(certs_rows) - 1 - i
            color = "C3" if label.startswith("reported") else "C0"
            ax.errorbar(est, y, xerr=[[est - lo], [hi - est]], fmt="s", color=color, capsize=3)
        ax.set_yticks(range(len(certs_rows)), [r[0] for r in certs_rows][::-1])
        ax.axvline(1.0, color="grey", lw=0.8)
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set_xlabel("ratio (95% CI, log scale)")
    return fig


def forest_rows(cert: Certificate) -> list[tuple[str, float, float, float]]:
    f = cert.finding
    r = cert.replicates
    return [
        (f"reported {f.estimand} ({f.name})", f.estimate, f.ci_low, f.ci_high),
        (
            f"reproduced median ({f.name})",
            float(np.exp(r["log_estimate"].median())),
            float(r["ci_low"].median()),
            float(r["ci_high"].median()),
        ),
    ]


def _tipping_text(t) -> str:
    """A tipping point as text, from the battery's ``status`` (never ``> nan``)."""
    if t.status == "reached":
        return f"{t.tipping_point:.3g} ({t.meaning})"
    if not np.isfinite(t.max_strength):
        return f"undetermined: the weakest strength already failed ({t.note})"
    if t.status == "not reached":
        return f"not reached up to strength {t.max_strength:g} ({t.meaning})"
    return f"not reached up to strength {t.max_strength:g}, undetermined beyond ({t.note})"


def _evalue_row(finding: ReportedFinding) -> tuple:
    ev = evalue_for_finding(finding)
    return (
        "E-value, point / CI limit",
        f"{ev.evalue_point:.2f} / {ev.evalue_ci:.2f}",
        "",
        np.nan,
        None,
    )


def _reproduction_rows(finding: ReportedFinding, ok: pd.DataFrame, se_target: str) -> list[tuple]:
    """Estimate and CI as the study reported them: the median estimate, and the CI built from
    the SE the preset was calibrated on (``se_target``: the model-based SE by default, what the
    study printed), with the pass criteria of the module docstring."""
    log_est = ok["log_estimate"]
    se = target_se_column(ok, se_target)
    z = 1.959963984540054
    median = float(np.exp(log_est.median()))
    mcse_log_median = 1.2533 * float(log_est.std(ddof=1)) / math.sqrt(len(log_est))
    width = float(2 * z * se.median())
    low, high = np.exp(log_est - z * se).median(), np.exp(log_est + z * se).median()
    est_dev = median / finding.estimate - 1
    width_dev = width / finding.ci_width_log - 1
    label = "model SE" if se_target == "model" else "empirical SD"
    return [
        (
            "estimate (median of replicates)",
            _fmt(finding.estimate),
            f"{median:.3f} (MCSE of log {mcse_log_median:.3f})",
            est_dev,
            abs(est_dev) <= ESTIMATE_TOLERANCE,
        ),
        (f"95% CI from the {label}, as reported (median limits)", finding.ci_label,
         f"{low:.2f}-{high:.2f}", np.nan, None),
        (
            f"CI width, ln(high) - ln(low), {label}",
            _fmt(finding.ci_width_log, 3),
            _fmt(width, 3),
            width_dev,
            abs(width_dev) <= CI_WIDTH_TOLERANCE,
        ),
    ]


def build_certificate(
    name: str,
    *,
    scenario: str | None = None,
    reps: int,
    seed: int,
    power_reps: int,
    stress_reps: int,
    executor: str = "processes",
    progress: bool = False,
    checkpoint: str | None = None,
) -> Certificate:
    """Compute the certificate of one finding (see module docstring).

    ``name`` is a shipped finding or a finding TOML file; ``scenario`` (a preset name or a
    scenario file, e.g. one written by ``reawaken calibrate``) defaults to the finding's preset.
    ``checkpoint`` is a folder of replicate checkpoints (``run_replicates(checkpoint=...)``)
    shared by the replicates, the power curve and the stress battery.
    """
    finding = load_finding(name)
    scenario = load_scenario_for_finding(name, scenario)
    design = scenario.design or DesignSpec()
    figures: dict[str, Figure] = {}

    rng = np.random.default_rng(seed)
    cohort = simulate_cohort(scenario, rng).data
    one = run_analysis(
        cohort.drop(columns=[c for c in cohort if c.startswith("true_")]),
        design="matched_cox",
        rng=rng,
        controls=design.controls,
        exact=design.exact,
        caliper=dict(design.caliper),
        test_window_days=design.test_window_days,
    )
    figures.update({f"{k}_one_cohort": v for k, v in one.figures.items() if k in ("km", "cif")})

    reps_table, null_table = (
        run_replicates(
            sc, reps=reps, seed=seed, executor=executor, progress=progress, checkpoint=checkpoint
        ).data
        for sc in (scenario, null_scenario(scenario))
    )
    analysis = design.analysis
    check = check_inference(
        reps_table,
        null_table,
        analysis=analysis,
        estimand=finding.estimand,
        finding=finding,
        truth=stored_truth(scenario, analysis),
        null_truth=stored_truth(null_scenario(scenario), analysis),
    )
    ok = reps_table.dropna(subset=["log_estimate"])
    log_est = ok["log_estimate"].to_numpy()
    se_target = (scenario.calibration or {}).get("se_target", DEFAULT_SE_TARGET)
    rows = pd.DataFrame(
        [
            *_reproduction_rows(finding, ok, se_target),
            *inference_rows(check, finding),
            _evalue_row(finding),
        ],
        columns=["quantity", "reported", "reproduced", "relative_difference", "pass"],
    )

    ns = sorted({max(500, int(scenario.n * f)) for f in (0.5, 1.0, 2.0)})
    curve = simulate_power(
        scenario,
        n_grid=ns,
        reps=power_reps,
        seed=seed,
        executor=executor,
        progress=progress,
        checkpoint=checkpoint,
    ).table
    battery = run_battery(
        scenario,
        finding,
        reps=stress_reps,
        seed=seed,
        executor=executor if executor != "dask" else "serial",
        progress=progress,
        checkpoint=checkpoint,
    )
    for t in battery.tipping_points.itertuples():
        rows.loc[len(rows)] = (f"tipping point: {t.mechanism}", "", _tipping_text(t), np.nan, None)
    figures["sampling_distribution"] = _sampling_figure(log_est, finding)
    figures["power_curve"] = plot_power_curve(
        curve, x="n", mcse="mcse", xlabel="cohort size n", title=f"Simulated power, {finding.name}"
    )
    figures["stress"] = plot_stress(
        battery.table, reported=finding.estimate, title=f"Bias battery: {finding.name}"
    )
    record = scenario.calibration or {}
    provenance = f"scenario {scenario.name}" + (
        f", written by `{record['command']}`" if "command" in record else " (not calibrated)"
    )
    return Certificate(
        finding,
        rows,
        reps_table,
        curve,
        battery.table,
        battery.tipping_points,
        figures,
        provenance,
    )
