"""``reawaken analyze --design time_fixed_cox``: an exposure known at baseline.

The input is an ordinary survival table, one row per person — not the cohort contract (which
describes an exposure that happens during follow-up): a follow-up time column (``duration``,
in any unit: days, weeks, ...), an event column (0 censored, 1, 2, ... with ``cause`` naming
the event of interest; other codes are censored), an exposure column (``exposure``: the groups
compared, 2 to :data:`MAX_GROUPS` levels, numbers or labels) and the model's covariates or
formula variables. :func:`check_time_fixed` validates it: the named columns exist; the time is
numeric, finite and >= 0; the event codes are non-negative integers with at least one event of
``cause``; the exposure has no missing value and 2..:data:`MAX_GROUPS` levels; covariates are
numeric (a formula may use text columns through ``C()``); nothing is missing.

Outputs: Kaplan–Meier curves by exposure group with censoring marks and an at-risk table, the
log-rank test, the Cox model with every term (Efron ties by default, as R's ``coxph``) and its
PH test, survival at the chosen times.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .analysis.cox import fit_cox
from .analysis.diagnostics import ph_test
from .analysis.formula import formula_variables
from .analysis.km import kaplan_meier, logrank
from .analyze_output import AnalysisOutput, estimate_rows, person_counts, survival_rows
from .errors import AnalysisError
from .inputs import check_durations, check_events, numeric_column, require_frame
from .report.plots import plot_curves_with_at_risk

WHERE = "time-fixed design"
#: Most exposure groups for curves by group (a continuous exposure needs grouping first).
MAX_GROUPS = 10


def check_time_fixed(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    exposure: str,
    variables: Sequence[str],
    cause: int,
) -> None:
    """Validate a time-fixed table (rules in the module docstring); raises AnalysisError."""
    require_frame(data, WHERE)
    names = [duration, event, exposure, *variables]
    missing = [c for c in dict.fromkeys(names) if c not in data.columns]
    if missing:
        raise AnalysisError(
            f"{WHERE}: unknown column(s) {', '.join(map(repr, missing))}; columns present: "
            f"{', '.join(map(str, list(data.columns)[:20]))}; fix: name them with --duration, "
            "--event, --exposure and --formula/--covariates"
        )
    check_durations(data, duration, WHERE)
    check_events(data, event, WHERE, cause=cause)
    groups = data[exposure]
    if groups.isna().any():
        raise AnalysisError(
            f"{WHERE}: exposure column {exposure!r} has {int(groups.isna().sum())} missing "
            "value(s); fix: drop those rows or code them as a group"
        )
    levels = groups.nunique()
    if not 2 <= levels <= MAX_GROUPS:
        raise AnalysisError(
            f"{WHERE}: exposure column {exposure!r} has {levels} level(s); curves by group need "
            f"2 to {MAX_GROUPS}; fix: pick a baseline exposure column, or group a continuous one"
        )


def run_time_fixed(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    exposure: str = "exposed",
    covariates: Sequence[str] | None = None,
    formula: str | None = None,
    cause: int = 1,
    times: Sequence[float] | None = None,
    ties: str = "efron",
) -> AnalysisOutput:
    """KM by exposure, log-rank test and Cox model of a one-row-per-person table.

    Cox: ``h(t | x) = h0(t) exp(x'beta)`` (Cox 1972) with ``x`` the ``formula``'s columns, or
    ``exposure`` and ``covariates`` (numeric); the formula must use ``exposure``. KM (Kaplan &
    Meier 1958) and log-rank (Mantel 1966) by the levels of ``exposure``, cause-specific.
    """
    if formula is not None:
        variables = formula_variables(formula, WHERE)
        if exposure not in variables:
            raise AnalysisError(
                f"{WHERE}: formula {formula!r} does not use the exposure {exposure!r}; fix: "
                f"add it, e.g. '{exposure} + age', or name another column with --exposure"
            )
    else:
        variables = [exposure, *(c for c in covariates or () if c != exposure)]
    check_time_fixed(
        data, duration=duration, event=event, exposure=exposure, variables=variables, cause=cause
    )
    if formula is None:
        for c in variables:
            numeric_column(data, c, WHERE)
    cox = fit_cox(
        data,
        duration=duration,
        event=event,
        formula=formula,
        covariates=None if formula else variables,
        cause=cause,
        ties=ties,
    )
    counts = person_counts(np.arange(len(data)), data[event].to_numpy() == cause)
    estimates = estimate_rows(cox, f"Cox ({ties} ties), cause {cause}", counts)
    labelled = data.assign(_group=_group_labels(data[exposure], exposure))
    km = kaplan_meier(labelled, duration=duration, event=event, group="_group", cause=cause)
    rank = logrank(labelled, duration=duration, event=event, group="_group", cause=cause)
    ph = ph_test(cox).table
    tests = [(f"{rank.method} by {exposure}", rank.statistic, rank.df, rank.p_value)]
    tests += [
        (f"PH test {r.term} (scaled Schoenfeld, KM time)", r.statistic, int(r.df), r.p_value)
        for r in ph.itertuples()
    ]
    figure = plot_curves_with_at_risk(
        km.table,
        km.at_risk,
        estimate="survival",
        ylabel="Event-free survival",
        xlabel=f"Time ({duration})",
        title=f"Kaplan-Meier by {exposure} (log-rank p = {rank.p_value:.3g})",
    )
    notes = (
        f"time-fixed design: {exposure} is known at the start of follow-up ({duration} = 0); "
        "one row per person",
    )
    return AnalysisOutput(
        "time_fixed_cox",
        estimates,
        pd.DataFrame(tests, columns=["test", "statistic", "df", "p_value"]),
        None,
        notes,
        {"km": figure},
        survival=survival_rows(km, f"Kaplan-Meier by {exposure}", times),
    )


def _group_labels(values: pd.Series, exposure: str) -> pd.Categorical:
    """``fin=0``, ``fin=1``, ... ordered as the exposure's sorted levels."""
    levels = sorted(pd.unique(values), key=lambda v: (str(type(v)), v))
    names = [f"{exposure}={v}" for v in levels]
    return pd.Categorical.from_codes(pd.Index(levels).get_indexer(values), categories=names)
