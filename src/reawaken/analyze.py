"""``reawaken analyze``: run a study design on a Cohort table and collect tidy outputs.

Designs
-------
``time-varying``
    Cox model with documented exposure as a time-varying covariate (adjusted for the
    covariates), HR by window since exposure (0-90, 90-365, 365+ days), PH test; figure:
    cumulative incidence of the outcome and the competing event (whole cohort).
``matched``
    Exposure-density matching (``controls`` per exposed person, ``exact``/``caliper``
    constraints, optional test window), then the set-stratified Cox model, the matched OR
    (conditional logistic regression) and a Fine–Gray model of the arms, each with the
    shared-members SE (persons recur across sets), the set-stratified log-rank test with the
    shared-members variance, and Gray's test; figures: KM and cumulative incidence by arm with
    at-risk tables (CIs assume independent rows), Love plot.
``naive``
    The "ever exposed" Cox model that commits immortal time bias, labelled as such (teaching);
    figure: KM by ever-exposed from entry, labelled biased.

Everything is computed in memory first; :func:`write_analysis` then writes the output folder
whole or not at all, so a failed run leaves no partial output and a rerun into the same folder
(with ``overwrite``) leaves no stale file of the earlier design.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import schema
from .analysis.competing import cumulative_incidence, gray_test
from .analysis.cox import fit_cox, fit_matched_cox, fit_naive_ever_exposed, hr_by_window
from .analysis.diagnostics import ph_test
from .analysis.finegray import fit_fine_gray
from .analysis.km import kaplan_meier
from .analysis.matched_or import matched_odds_ratio
from .analysis.matched_variance import matched_score_test
from .analysis.results import ModelResult
from .checks import checked
from .design.episodes import split_at_exposure
from .design.matching import match_exposure_density
from .errors import AnalysisError
from .io import write_table, write_text_atomic
from .outputs import dumps_json, output_directory
from .report.balance import love_plot
from .report.figures import save_figure
from .report.plots import plot_curves_with_at_risk

DESIGNS = ("time-varying", "matched", "naive")
#: Most controls per exposed person: 1:K matching has efficiency K/(K+1) (99% at 100) and
#: statsmodels' conditional likelihood recurses once per member of a set (Python's recursion
#: limit ended a 1:1,000,000 request in a RecursionError).
MAX_CONTROLS = 100
ESTIMATE_COLUMNS = (
    "analysis",
    "term",
    "coef",
    "se",
    "robust_se",
    "shared_members_se",
    "variance",
    "ratio",
    "ci_low",
    "ci_high",
    "p_value",
    "n",
    "events",
)


@dataclass(frozen=True, eq=False)
class AnalysisOutput:
    """Tidy results of one design: estimates, tests, balance, figures (not yet saved)."""

    design: str
    estimates: pd.DataFrame
    tests: pd.DataFrame
    balance: pd.DataFrame | None
    notes: tuple[str, ...]
    figures: Mapping[str, Figure] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"design: {self.design}"]
        for r in self.estimates.itertuples():
            lines.append(
                f"  {r.analysis:<44} {r.term:<18} {r.ratio:7.3f} "
                f"({r.ci_low:.3f}-{r.ci_high:.3f}) p={r.p_value:.3g}"
            )
        for r in self.tests.itertuples():
            lines.append(
                f"  {r.test:<44} statistic {r.statistic:.3f} (df {r.df}) p={r.p_value:.3g}"
            )
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


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


def _rows(result: ModelResult, analysis: str, terms: Sequence[str] | None = None) -> pd.DataFrame:
    t = result.table
    if terms is not None:
        t = t[t["term"].isin(terms)]
    out = pd.DataFrame(
        {
            "analysis": analysis,
            "term": t["term"],
            "coef": t["coef"],
            "se": t["se"],
            "robust_se": t["robust_se"] if "robust_se" in t else np.nan,
            "shared_members_se": t["shared_members_se"] if "shared_members_se" in t else np.nan,
            "variance": result.variance_name,
            "ratio": t["hr"],
            "ci_low": t["ci_low"],
            "ci_high": t["ci_high"],
            "p_value": t["p_value"],
            "n": result.n,
            "events": result.events,
        }
    )
    return out[list(ESTIMATE_COLUMNS)]


def _tests_frame(rows: list[tuple[str, float, int, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["test", "statistic", "df", "p_value"])


def _cif_figure(data, duration, event, cause, group, title) -> Figure | None:
    if not (data[event] == cause).any():
        return None
    res = cumulative_incidence(data, duration=duration, event=event, cause=cause, group=group)
    return plot_curves_with_at_risk(
        res.table, res.at_risk, estimate="cif", ylabel="Cumulative incidence", title=title
    )


@checked(skip=("cohort",))
def run_analysis(
    cohort: pd.DataFrame,
    *,
    design: str,
    rng: np.random.Generator,
    covariates: Sequence[str] | None = None,
    controls: int = 4,
    exact: Sequence[str] = (),
    caliper: Mapping[str, float] | None = None,
    test_window_days: float | None = None,
    cause: int = 1,
) -> AnalysisOutput:
    """Run ``design`` on a validated Cohort table (see module docstring).

    Raises
    ------
    AnalysisError
        For an unknown design, ``controls`` outside ``1..MAX_CONTROLS``, a ``cause`` that is
        not a positive event code, or data the design cannot use.
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
    check = schema.validate_cohort(cohort, covariates=covariates)
    covs = list(check.covariates)
    if design == "time-varying":
        return _time_varying(cohort, covs, cause)
    if design == "naive":
        return _naive(cohort, covs, cause)
    return _matched(cohort, covs, cause, rng, controls, exact, caliper or {}, test_window_days)


