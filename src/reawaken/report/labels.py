"""Words a reader sees in the report: measure names, bias-mechanism names, and the marks that
say a figure rests on an assumed input (a reported CI the paper does not print, finding key
``ci_assumed``)."""

from __future__ import annotations

from ..findings import ReportedFinding

MEASURE_NAMES: dict[str, str] = {
    "HR": "hazard ratio",
    "OR": "odds ratio",
    "SHR": "subdistribution hazard ratio",
    "RR": "risk ratio",
}

#: Stress-battery mechanism (``reawaken.sensitivity.stress.MECHANISMS``) -> a reader's name.
MECHANISM_LABELS: dict[str, str] = {
    "immortal_time": "Immortal time",
    "misclassification": "Undocumented infections",
    "unmeasured_confounding": "Unmeasured confounding",
    "detection": "Detection after infection",
    "test_negative_selection": "Test-negative selection",
    "death_misattribution": "Deaths recorded as the outcome",
    "informative_censoring": "Informative censoring",
    "effect_shape": "Transient effect",
}


def mechanism_label(name: str) -> str:
    """A reader's name for a stress mechanism (its code name with spaces if unknown)."""
    return MECHANISM_LABELS.get(name, name.replace("_", " ").capitalize())


def short_title(finding: ReportedFinding) -> str:
    """The data source of a finding, e.g. ``"UK Biobank"`` (its title up to a colon)."""
    head = finding.title.split(":", 1)[0].strip()
    return head or finding.name

