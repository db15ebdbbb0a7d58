"""Reported findings as data (``reported/*.toml``) and calibrated scenario presets (``presets/``).

Reported figures live only in these files, each with its source, never as literals in code.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources

from ..errors import ScenarioError

_REPORTED = "reawaken.findings.reported"


@dataclass(frozen=True)
class ReportedFinding:
    """A published ratio estimate with its 95% CI and study facts."""

    name: str
    title: str
    source: str
    n: int
    followup_months: float
    estimand: str
    estimate: float
    ci_low: float
    ci_high: float
    design: str = ""
    exposure: str = ""
    outcome: str = ""
    cohort: str = ""
    note: str = ""

    @property
    def implied_se(self) -> float:
        """SE of the log estimate implied by the CI: ``(ln hi - ln lo) / (2 * 1.96)``."""
        return (math.log(self.ci_high) - math.log(self.ci_low)) / (2 * 1.959963984540054)

    @property
    def ci_width_log(self) -> float:
        return math.log(self.ci_high) - math.log(self.ci_low)

    def summary(self) -> str:
        return (
            f"{self.title}: {self.estimand} {self.estimate:.2f} "
            f"(95% CI {self.ci_low:.2f}-{self.ci_high:.2f}), n={self.n:,}"
        )


def packaged_toml_names(package: str) -> list[str]:
    """Sorted stems of the ``*.toml`` files shipped in ``package``."""
    files = resources.files(package).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def packaged_toml_text(package: str, name: str, kind: str, hint: str = "") -> str:
    """Text of ``package/name.toml``; a clear error listing the available names otherwise."""
    names = packaged_toml_names(package)
    if name not in names:
        raise ScenarioError(f"unknown {kind} {name!r}; available {kind}s: {', '.join(names)}{hint}")
    return resources.files(package).joinpath(f"{name}.toml").read_text(encoding="utf-8")


def list_findings() -> list[str]:
    """Names of the shipped reported findings."""
    return packaged_toml_names(_REPORTED)


def load_finding(name: str) -> ReportedFinding:
    """Load a shipped reported finding by name."""
    text = packaged_toml_text(_REPORTED, name, "finding")
    data = tomllib.loads(text)
    fields = ReportedFinding.__dataclass_fields__
    return ReportedFinding(**{k: v for k, v in data.items() if k in fields})
