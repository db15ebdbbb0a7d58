"""The registry of study designs: one name per design, read by every layer that names one.

A *study design* is what a reported finding did to its data: which persons enter, when
follow-up starts, whether exposed persons are matched to controls, and which model gives the
effect estimate. The scenario's ``[design] analysis`` key, the study analyses run on simulated
cohorts (:mod:`reawaken.study.analyses`), ``reawaken analyze`` on a cohort file and the command
line's choices all read their names from :data:`STUDY_DESIGNS`, so they cannot drift apart.

This module imports nothing heavy (no numpy, no pandas): the command line builds its choices
from it at start-up, and the scenario parser validates names with it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AnalysisError

#: The effect measures a design can report: hazard ratio, odds ratio, subdistribution HR.
MEASURES = ("HR", "OR", "SHR")


@dataclass(frozen=True)
class StudyDesign:
    """One study design.

    Attributes
    ----------
    name : str
        The one name used everywhere (scenario files, ``--design``, replicate tables).
    measure : str
        The effect measure it estimates, one of :data:`MEASURES`.
    matched : bool
        Whether it analyses exposure-density matched sets (persons shared between sets make
        the shared-members SE the valid one; :mod:`reawaken.analysis.matched_variance`).
    summary : str
        One line for help texts and tables.
    study_function : str | None
        ``"module:function"`` of the study analysis ``(data, scenario, rng) -> Estimate`` run on
        simulated cohorts, or ``None`` when the design is offered only by ``reawaken analyze``.
    analyze : bool
        Whether ``reawaken analyze`` (:func:`reawaken.analyze.run_analysis`) offers it for a
        cohort file.
    """

    name: str
    measure: str
    matched: bool
    summary: str
    study_function: str | None = None
    analyze: bool = False

    def function(self) -> Callable:
        """The study analysis callable (imported on first use).

        Raises
        ------
        AnalysisError
            If the design has no study analysis on simulated cohorts.
        """
        if self.study_function is None:
            raise AnalysisError(
                f"study design {self.name!r} has no study analysis for simulated cohorts; "
                f"fix: use one of {', '.join(study_design_names())}"
            )
        module, _, attribute = self.study_function.partition(":")
        return getattr(importlib.import_module(module), attribute)


_ANALYSES = "reawaken.study.analyses"

STUDY_DESIGNS: dict[str, StudyDesign] = {
    d.name: d
    for d in (
        StudyDesign(
            "time_varying_cox",
            "HR",
            False,
            "Cox model with documented exposure as a time-varying covariate, adjusted "
            "(the Flatiron design)",
            f"{_ANALYSES}:time_varying_cox_hr",
            analyze=True,
        ),
        StudyDesign(
            "matched_cox",
            "HR",
            True,
            "exposure-density matching, then a Cox model stratified by matched set "
            "(shared-members SE); reawaken analyze also reports the matched OR",
            f"{_ANALYSES}:matched_cox_hr",
            analyze=True,
        ),
        StudyDesign(
            "matched_or",
            "OR",
            True,
            "exposure-density matching of test-positive to test-negative persons, conditional "
            "logistic regression of the outcome after the index day (the UK Biobank design)",
            f"{_ANALYSES}:matched_or",
        ),
        StudyDesign(
            "test_negative_logistic",
            "OR",
            False,
            "unmatched test-negative design: logistic regression of the outcome after the "
            "index test on positivity",
            f"{_ANALYSES}:logistic_or_test_negative",
        ),
        StudyDesign(
            "naive_cox",
            "HR",
            False,
            "ever-exposed vs never-exposed Cox model from entry: commits immortal time bias "
            "on purpose, for teaching",
            analyze=True,
        ),
        StudyDesign(
            "time_fixed_cox",
            "HR",
            False,
            "Cox model on an exposure known at baseline, one row per person "
            "(needs the follow-up time column)",
            analyze=True,
        ),
    )
}


def study_design_names() -> tuple[str, ...]:
    """Designs with a study analysis on simulated cohorts (scenario ``[design] analysis``)."""
    return tuple(n for n, d in STUDY_DESIGNS.items() if d.study_function is not None)


def analyze_design_names() -> tuple[str, ...]:
    """Designs offered by ``reawaken analyze`` for a cohort file."""
    return tuple(n for n, d in STUDY_DESIGNS.items() if d.analyze)


def matched_design_names() -> tuple[str, ...]:
    """Designs that analyse exposure-density matched sets."""
    return tuple(n for n, d in STUDY_DESIGNS.items() if d.matched)
