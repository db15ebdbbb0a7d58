"""reawaken: synthetic cohorts, matched-control survival analyses and stress tests for
findings that infection awakens dormant cancer (Chia et al., Nature 2025).

The curated public API is listed in ``__all__`` (pinned by a test). Its names are imported on
first use (PEP 562 module ``__getattr__`` and ``__dir__``): ``import reawaken`` loads none of
NumPy, pandas, SciPy, lifelines, statsmodels or matplotlib, and ``reawaken.fit_cox`` (or
``from reawaken import fit_cox``) loads only the modules that name needs. Type checkers and
IDEs read the same names from the ``TYPE_CHECKING`` imports below; ``_EXPORTS`` is the
run-time copy of those imports (a test keeps the two and ``__all__`` equal). ``__version__``
comes from the installed package's metadata.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .analysis.competing import cumulative_incidence, fit_cause_specific_cox, gray_test
    from .analysis.cox import (
        fit_cox,
        fit_matched_cox,
        fit_naive_ever_exposed,
        fit_time_varying_cox,
        hr_by_window,
    )
    from .analysis.diagnostics import ph_test
    from .analysis.exposure_curves import landmark_curves, simon_makuch
    from .analysis.finegray import fit_fine_gray
    from .analysis.formula import design_matrix
    from .analysis.km import kaplan_meier, logrank
    from .analysis.matched_or import matched_odds_ratio
    from .analysis.results import ModelResult
    from .bootstrap import BootstrapAnalysis, bootstrap_analysis
    from .calibration import CalibrationResult, calibrate_to_finding, render_from_record
    from .cohort_builder import BuiltCohort, Records, build_cohort, build_cohort_from_spec
    from .design.episodes import split_at_exposure
    from .design.matching import match_exposure_density, match_propensity
    from .errors import AnalysisError, CohortError, InputFileError, ReawakenError, ScenarioError
    from .estimate import Estimate
    from .evaluate import ReplicateTable, run_replicates
    from .findings import ReportedFinding, list_findings, list_templates, load_finding
    from .inference import InferenceCheck, check_inference
    from .io import cohort_from_dates, frame_sha256, read_cohort, write_table
    from .methods_check import MethodsCheck, methods_check
    from .performance import Performance, performance, reps_for_mcse
    from .power.analytic import freedman, minimum_detectable_hr, schoenfeld
    from .power.design_analysis import design_analysis
    from .power.simulation import sample_size_for_power, simulate_power
    from .scenario import Scenario, list_presets, load_scenario, parse_scenario_text
    from .schema import CohortCheck, validate_cohort
    from .simulate.cohort import Cohort, simulate_cohort
    from .simulate.effects import EffectProfile
    from .study.analyses import logistic_or_test_negative, study_analysis, time_varying_cox_hr
    from .truth import Truth, compute_truth, null_scenario, stored_truth

    __version__: str

#: Where each public name lives: module (relative to this package) -> names it exports.
_EXPORTS: dict[str, tuple[str, ...]] = {
    ".analysis.competing": ("cumulative_incidence", "fit_cause_specific_cox", "gray_test"),
    ".analysis.cox": (
        "fit_cox",
        "fit_matched_cox",
        "fit_naive_ever_exposed",
        "fit_time_varying_cox",
        "hr_by_window",
    ),
    ".analysis.diagnostics": ("ph_test",),
    ".analysis.exposure_curves": ("landmark_curves", "simon_makuch"),
    ".analysis.finegray": ("fit_fine_gray",),
    ".analysis.formula": ("design_matrix",),
    ".analysis.km": ("kaplan_meier", "logrank"),
    ".analysis.matched_or": ("matched_odds_ratio",),
    ".analysis.results": ("ModelResult",),
    ".bootstrap": ("BootstrapAnalysis", "bootstrap_analysis"),
    ".calibration": ("CalibrationResult", "calibrate_to_finding", "render_from_record"),
    ".cohort_builder": ("BuiltCohort", "Records", "build_cohort", "build_cohort_from_spec"),
    ".design.episodes": ("split_at_exposure",),
    ".design.matching": ("match_exposure_density", "match_propensity"),
    ".errors": ("AnalysisError", "CohortError", "InputFileError", "ReawakenError", "ScenarioError"),
    ".estimate": ("Estimate",),
    ".evaluate": ("ReplicateTable", "run_replicates"),
    ".findings": ("ReportedFinding", "list_findings", "list_templates", "load_finding"),
    ".inference": ("InferenceCheck", "check_inference"),
    ".io": ("cohort_from_dates", "frame_sha256", "read_cohort", "write_table"),
    ".methods_check": ("MethodsCheck", "methods_check"),
    ".performance": ("Performance", "performance", "reps_for_mcse"),
    ".power.analytic": ("freedman", "minimum_detectable_hr", "schoenfeld"),
    ".power.design_analysis": ("design_analysis",),
    ".power.simulation": ("sample_size_for_power", "simulate_power"),
    ".scenario": ("Scenario", "list_presets", "load_scenario", "parse_scenario_text"),
    ".schema": ("CohortCheck", "validate_cohort"),
    ".simulate.cohort": ("Cohort", "simulate_cohort"),
    ".simulate.effects": ("EffectProfile",),
    ".study.analyses": ("logistic_or_test_negative", "study_analysis", "time_varying_cox_hr"),
    ".truth": ("Truth", "compute_truth", "null_scenario", "stored_truth"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "AnalysisError",
    "BootstrapAnalysis",
    "BuiltCohort",
    "CalibrationResult",
    "Cohort",
    "CohortCheck",
    "CohortError",
    "EffectProfile",
    "Estimate",
    "InferenceCheck",
    "InputFileError",
    "MethodsCheck",
    "ModelResult",
    "Performance",
    "ReawakenError",
    "Records",
    "ReplicateTable",
    "ReportedFinding",
    "Scenario",
    "ScenarioError",
    "Truth",
    "__version__",
    "bootstrap_analysis",
    "build_cohort",
    "build_cohort_from_spec",
    "calibrate_to_finding",
    "check_inference",
    "cohort_from_dates",
    "compute_truth",
    "cumulative_incidence",
    "design_analysis",
    "design_matrix",
    "fit_cause_specific_cox",
    "fit_cox",
    "fit_fine_gray",
    "fit_matched_cox",
    "fit_naive_ever_exposed",
    "fit_time_varying_cox",
    "frame_sha256",
    "freedman",
    "gray_test",
    "hr_by_window",
    "kaplan_meier",
    "landmark_curves",
    "list_findings",
    "list_presets",
    "list_templates",
    "load_finding",
    "load_scenario",
    "logistic_or_test_negative",
    "logrank",
    "match_exposure_density",
    "match_propensity",
    "matched_odds_ratio",
    "methods_check",
    "minimum_detectable_hr",
    "null_scenario",
    "parse_scenario_text",
    "performance",
    "ph_test",
    "read_cohort",
    "render_from_record",
    "reps_for_mcse",
    "run_replicates",
    "sample_size_for_power",
    "schoenfeld",
    "simon_makuch",
    "simulate_cohort",
    "simulate_power",
    "split_at_exposure",
    "stored_truth",
    "study_analysis",
    "time_varying_cox_hr",
    "validate_cohort",
    "write_table",
]


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reawaken")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """Import the module of a public name on first access and keep the name (PEP 562)."""
    if name == "__version__":
        value: Any = _installed_version()
    elif name in _HOME:
        value = getattr(importlib.import_module(_HOME[name], __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's attributes and every public name, loaded or not (PEP 562)."""
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """The package's module type: a public name that is also the name of its own submodule
    (``performance``, ``methods_check``) stays the function when the import system binds the
    submodule on the package, as it did when the names were imported eagerly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if (
            name in _HOME
            and isinstance(value, types.ModuleType)
            and value.__name__ == f"{__name__}.{name}"
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
