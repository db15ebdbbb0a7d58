"""reawaken: synthetic cohorts, matched-control survival analyses and stress tests for
findings that infection awakens dormant cancer (Chia et al., Nature 2025).

The curated public API is listed in ``__all__`` (pinned by a test).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

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

try:
    __version__ = version("reawaken")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

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
