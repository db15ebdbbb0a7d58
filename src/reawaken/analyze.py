"""``reawaken analyze``: run a study design on a Cohort table and collect tidy outputs.

Designs
-------
``time_varying_cox``
    Cox model with documented exposure as a time-varying covariate (adjusted for the
    covariates or a formula), HR by window since exposure (0-90, 90-365, 365+ days), PH test;
    figures: Simon–Makuch curves (persons move to the exposed curve on the exposure day),
    landmark curves (exposure fixed at a landmark day, follow-up from it), each with its
    caveat, and the cumulative incidence of the outcome and the competing event.
``matched_cox``
    Exposure-density matching (``controls`` per exposed person, ``exact``/``caliper``
    constraints, optional test window), then the set-stratified Cox model, the matched OR
    (conditional logistic regression) and a Fine–Gray model of the arms, each with the
    shared-members SE (persons recur across sets), the set-stratified log-rank test with the
    shared-members variance, and Gray's test; figures: KM and cumulative incidence by arm with
    at-risk tables (CIs assume independent rows), Love plot.
``naive_cox``
    The "ever exposed" Cox model that commits immortal time bias, labelled as such (teaching);
    figure: KM by ever-exposed from entry, labelled biased.
``time_fixed_cox``
    An exposure known at baseline in a one-row-per-person table (not the cohort contract):
    KM by exposure group with censoring marks and an at-risk table, log-rank test, Cox model
    (:mod:`reawaken.analyze_time_fixed`).

Models take ``covariates`` (numeric columns) or a ``formula`` (``"exposed + age + C(stage)"``,
:mod:`reawaken.analysis.formula`; the exposure is the variable ``exposed``, ever-exposed in the
naive design). Every model's full coefficient table is reported with its measure (HR, OR,
SHR), distinct persons and events (and rows where they differ), and survival curves are
reported at chosen ``times`` (:mod:`reawaken.analyze_output`).

Everything is computed in memory first; :func:`write_analysis` then writes the output folder
whole or not at all, so a failed run leaves no partial output and a rerun into the same folder
(with ``overwrite``) leaves no stale file of the earlier design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import schema
from .analysis.competing import cumulative_incidence
from .analysis.cox import fit_cox, fit_matched_cox, fit_naive_ever_exposed, hr_by_window
from .analysis.diagnostics import ph_test
from .analysis.finegray import fit_fine_gray
from .analysis.formula import drop_variable, formula_variables
from .analysis.km import KaplanMeierResult, kaplan_meier
from .analysis.matched_or import matched_odds_ratio
from .analysis.matched_variance import matched_score_test
from .analysis.results import ModelResult
from .analyze_curves import exposure_curve_outputs
from .analyze_output import (
    ESTIMATE_COLUMNS,
    AnalysisOutput,
    estimate_rows,
    person_counts,
    survival_rows,
)
from .checks import checked
from .design.balance import MatchReport
from .design.episodes import split_at_exposure
from .design.matching import match_exposure_density
from .errors import AnalysisError
from .inputs import require_columns
from .io import write_table, write_text_atomic
from .outputs import dumps_json, output_directory
from .report.balance import love_plot
from .report.figures import save_figure
from .report.plots import plot_curves_with_at_risk
from .resources import check_memory, matched_analysis_bytes
from .study.registry import analyze_design_names

#: The designs ``reawaken analyze`` offers (:data:`reawaken.study.registry.STUDY_DESIGNS`).
DESIGNS = analyze_design_names()
#: Most controls per exposed person: 1:K matching has efficiency K/(K+1) (99% at 100) and
#: statsmodels' conditional likelihood recurses once per member of a set (Python's recursion
#: limit ended a 1:1,000,000 request in a RecursionError).
MAX_CONTROLS = 100
#: Default landmark of the time-varying design's landmark curves (days since entry).
DEFAULT_LANDMARK_DAYS = 180.0
__all__ = ["DESIGNS", "ESTIMATE_COLUMNS", "AnalysisOutput", "run_analysis", "write_analysis"]


@checked
def parse_match_on(spec: str | None) -> tuple[list[str], dict[str, float]]:
    """``"age:2,stage,her2"`` → exact ``[stage, her2]`` and caliper ``{age: 2.0}``."""
    exact: list[str] = []
    caliper: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        name, _, width = part.partition(":")
        if width:
            try:
                caliper[name] = float(width)
            except ValueError as exc:
                raise AnalysisError(
                    f"--match-on: caliper width {width!r} for {name!r} is not a number; "
                    "write e.g. age:2"
                ) from exc
        else:
            exact.append(name)
    return exact, caliper


def _tests_frame(rows: list[tuple[str, float, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["test", "statistic", "df", "p_value"])


def _cif_figure(data, duration, event, cause, group, title, ci: bool = True) -> Figure | None:
    if not (data[event] == cause).any():
        return None
    res = cumulative_incidence(data, duration=duration, event=event, cause=cause, group=group)
    return plot_curves_with_at_risk(
        res.table, res.at_risk, estimate="cif", ylabel="Cumulative incidence", title=title, ci=ci
    )


@dataclass(frozen=True)
class _Options:
    """Model options shared by the cohort designs."""

    covariates: list[str]
    formula: str | None
    cause: int
    ties: str
    times: list[float] | None
    landmark: float


@checked(skip=("data",))
def run_analysis(
    data: pd.DataFrame,
    *,
    design: str,
    rng: np.random.Generator,
    covariates: Sequence[str] | None = None,
    formula: str | None = None,
    controls: int = 4,
    exact: Sequence[str] = (),
    caliper: Mapping[str, float] | None = None,
    test_window_days: float | None = None,
    cause: int = 1,
    times: Sequence[float] | None = None,
    landmark: float = DEFAULT_LANDMARK_DAYS,
    ties: str = "efron",
    duration: str | None = None,
    event: str = schema.EVENT,
    exposure: str = "exposed",
) -> AnalysisOutput:
    """Run ``design`` on a validated Cohort table (see module docstring).

    ``duration``, ``event`` and ``exposure`` name the columns of a ``time_fixed_cox`` table
    (:func:`reawaken.analyze_time_fixed.run_time_fixed`); the other designs read the cohort
    contract's columns. ``times`` are the times (days since entry / index, or the unit of
    ``duration``) at which curves are reported; ``landmark`` is the landmark day of the
    time-varying design's landmark curves.

    Raises
    ------
    AnalysisError
        For an unknown design, ``controls`` outside ``1..MAX_CONTROLS``, a ``cause`` that is
        not a positive event code, both or neither of covariates and formula where one is
        needed, a formula without the exposure, or data the design cannot use.
    CohortError
        If the cohort breaks the data contract.
    """
    if design not in DESIGNS:
        raise AnalysisError(
            f"design must be one of {', '.join(DESIGNS)}, got {design!r}; fix: pick one of them"
        )
    _check_whole(
        "controls", controls, 1, MAX_CONTROLS, "controls=4 (more than 100 add < 1% efficiency)"
    )
    _check_whole("cause", cause, 1, None, "cause=1")
    if covariates is not None and formula is not None:
        raise AnalysisError(
            "give covariates or a formula, not both; fix: put the covariates in the formula, "
            "e.g. 'exposed + age + C(stage)'"
        )
    if design == "time_fixed_cox":
        from .analyze_time_fixed import run_time_fixed

        if duration is None:
            raise AnalysisError(
                "the time-fixed design needs the follow-up time column; fix: pass duration= "
                "(--duration), e.g. --duration week"
            )
        return run_time_fixed(
            data,
            duration=duration,
            event=event,
            exposure=exposure,
            covariates=covariates,
            formula=formula,
            cause=cause,
            times=_grid(times),
            ties=ties,
        )
    if formula is not None:
        _check_formula_design(design, formula)
        used = [v for v in formula_variables(formula) if v != "exposed"]
        require_columns(data, used, "formula")
    check = schema.validate_cohort(data, covariates=[] if formula else covariates)
    opts = _Options(list(check.covariates), formula, cause, ties, _grid(times), landmark)
    if design == "time_varying_cox":
        return _time_varying(data, opts)
    if design == "naive_cox":
        return _naive(data, opts)
    exposed = int(data[schema.EXPOSURE_DAY].notna().sum())
    check_memory(
        matched_analysis_bytes(exposed, controls, len(data), data.shape[1]),
        f"matching {exposed:,} exposed persons to {controls} controls each",
        "match fewer controls (--controls), or analyse a smaller cohort",
    )
    return _matched(
        data,
        opts.covariates,
        cause,
        rng,
        controls,
        exact,
        caliper or {},
        test_window_days,
        times=opts.times,
        ties=ties,
    )


def _grid(times: Sequence[float] | None) -> list[float] | None:
    if times is None:
        return None
    grid = [float(t) for t in times]
    if not grid or not all(np.isfinite(t) and t >= 0 for t in grid):
        raise AnalysisError(
            f"times must be a non-empty list of finite times >= 0, got {times!r}; fix: pass "
            "e.g. times=[365, 730] (--times 365,730)"
        )
    return sorted(set(grid))


def _check_formula_design(design: str, formula: str) -> None:
    if design == "matched_cox":
        raise AnalysisError(
            "--formula is for the time-varying, naive and time-fixed designs; matched sets "
            "already condition on the matching variables; fix: match on them with --match-on"
        )
    if "exposed" not in formula_variables(formula):
        raise AnalysisError(
            f"formula {formula!r} does not use the exposure; fix: include the variable "
            "'exposed', e.g. 'exposed + age + C(stage)'"
        )


def _check_whole(name: str, value: object, lo: int, hi: int | None, example: str) -> None:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise AnalysisError(
            f"{name} must be a whole number {bound}, got {value!r}; fix: pass e.g. {example}"
        )


def _time_varying_models(
    cohort: pd.DataFrame, opts: _Options
) -> tuple[list[pd.DataFrame], ModelResult, list[str]]:
    """The time-varying Cox model (all terms) and the HR-by-window model (window terms)."""
    variables = (
        [v for v in formula_variables(opts.formula) if v != "exposed"]
        if opts.formula
        else opts.covariates
    )
    episodes = split_at_exposure(cohort, covariates=variables, cause=opts.cause)
    tv = fit_cox(
        episodes,
        start="start",
        stop="stop",
        event="event",
        covariates=None if opts.formula else ["exposed", *opts.covariates],
        formula=opts.formula,
        cluster=schema.ID,
        ties=opts.ties,
    )
    counts = person_counts(episodes[schema.ID].to_numpy(), episodes["event"].to_numpy())
    parts = [estimate_rows(tv, "time-varying Cox (cause-specific, robust SE)", counts)]
    notes = []
    adjust, dropped = drop_variable(opts.formula, "exposed") if opts.formula else (None, [])
    if [d for d in dropped if d != "exposed"]:
        notes.append(
            f"HR by window leaves out the exposure terms {', '.join(dropped)} of the formula"
        )
    try:
        windows = hr_by_window(
            cohort,
            covariates=[] if opts.formula else opts.covariates,
            cause=opts.cause,
            ties=opts.ties,
            adjust=adjust,
        )
        terms = [t for t in windows.table["term"] if t.startswith("window_")]
        label = "time-varying Cox, HR by window since exposure (same adjustment)"
        parts.append(estimate_rows(windows, label, counts, terms))
    except AnalysisError as exc:
        notes.append(f"HR by window not estimable (too few events per window): {exc}")
    return parts, tv, notes


def _time_varying(cohort: pd.DataFrame, opts: _Options) -> AnalysisOutput:
    parts, tv, notes = _time_varying_models(cohort, opts)
    ph = ph_test(tv).table
    exposure_rows = ph[ph["term"].isin(["exposed", "GLOBAL"])]
    tests = _tests_frame(
        [
            (
                "PH test for exposure (scaled Schoenfeld, KM time)"
                if r.term == "exposed"
                else "PH test, global (scaled Schoenfeld, KM time)",
                r.statistic,
                int(r.df),
                r.p_value,
            )
            for r in exposure_rows.itertuples()
        ]
    )
    figures, rows, captions, curve_notes = exposure_curve_outputs(
        cohort, cause=opts.cause, landmark=opts.landmark, times=opts.times
    )
    data = cohort.assign(_t=cohort[schema.EVENT_DAY] - cohort[schema.ENTRY_DAY])
    fig = _cif_figure(
        data,
        "_t",
        schema.EVENT,
        opts.cause,
        None,
        "Cumulative incidence of the outcome, whole cohort",
    )
    if fig is not None:
        figures["cif"] = fig
    return AnalysisOutput(
        "time_varying_cox",
        pd.concat(parts, ignore_index=True),
        tests,
        None,
        tuple(notes + curve_notes),
        figures,
        survival=pd.concat(rows, ignore_index=True),
        captions=captions,
    )


def _naive(cohort: pd.DataFrame, opts: _Options) -> AnalysisOutput:
    naive = fit_naive_ever_exposed(
        cohort,
        covariates=opts.covariates,
        cause=opts.cause,
        ties=opts.ties,
        formula=opts.formula,
    )
    data = cohort.assign(
        _t=cohort[schema.EVENT_DAY] - cohort[schema.ENTRY_DAY],
        ever_exposed=np.where(cohort[schema.EXPOSURE_DAY].notna(), "ever exposed", "never exposed"),
    )
    km = kaplan_meier(
        data, duration="_t", event=schema.EVENT, group="ever_exposed", cause=opts.cause
    )
    title = "Ever vs never exposed from entry: BIASED by immortal time"
    fig = plot_curves_with_at_risk(
        km.table,
        km.at_risk,
        estimate="survival",
        ylabel="Outcome-free survival",
        xlabel="Days since entry",
        title=title,
    )
    notes = (
        "naive design: exposure classified from entry by whether it ever happens; "
        "this credits pre-exposure survival to the exposed (immortal time bias)",
    )
    counts = person_counts(cohort[schema.ID].to_numpy(), data[schema.EVENT] == opts.cause)
    return AnalysisOutput(
        "naive_cox",
        estimate_rows(naive, naive.method, counts),
        _tests_frame([]),
        None,
        notes,
        {"km_naive": fig},
        survival=survival_rows(km, "Kaplan-Meier from entry (BIASED)", opts.times),
    )


def _matched(
    cohort, covs, cause, rng, controls, exact, caliper, window, *, times=None, ties="efron"
) -> AnalysisOutput:
    """Matched design. Persons recur across sets (reused controls, controls later exposed), so
    the Cox, OR and Fine-Gray SEs are the shared-members ones (model and person-robust SEs in
    their columns) and the log-rank test is replaced by the set-stratified robust score test
    with the shared-members variance; KM and cumulative-incidence CIs and Gray's test pool the
    rows and assume them independent, which the notes say."""
    matched = match_exposure_density(
        cohort,
        rng=rng,
        controls=controls,
        exact=exact,
        caliper=caliper,
        test_window_days=window,
        covariates=covs,
    )
    data = matched.data
    estimates, model_notes = _matched_models(data, cause, ties)
    score = matched_score_test(data, cause=cause)
    arm = data.assign(arm=np.where(data["exposed"] == 1, "exposed", "matched controls"))
    km = kaplan_meier(arm, duration="time", event=schema.EVENT, group="arm", cause=cause)
    notes = [
        *matched.report.summary().splitlines(),
        *model_notes,
        *_matched_variance_notes(matched.report),
        "curves by arm are descriptive (no CIs, no Gray's test): persons recur across matched "
        "sets, which Greenwood and Aalen-Johansen variances ignore; compare arms with the "
        "models' shared-members SEs and the robust score test",
    ]
    return AnalysisOutput(
        "matched_cox",
        pd.concat(estimates, ignore_index=True),
        _tests_frame([(score.method, score.statistic, score.df, score.p_value)]),
        matched.report.balance,
        tuple(notes),
        _matched_figures(arm, km, cause, matched.report),
        survival=survival_rows(
            km, "Kaplan-Meier by arm (rows of all sets; descriptive, no CI)", times
        ).assign(ci_low=np.nan, ci_high=np.nan),
    )


def _matched_models(
    data: pd.DataFrame, cause: int, ties: str
) -> tuple[list[pd.DataFrame], list[str]]:
    """Estimate rows of the matched Cox, OR and (with competing events) Fine-Gray models."""
    cox = fit_matched_cox(data, cause=cause, ties=ties)
    odds = matched_odds_ratio(data, cause=cause)
    counts = person_counts(data[schema.ID].to_numpy(), data[schema.EVENT] == cause)
    estimates = [
        estimate_rows(cox, "matched Cox (set-stratified, shared-members SE)", counts),
        estimate_rows(odds, "matched OR (conditional logistic, shared-members SE)", counts),
    ]
    notes = []
    if (data[schema.EVENT] > 0).any() and (data[schema.EVENT] != cause).any():
        try:
            fg = fit_fine_gray(
                data,
                duration="time",
                event=schema.EVENT,
                cause=cause,
                covariates=["exposed"],
                cluster=schema.ID,
                sets="set_id",
            )
            label = "Fine-Gray subdistribution HR (not set-stratified, shared-members SE)"
            estimates.append(estimate_rows(fg, label, counts, ["exposed"]))
        except AnalysisError as exc:
            notes.append(f"Fine-Gray model not estimable: {exc}")
    return estimates, notes


def _matched_figures(
    arm: pd.DataFrame, km: KaplanMeierResult, cause: int, report: MatchReport
) -> dict[str, Figure]:
    """KM and cumulative incidence by arm (descriptive, no CIs) and the Love plot."""
    # Greenwood/Aalen-Johansen CIs and Gray's test assume independent rows, which reused
    # persons break: the curves are drawn as descriptions only; the shared-members SEs of the
    # models and the robust score test carry the inference.
    figures = {
        "km": plot_curves_with_at_risk(
            km.table,
            km.at_risk,
            estimate="survival",
            ylabel="Outcome-free survival",
            title="Kaplan-Meier by arm (descriptive: persons recur across sets, so no CIs)",
            ci=False,
        )
    }
    fig = _cif_figure(
        arm,
        "time",
        schema.EVENT,
        cause,
        "arm",
        "Cumulative incidence by arm (Aalen-Johansen; descriptive, no CIs)",
        ci=False,
    )
    if fig is not None:
        figures["cif"] = fig
    if len(report.balance):
        figures["love"] = love_plot(report)
    return figures


def _matched_variance_notes(report) -> list[str]:
    """What the matched-data variances account for, and what the curves do not."""
    return [
        f"{report.n_controls_reused} control(s) serve in several sets and "
        f"{report.n_controls_also_exposed} control(s) also open a set as exposed: SEs and the "
        "log-rank test use the shared-members variance (sets sharing a person are dependent); "
        "the se and robust_se columns are the model and person-clustered SEs, for comparison",
        "KM and cumulative-incidence CIs and Gray's test pool the rows of all sets and assume "
        "them independent; with persons recurring across sets those CIs are too narrow",
    ]


@checked
def write_analysis(
    output: AnalysisOutput, out_dir: str | Path, *, overwrite: bool = False
) -> list[Path]:
    """Write ``estimates.csv/.json``, ``tests.csv``, ``balance.csv``, ``survival.csv``,
    ``summary.txt`` and each
    figure as PNG + SVG into ``out_dir``, whole or not at all
    (:func:`reawaken.outputs.output_directory`: a non-empty ``out_dir`` is refused unless
    ``overwrite``, and then replaced, so no file of an earlier run is left beside these).
    Returns the paths written."""
    with output_directory(out_dir, overwrite=overwrite) as folder:
        written = _write_files(output, folder)
    return [Path(out_dir) / p.relative_to(folder) for p in written]


def _write_files(output: AnalysisOutput, out: Path) -> list[Path]:
    paths = [write_table(output.estimates, out / "estimates.csv")]
    paths.append(write_text_atomic(out / "estimates.json", dumps_json(output.to_dict()) + "\n"))
    paths.append(write_table(output.tests, out / "tests.csv"))
    if output.balance is not None:
        paths.append(write_table(output.balance, out / "balance.csv"))
    if output.survival is not None:
        paths.append(write_table(output.survival, out / "survival.csv"))
    paths.append(write_text_atomic(out / "summary.txt", output.summary() + "\n"))
    for name, fig in output.figures.items():
        paths.extend(save_figure(fig, out / name))
    return paths
