"""The reproduction certificate: reported vs reproduced, for one finding.

For a finding and its calibrated preset: one simulated cohort analysed with the published
design (its own estimate, and figures by arm), ``reps`` seeded replicates (the sampling
distribution; the reproduced estimate is the **median** over replicates, with MCSE
``1.2533 SD / sqrt(R)`` of a median of near-normal values; the reproduced CI is the median CI),
the power at the reported effect (closed form from the reported CI, and the replicates' own
rejection rate), the type M exaggeration (Gelman & Carlin 2014), E-values (VanderWeele & Ding
2017) of the reported and of the reproduced estimate, a simulated power curve over cohort
sizes, and the stress battery's tipping points. Pass criteria: reproduced median within ±5% of
the reported estimate, reproduced CI width (log scale) within ±10%.

Each certificate row carries a ``section``: ``reproduction`` (the pass criteria),
``inference`` (is the inference honest), ``design`` (power, exaggeration, E-value) or
``tipping point``. An assumed input (finding key ``ci_assumed``) is marked in every row that
uses it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .analyze import run_analysis
from .calibration import DEFAULT_SE_TARGET, target_se_column
from .errors import ReawakenError
from .evaluate import run_replicates
from .findings import ReportedFinding, load_finding
from .inference import check_inference
from .power.simulation import simulate_power
from .report.certificate_figures import certificate_figures
from .report.certificate_record import (
    CI_WIDTH_TOLERANCE,
    COLUMNS,
    ESTIMATE_TOLERANCE,
    NOT_ESTIMABLE,
    Certificate,
)
from .report.forest import forest_rows
from .report.inference_rows import inference_rows
from .scenario import DesignSpec, Scenario, load_scenario_for_finding
from .sensitivity.evalue import evalue, evalue_for_finding
from .sensitivity.stress import StressResult, run_battery
from .simulate.cohort import simulate_cohort
from .study.analyses import study_analysis
from .truth import null_scenario, stored_truth


def _fmt(x: float | None, digits: int = 2) -> str:
    return NOT_ESTIMABLE if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _tipping_text(t) -> str:
    """A tipping point as text, from the battery's ``status`` (never ``> nan``)."""
    if t.status == "reached":
        return f"{t.tipping_point:.3g} ({t.meaning})"
    if not np.isfinite(t.max_strength):
        return f"undetermined: the weakest strength already failed ({t.note})"
    if t.status == "not reached":
        return f"not reached up to strength {t.max_strength:g} ({t.meaning})"
    return f"not reached up to strength {t.max_strength:g}, undetermined beyond ({t.note})"


def _median_ci(ok: pd.DataFrame, se_target: str) -> tuple[float, float, float]:
    """Median estimate and median Wald limits from the SE the preset was calibrated on."""
    log_est = ok["log_estimate"]
    se = target_se_column(ok, se_target)
    z = 1.959963984540054
    median = float(np.exp(log_est.median()))
    low, high = np.exp(log_est - z * se).median(), np.exp(log_est + z * se).median()
    return median, float(low), float(high)


def _evalue_row(finding: ReportedFinding, ok: pd.DataFrame, se_target: str) -> tuple:
    """E-values (VanderWeele & Ding 2017) of the reported estimate and CI, and of the
    reproduced median estimate and median CI."""
    ev = evalue_for_finding(finding)
    median, low, high = _median_ci(ok, se_target)
    note = " (the CI limit is from the assumed CI)" if finding.ci_assumed else ""
    reported = f"{ev.evalue_point:.2f} / {ev.evalue_ci:.2f}{note}"
    if np.isfinite([median, low, high]).all() and low <= median <= high:
        mine = evalue(median, low, high, measure=finding.measure)
        reproduced = f"{mine.evalue_point:.2f} / {mine.evalue_ci:.2f} (median estimate and CI)"
    else:
        reproduced = NOT_ESTIMABLE
    return ("E-value, point / CI limit", reported, reproduced, np.nan, None, "design")


def _reproduction_rows(finding: ReportedFinding, ok: pd.DataFrame, se_target: str) -> list[tuple]:
    """Estimate and CI as the study reported them: the median estimate, and the CI built from
    the SE the preset was calibrated on (``se_target``: the model-based SE by default, what the
    study printed), with the pass criteria of the module docstring."""
    log_est = ok["log_estimate"]
    z = 1.959963984540054
    median, low, high = _median_ci(ok, se_target)
    mcse_log_median = 1.2533 * float(log_est.std(ddof=1)) / math.sqrt(len(log_est))
    width = float(2 * z * target_se_column(ok, se_target).median())
    est_dev = median / finding.estimate - 1
    width_dev = width / finding.ci_width_log - 1
    label = "model SE" if se_target == "model" else "empirical SD"
    assumed = ", assumed" if finding.ci_assumed else ""
    return [
        ("estimate (median of replicates)", _fmt(finding.estimate),
         f"{_fmt(median, 3)} (MCSE of log {_fmt(mcse_log_median, 3)})", est_dev,
         abs(est_dev) <= ESTIMATE_TOLERANCE, "reproduction"),
        (f"95% CI from the {label}, as reported (median limits)", finding.ci_label,
         f"{_fmt(low)}-{_fmt(high)}", np.nan, None, "reproduction"),
        (f"CI width, ln(high) - ln(low), {label}", _fmt(finding.ci_width_log, 3) + assumed,
         _fmt(width, 3), width_dev, abs(width_dev) <= CI_WIDTH_TOLERANCE, "reproduction"),
    ]