def _check_whole(name: str, value: object, lo: int, hi: int | None, example: str) -> None:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < lo or (hi is not None and value > hi):
        bound = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise AnalysisError(
            f"{name} must be a whole number {bound}, got {value!r}; fix: pass e.g. {example}"
        )


def _time_varying(cohort: pd.DataFrame, covs: list[str], cause: int) -> AnalysisOutput:
    episodes = split_at_exposure(cohort, covariates=covs, event_code=cause)
    tv = fit_cox(
        episodes,
        start="start",
        stop="stop",
        event="event",
        covariates=["exposed", *covs],
        cluster=schema.ID,
    )
    ph = ph_test(tv)
    parts = [_rows(tv, "time-varying Cox (cause-specific, robust SE)", ["exposed"])]
    notes = [
        "curves by exposure are not drawn for a time-varying exposure (ever-exposed groups "
        "would carry immortal time); use --design matched for curves by arm"
    ]
    try:
        windows = hr_by_window(cohort, covariates=covs, cause=cause)
        terms = [t for t in windows.table["term"] if t.startswith("window_")]
        parts.append(_rows(windows, "time-varying Cox, HR by window since exposure", terms))
    except AnalysisError as exc:
        notes.append(f"HR by window not estimable (too few events per window): {exc}")
    estimates = pd.concat(parts, ignore_index=True)
    ph_row = ph.table[ph.table["term"] == "exposed"].iloc[0]
    tests = _tests_frame(
        [
            (
                "PH test for exposure (scaled Schoenfeld, KM time)",
                ph_row["statistic"],
                1,
                ph_row["p_value"],
            )
        ]
    )
    data = cohort.assign(_t=cohort[schema.EVENT_DAY] - cohort[schema.ENTRY_DAY])
    figures = {}
    fig = _cif_figure(
        data, "_t", schema.EVENT, cause, None, "Cumulative incidence of the outcome, whole cohort"
    )
    if fig is not None:
        figures["cif"] = fig
    return AnalysisOutput("time-varying", estimates, tests, None, tuple(notes), figures)


