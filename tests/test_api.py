"""The curated public API is pinned: changing it must be a deliberate edit of this list."""

import reawaken

PUBLIC_API = [
    "CalibrationResult",
    "calibrate_to_finding",
    "list_templates",
    "render_from_record",
    "ReplicateTable",
    "run_replicates",
    "Performance",
    "performance",
    "reps_for_mcse",
    "freedman",
    "minimum_detectable_hr",
    "schoenfeld",
    "design_analysis",
    "sample_size_for_power",
    "simulate_power",
    "cumulative_incidence",
    "fit_cause_specific_cox",
    "gray_test",
    "ph_test",
    "fit_fine_gray",
    "kaplan_meier",
    "simon_makuch",
    "landmark_curves",
    "design_matrix",
    "logrank",
    "matched_odds_ratio",
    "match_exposure_density",
    "match_propensity",
    "AnalysisError",
    "Cohort",
    "CohortCheck",
    "CohortError",
    "ModelResult",
    "fit_cox",
    "fit_matched_cox",
    "fit_naive_ever_exposed",
    "hr_by_window",
    "EffectProfile",
    "Estimate",
    "InputFileError",
    "ReawakenError",
    "ReportedFinding",
    "Scenario",
    "ScenarioError",
    "__version__",
    "cohort_from_dates",
    "fit_time_varying_cox",
    "frame_sha256",
    "list_findings",
    "list_presets",
    "load_finding",
    "load_scenario",
    "parse_scenario_text",
    "read_cohort",
    "simulate_cohort",
    "split_at_exposure",
    "study_analysis",
    "logistic_or_test_negative",
    "time_varying_cox_hr",
    "validate_cohort",
    "write_table",
    "BuiltCohort",
    "Records",
    "build_cohort",
    "build_cohort_from_spec",
]


def test_public_api_is_pinned():
    assert sorted(reawaken.__all__) == sorted(PUBLIC_API)
    for name in PUBLIC_API:
        assert hasattr(reawaken, name), name


def test_version_is_installed_version():
    assert reawaken.__version__ != "0+unknown"
