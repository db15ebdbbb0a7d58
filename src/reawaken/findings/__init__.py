"""Reported findings as data (``reported/*.toml``), calibration templates (``templates/``) and
the calibrated scenario presets (``presets/``, written by ``reawaken calibrate``).

Reported figures live only in these files, each with its source, never as literals in code.
A user's own finding is a TOML file with the same keys (see :func:`load_finding`).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..checks import checked
from ..errors import ScenarioError

_REPORTED = "reawaken.findings.reported"
TEMPLATE_PACKAGE = "reawaken.findings.templates"
FINDING_MEASURES = ("HR", "OR")
_REQUIRED = ("name", "n", "followup_months", "measure", "estimate", "ci_low", "ci_high")


@dataclass(frozen=True)
class ReportedFinding:
    """A published ratio estimate with its 95% CI and study facts."""

    name: str
    title: str
    source: str
    n: int
    followup_months: float
    measure: str
    estimate: float
    ci_low: float
    ci_high: float
    design: str = ""
    exposure: str = ""
    outcome: str = ""
    cohort: str = ""
    note: str = ""
    ci_assumed: bool = False

    @property
    def ci_label(self) -> str:
        """``"1.01-2.05"``, with ``", assumed"`` when the CI is an editable assumption rather
        than a printed figure."""
        text = f"{self.ci_low:.2f}-{self.ci_high:.2f}"
        return text + (", assumed" if self.ci_assumed else "")

    @property
    def implied_se(self) -> float:
        """SE of the log estimate implied by the CI: ``(ln hi - ln lo) / (2 * 1.96)``."""
        return (math.log(self.ci_high) - math.log(self.ci_low)) / (2 * 1.959963984540054)

    @property
    def ci_width_log(self) -> float:
        return math.log(self.ci_high) - math.log(self.ci_low)

    def summary(self) -> str:
        return (
            f"{self.title}: {self.measure} {self.estimate:.2f} "
            f"(95% CI {self.ci_label}), n={self.n:,}"
        )


def packaged_toml_names(package: str) -> list[str]:
    """Sorted stems of the ``*.toml`` files shipped in ``package``."""
    files = resources.files(package).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def packaged_toml_text(package: str, name: str, kind: str, hint: str = "") -> str:
    """Text of ``package/name.toml``; a clear error listing the available names otherwise."""
    names = packaged_toml_names(package)
    if name not in names:
        raise ScenarioError(
            f"unknown {kind} {name!r}; fix: use one of the available {kind}s: "
            f"{', '.join(names)}{hint}"
        )
    return resources.files(package).joinpath(f"{name}.toml").read_text(encoding="utf-8")


def list_findings() -> list[str]:
    """Names of the shipped reported findings.

    Examples
    --------
    >>> import reawaken as rw
    >>> rw.list_findings()
    ['flatiron_lung_mets', 'ukb_cancer_mortality']
    """
    return packaged_toml_names(_REPORTED)


def finding_from_dict(data: Mapping[str, Any], source: str = "finding") -> ReportedFinding:
    """Validate a reported finding's keys and values (``_REQUIRED`` plus optional text keys).

    The estimate must lie strictly inside its 95% CI, all three positive (ratio scale); ``n``
    is a whole number >= 2 and ``followup_months`` > 0.
    """
    fields = ReportedFinding.__dataclass_fields__
    unknown = sorted(set(data) - set(fields))
    if unknown:
        fix = (
            "rename it to 'measure' (renamed in reawaken 0.2)"
            if unknown[0] == "estimand"
            else "remove it or correct its spelling"
        )
        raise ScenarioError(
            f"{source}: unknown key {unknown[0]!r}; allowed keys: {', '.join(fields)}; fix: {fix}"
        )
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise ScenarioError(
            f"{source}: missing key {missing[0]!r}; a finding needs {', '.join(_REQUIRED)}"
        )
    values = dict(data)
    values.setdefault("title", str(values["name"]))
    values.setdefault("source", "")
    for key in ("name", "title", "source", "design", "exposure", "outcome", "cohort", "note"):
        if key in values and not isinstance(values[key], str):
            raise ScenarioError(f"{source}: key {key!r} must be a string")
    if not isinstance(values.get("ci_assumed", False), bool):
        raise ScenarioError(f"{source}: key 'ci_assumed' must be true or false")
    for key in ("n", "followup_months", "estimate", "ci_low", "ci_high"):
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ScenarioError(f"{source}: key {key!r} must be a positive number, got {value!r}")
        if not math.isfinite(value):
            raise ScenarioError(f"{source}: key {key!r} must be finite, got {value!r}")
    if values["n"] != int(values["n"]) or values["n"] < 2:
        raise ScenarioError(f"{source}: key 'n' must be a whole number >= 2, got {values['n']}")
    values["n"] = int(values["n"])
    if values["measure"] not in FINDING_MEASURES:
        raise ScenarioError(
            f"{source}: key 'measure' must be one of {', '.join(FINDING_MEASURES)}, "
            f"got {values['measure']!r}"
        )
    if not values["ci_low"] < values["estimate"] < values["ci_high"]:
        raise ScenarioError(
            f"{source}: the estimate must lie inside its CI, got {values['estimate']} "
            f"({values['ci_low']}-{values['ci_high']}); fix: ci_low < estimate < ci_high"
        )
    return ReportedFinding(**values)


def named_or_file_text(
    name_or_path: str | Path, package: str, kind: str, file_kind: str
) -> tuple[str, bool]:
    """``(text, from_file)``: a TOML file given by path (anything ending in ``.toml`` or naming
    an existing file), else the shipped ``package/NAME.toml``; clear errors for either."""
    text = str(name_or_path)
    path = Path(text)
    if text.endswith(".toml") or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{file_kind} file {text} not found; fix: check the path")
        try:
            return path.read_text(encoding="utf-8"), True
        except UnicodeDecodeError as exc:
            raise ScenarioError(
                f"{file_kind} file {text} is not UTF-8 text (byte {exc.start}); fix: pass a "
                f"{file_kind} .toml file"
            ) from None
    hint = " (or pass a path to a .toml file)"
    return packaged_toml_text(package, text, kind, hint), False


@checked
def load_finding(name_or_path: str | Path) -> ReportedFinding:
    """Load a shipped reported finding by name, or a finding TOML file by path.

    Examples
    --------
    >>> import reawaken as rw
    >>> finding = rw.load_finding("ukb_cancer_mortality")
    >>> finding.measure, finding.estimate, finding.ci_low, finding.ci_high, finding.n
    ('OR', 1.85, 1.14, 3.02, 4837)
    """
    body, from_file = named_or_file_text(name_or_path, _REPORTED, "finding", "finding")
    source = f"finding {'file ' if from_file else ''}{name_or_path}"
    try:
        data = tomllib.loads(body)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source} is not valid TOML: {exc}") from exc
    return finding_from_dict(data, source)


def list_templates() -> list[str]:
    """Names of the shipped calibration templates (scenario assumptions to calibrate).

    Examples
    --------
    >>> import reawaken as rw
    >>> rw.list_templates()
    ['matched_test_negative', 'time_varying_cohort']
    """
    return packaged_toml_names(TEMPLATE_PACKAGE)


def template_text(name_or_path: str | Path) -> tuple[str, str]:
    """``(text, label)`` of a calibration template: a shipped name or any scenario TOML path
    (the label is the name or path as given, recorded in calibrated files)."""
    body, _ = named_or_file_text(name_or_path, TEMPLATE_PACKAGE, "template", "template")
    return body, str(name_or_path)