def _naive(cohort: pd.DataFrame, covs: list[str], cause: int) -> AnalysisOutput:
    naive = fit_naive_ever_exposed(cohort, covariates=covs, cause=cause)
    data = cohort.assign(
        _t=cohort[schema.EVENT_DAY] - cohort[schema.ENTRY_DAY],
        ever_exposed=np.where(cohort[schema.EXPOSURE_DAY].notna(), "ever exposed", "never exposed"),
    )
    km = kaplan_meier(data, duration="_t", event=schema.EVENT, group="ever_exposed", cause=cause)
    fig = plot_curves_with_at_risk(
        km.table,
        km.at_risk,
        estimate="survival",
        ylabel="Outcome-free survival",
        xlabel="Days since entry",
        title="Ever vs never exposed from entry: BIASED by immortal time",
    )
    notes = (
        "naive design: exposure classified from entry by whether it ever happens; "
        "this credits pre-exposure survival to the exposed (immortal time bias)",
    )
    return AnalysisOutput(
        "naive",
        _rows(naive, naive.method, ["ever_exposed"]),
        _tests_frame([]),
        None,
        notes,
        {"km_naive": fig},
    )


def _matched(cohort, covs, cause, rng, controls, exact, caliper, window) -> AnalysisOutput:
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
    cox = fit_matched_cox(data, cause=cause)
    odds = matched_odds_ratio(data, cause=cause)
    estimates = [
        _rows(cox, "matched Cox (set-stratified, shared-members SE)", ["exposed"]),
        _rows(odds, "matched OR (conditional logistic, shared-members SE)", ["exposed"]),
    ]
    notes = [line for line in matched.report.summary().splitlines()]
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
            estimates.append(_rows(fg, label, ["exposed"]))
        except AnalysisError as exc:
            notes.append(f"Fine-Gray model not estimable: {exc}")
    score = matched_score_test(data, cause=cause)
    tests = [(score.method, score.statistic, score.df, score.p_value)]
    notes.extend(_matched_variance_notes(matched.report))
    arm = data.assign(arm=np.where(data["exposed"] == 1, "exposed", "matched controls"))
    figures = {}
    km = kaplan_meier(arm, duration="time", event=schema.EVENT, group="arm", cause=cause)
    figures["km"] = plot_curves_with_at_risk(
        km.table,
        km.at_risk,
        estimate="survival",
        ylabel="Outcome-free survival",
        title="Kaplan-Meier by arm (competing events censored; CIs assume independent rows)",
    )
    if (data[schema.EVENT] == cause).any() and (data[schema.EVENT] > cause).any():
        gray = gray_test(arm, duration="time", event=schema.EVENT, cause=cause, group="arm")
        tests.append(
            (
                "Gray's test (cumulative incidence by arm; assumes independent rows)",
                gray.statistic,
                gray.df,
                gray.p_value,
            )
        )
    fig = _cif_figure(
        arm, "time", schema.EVENT, cause, "arm", "Cumulative incidence by arm (Aalen-Johansen)"
    )
    if fig is not None:
        figures["cif"] = fig
    if len(matched.report.balance):
        figures["love"] = love_plot(matched.report)
    return AnalysisOutput(
        "matched",
        pd.concat(estimates, ignore_index=True),
        _tests_frame(tests),
        matched.report.balance,
        tuple(notes),
        figures,
    )


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
    """Write ``estimates.csv/.json``, ``tests.csv``, ``balance.csv``, ``summary.txt`` and each
    figure as PNG + SVG into ``out_dir``, whole or not at all
    (:func:`reawaken.outputs.output_directory`: a non-empty ``out_dir`` is refused unless
    ``overwrite``, and then replaced, so no file of an earlier run is left beside these).
    Returns the paths written."""
    with output_directory(out_dir, overwrite=overwrite) as folder:
        written = _write_files(output, folder)
    return [Path(out_dir) / p.relative_to(folder) for p in written]


def _write_files(output: AnalysisOutput, out: Path) -> list[Path]:
    paths = [write_table(output.estimates, out / "estimates.csv")]
    payload = {
        "design": output.design,
        "estimates": output.estimates.to_dict(orient="records"),
        "tests": output.tests.to_dict(orient="records"),
        "notes": list(output.notes),
    }
    paths.append(write_text_atomic(out / "estimates.json", dumps_json(payload) + "\n"))
    paths.append(write_table(output.tests, out / "tests.csv"))
    if output.balance is not None:
        paths.append(write_table(output.balance, out / "balance.csv"))
    paths.append(write_text_atomic(out / "summary.txt", output.summary() + "\n"))
    for name, fig in output.figures.items():
        paths.extend(save_figure(fig, out / name))
    return paths