def _one_cohort(scenario: Scenario, rng: np.random.Generator, progress: bool):
    """One simulated cohort: the matched-design curves by arm (``run_analysis``) and the study
    analysis' own estimate on the same cohort (None and the reason if it fails); a bar
    labelled "<scenario> one cohort" over the three steps."""
    design = scenario.design or DesignSpec()
    bar = tqdm(total=3, desc=f"{scenario.name} one cohort", unit="step",
               disable=None if progress else True)
    with bar:
        cohort = simulate_cohort(scenario, rng).data
        data = cohort.drop(columns=[c for c in cohort if c.startswith("true_")])
        bar.update()
        one = run_analysis(
            data,
            design="matched_cox",
            rng=rng,
            controls=design.controls,
            exact=design.exact,
            caliper=dict(design.caliper),
            test_window_days=design.test_window_days,
        )
        bar.update()
        try:
            estimate, note = study_analysis(scenario)(data, scenario, rng), ""
        except ReawakenError as exc:
            estimate, note = None, " ".join(str(exc).split())
        bar.update()
    figures = {f"{k}_one_cohort": v for k, v in one.figures.items() if k in ("km", "cif")}
    return figures, estimate, note


def _power_curve(scenario: Scenario, seed: int, power_reps: int, options: dict) -> pd.DataFrame:
    """Simulated power at half, once and twice the cohort size, one labelled run per size
    (the scenario's name labels its progress bar; results do not depend on it)."""
    ns = sorted({max(500, int(scenario.n * f)) for f in (0.5, 1.0, 2.0)})
    tables = [
        simulate_power(
            replace(scenario, name=f"{scenario.name} power, n={n:,}"), n_grid=[n],
            reps=power_reps, seed=seed, **options,
        ).table
        for n in ns
    ]
    return pd.concat(tables, ignore_index=True)


def _rows(finding, scenario, reps_table, null_table, battery: StressResult) -> pd.DataFrame:
    analysis = (scenario.design or DesignSpec()).analysis
    check = check_inference(
        reps_table,
        null_table,
        analysis=analysis,
        measure=finding.measure,
        finding=finding,
        truth=stored_truth(scenario, analysis),
        null_truth=stored_truth(null_scenario(scenario), analysis),
    )
    ok = reps_table.dropna(subset=["log_estimate"])
    se_target = (scenario.calibration or {}).get("se_target", DEFAULT_SE_TARGET)
    rows = [
        *_reproduction_rows(finding, ok, se_target),
        *inference_rows(check, finding),
        _evalue_row(finding, ok, se_target),
    ]
    rows += [
        (f"tipping point: {t.mechanism}", "", _tipping_text(t), np.nan, None, "tipping point")
        for t in battery.tipping_points.itertuples()
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


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
    stress_options: dict | None = None,
) -> Certificate:
    """Compute the certificate of one finding (see module docstring).

    ``name`` is a shipped finding or a finding TOML file; ``scenario`` (a preset name or a
    scenario file, e.g. one written by ``reawaken calibrate``) defaults to the finding's preset.
    ``checkpoint`` is a folder of replicate checkpoints (``run_replicates(checkpoint=...)``)
    shared by the replicates, the power curve and the stress battery. ``stress_options`` go to
    :func:`reawaken.sensitivity.stress.run_battery` (e.g. ``mechanisms``, ``n`` for a quick
    look; the default runs every mechanism at the scenario's size).
    """
    finding = load_finding(name)
    scenario = load_scenario_for_finding(name, scenario)
    figures, one_estimate, one_note = _one_cohort(scenario, np.random.default_rng(seed), progress)
    options = {"executor": executor, "progress": progress, "checkpoint": checkpoint}
    reps_table, null_table = (
        run_replicates(sc, reps=reps, seed=seed, **options).data
        for sc in (scenario, null_scenario(scenario))
    )
    curve = _power_curve(scenario, seed, power_reps, options)
    battery = run_battery(
        scenario, finding, reps=stress_reps, seed=seed, **(stress_options or {}),
        **{**options, "executor": executor if executor != "dask" else "serial"},
    )
    rows = _rows(finding, scenario, reps_table, null_table, battery)
    figures |= certificate_figures(finding, reps_table, curve, battery)
    record = scenario.calibration or {}
    provenance = f"scenario {scenario.name}" + (
        f", written by `{record['command']}`" if "command" in record else " (not calibrated)"
    )
    return Certificate(
        finding, rows, reps_table, curve, battery.table, battery.tipping_points, figures,
        provenance, forest_rows(finding, reps_table), one_estimate, one_note,
    )
