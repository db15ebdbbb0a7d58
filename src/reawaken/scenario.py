"""Scenario specification: TOML → validated frozen dataclasses.

A scenario says everything the simulator needs: cohort size, follow-up, covariates, the
outcome and competing-death hazards, the infection (exposure) process, the exposure effect
profile and, for test-negative designs, the testing process. Times in the TOML are in the units
their key names carry (``*_years``, ``*_days``, ``*_per_year``); internally everything is days.

Every unknown key, missing key or out-of-range value raises :class:`ScenarioError` naming the
key (as a dotted path) and the allowed keys or values.

``infection.rate_multiplier`` scales the monthly infection rates (the waves' shape stays);
a ``[calibration]`` table is the provenance record written by ``reawaken calibrate`` (kept in
:attr:`Scenario.calibration`, not used by the simulator).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .checks import checked
from .errors import ScenarioError
from .findings import named_or_file_text, packaged_toml_names, packaged_toml_text
from .scenario_sections import (
    parse_baseline,
    parse_calibration,
    parse_finding,
    parse_intensity,
    parse_profile,
)
from .simulate.effects import EffectProfile
from .simulate.exposure import CalendarIntensity
from .simulate.hazards import BaselineHazard
from .spec_reader import Section
from .study.registry import study_design_names

PRESET_PACKAGE = "reawaken.findings.presets"
COVARIATE_KINDS = ("normal", "binary", "categorical")
TIME_RESOLUTIONS = ("day", "exact")
#: The top-level keys of a scenario file.
TOP_LEVEL_KEYS = (
    "name",
    "description",
    "finding",
    "n",
    "outcome_label",
    "competing_label",
    "followup",
    "covariates",
    "outcome",
    "effect",
    "infection",
    "death",
    "testing",
    "design",
    "biases",
    "negative_control",
    "calibration",
)


@dataclass(frozen=True)
class CovariateSpec:
    """One baseline covariate. ``normal`` effects act on ``x - center``; others on the code.

    ``observed = false`` makes it an *unmeasured* confounder: it acts in the simulation but is
    written as ``true_<name>`` and left out of every analysis."""

    name: str
    kind: str
    mean: float = 0.0
    sd: float = 1.0
    lower: float = -np.inf
    upper: float = np.inf
    center: float = 0.0
    p: float = 0.5
    levels: tuple[int, ...] = ()
    probs: tuple[float, ...] = ()
    observed: bool = True


@dataclass(frozen=True)
class HazardModel:
    """A proportional-hazards model: baseline hazard (days since entry) × ``exp(x'beta)``.

    ``log_hr`` maps a covariate to its log hazard ratio (per unit, or one value per level for a
    categorical covariate, the first level being the reference and usually 0).
    """

    baseline: BaselineHazard
    log_hr: Mapping[str, float | tuple[float, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class FollowUp:
    """Calendar frame: origin date (day 0), entry spread, study end day, censoring, resolution."""

    origin_date: str = "2020-03-01"
    end_day: float = 1583.0
    accrual_days: float = 0.0
    loss_rate_per_year: float = 0.0
    time_resolution: str = "day"


@dataclass(frozen=True)
class InfectionSpec:
    """First infection: calendar intensity × ``exp(x'gamma)``; documented with a probability."""

    intensity: CalendarIntensity
    log_hr: Mapping[str, float | tuple[float, ...]] = field(default_factory=dict)
    documented_probability: float = 1.0


@dataclass(frozen=True)
class TestingSpec:
    """First SARS-CoV-2 test (calendar intensity × ``exp(x'delta)``); optional cohort selection.

    With ``select_tested`` the cohort keeps only persons with a documented infection (a positive
    test) or a negative test during follow-up, as in a test-negative comparison.
    """

    intensity: CalendarIntensity
    log_hr: Mapping[str, float | tuple[float, ...]] = field(default_factory=dict)
    select_tested: bool = True


@dataclass(frozen=True)
class BiasSpec:
    """Bias mechanisms acting in the data-generating process (see :mod:`reawaken.simulate.biases`).

    * detection: a documented infection triggers chest imaging with ``detection_probability``,
      at a uniform delay of up to ``detection_delay_days``; imaging finds outcomes that would
      have surfaced within ``detection_lead_days`` after it (surveillance bias);
    * cause-of-death misattribution: a competing death within ``misattribution_window_days``
      after infection is recorded as the outcome with ``death_to_outcome``; an outcome death in
      that window is recorded as a competing death with ``outcome_to_death``;
    * informative censoring: the loss-to-follow-up hazard is multiplied by
      ``loss_hr_after_infection`` after infection.
    """

    detection_probability: float = 0.0
    detection_lead_days: float = 0.0
    detection_delay_days: float = 14.0
    death_to_outcome: float = 0.0
    outcome_to_death: float = 0.0
    misattribution_window_days: float = 30.0
    loss_hr_after_infection: float = 1.0


@dataclass(frozen=True)
class NegativeControlSpec:
    """A negative-control outcome infection does not cause (e.g. bone metastasis): its own
    hazard model, sharing the covariates (and so the confounding) and the detection path."""

    model: HazardModel
    label: str = "negative-control outcome"


@dataclass(frozen=True)
class DesignSpec:
    """The study design the finding used, run by :func:`reawaken.study.analyses.study_analysis`.

    ``analysis`` names the estimator; matching designs draw ``controls`` per exposed person at
    the exposure day, exactly matched on ``exact``, within ``caliper`` (absolute units) and, for
    test-negative designs, with a negative test within ``test_window_days`` of the index day.
    ``adjust`` adds the scenario's covariates to the model.
    """

    analysis: str = "time_varying_cox"
    controls: int = 4
    exact: tuple[str, ...] = ()
    caliper: Mapping[str, float] = field(default_factory=dict)
    test_window_days: float | None = None
    adjust: bool = True


@dataclass(frozen=True)
class Scenario:
    """A complete, validated simulation scenario (see module docstring)."""

    name: str
    n: int
    followup: FollowUp
    covariates: tuple[CovariateSpec, ...]
    outcome: HazardModel
    effect: EffectProfile
    infection: InfectionSpec
    death: HazardModel
    death_after_infection: EffectProfile = field(default_factory=EffectProfile)
    testing: TestingSpec | None = None
    design: DesignSpec | None = None
    biases: BiasSpec = field(default_factory=BiasSpec)
    negative_control: NegativeControlSpec | None = None
    description: str = ""
    outcome_label: str = "outcome"
    competing_label: str = "competing death"
    finding: str | None = None
    calibration: Mapping[str, Any] | None = None

    @property
    def covariate_names(self) -> tuple[str, ...]:
        """Names of the observed covariates (unmeasured ones are left out)."""
        return tuple(c.name for c in self.covariates if c.observed)

    @property
    def observed_covariates(self) -> tuple[CovariateSpec, ...]:
        return tuple(c for c in self.covariates if c.observed)

    def with_n(self, n: int) -> Scenario:
        """The same scenario with another cohort size."""
        if int(n) < 1:
            raise ScenarioError(f"n must be a positive integer, got {n}; pass e.g. --n 1000")
        return replace(self, n=int(n))

    def with_effect(self, effect: EffectProfile) -> Scenario:
        """The same scenario with another exposure effect profile."""
        return replace(self, effect=effect)


# ----------------------------------------------------------------------------------- parsing


def _parse_covariate(data: Any, path: str) -> CovariateSpec:
    allowed = {
        "normal": ("name", "kind", "mean", "sd", "lower", "upper", "center", "observed"),
        "binary": ("name", "kind", "p", "observed"),
        "categorical": ("name", "kind", "levels", "probs", "observed"),
    }
    if not isinstance(data, Mapping):
        raise ScenarioError(f"scenario key '{path}' must be a table ([[covariates]])")
    kind = Section({"kind": data.get("kind")}, path, ("kind",)).choice("kind", COVARIATE_KINDS)
    sec = Section(data, path, allowed[kind])
    name = sec.text("name")
    observed = sec.raw("observed", True)
    if not isinstance(observed, bool):
        raise ScenarioError(f"scenario key '{path}.observed' must be true or false")
    if not name.isidentifier() or name.startswith("true_"):
        raise ScenarioError(
            f"scenario key '{path}.name' = {name!r} must be a plain identifier not starting "
            "with 'true_'"
        )
    if kind == "normal":
        mean = sec.number("mean")
        lower = sec.number("lower") if sec.has("lower") else -np.inf
        upper = sec.number("upper") if sec.has("upper") else np.inf
        if not lower < upper:
            raise ScenarioError(
                f"scenario key '{path}.lower' = {lower:g} must be below '{path}.upper' = "
                f"{upper:g}; fix: swap them, or drop one to leave that side unbounded"
            )
        return CovariateSpec(
            name,
            kind,
            mean=mean,
            sd=sec.number("sd", lo=0, lo_open=True),
            lower=lower,
            upper=upper,
            center=sec.number("center", mean),
            observed=observed,
        )
    if kind == "binary":
        return CovariateSpec(name, kind, p=sec.number("p", lo=0, hi=1), observed=observed)
    levels = sec.numbers("levels")
    probs = sec.numbers("probs", lo=0)
    if any(v != int(v) for v in levels) or len(set(levels)) != len(levels):
        raise ScenarioError(f"scenario key '{path}.levels' must be distinct integer codes")
    if len(probs) != len(levels) or abs(sum(probs) - 1.0) > 1e-9:
        raise ScenarioError(
            f"scenario key '{path}.probs' needs one probability per level, summing to 1"
        )
    return CovariateSpec(
        name, kind, levels=tuple(int(v) for v in levels), probs=probs, observed=observed
    )


def _parse_log_hr(
    data: Any, path: str, covariates: tuple[CovariateSpec, ...]
) -> dict[str, float | tuple[float, ...]]:
    by_name = {c.name: c for c in covariates}
    sec = Section(data, path, tuple(by_name))
    out: dict[str, float | tuple[float, ...]] = {}
    for name, spec in by_name.items():
        if not sec.has(name):
            continue
        if spec.kind == "categorical":
            values = sec.numbers(name)
            if len(values) != len(spec.levels):
                raise ScenarioError(
                    f"scenario key '{sec.key(name)}' needs one log HR per level {list(spec.levels)}"
                )
            out[name] = values
        else:
            out[name] = sec.number(name)
    return out


def _parse_hazard_model(
    data: Any, path: str, covariates: tuple[CovariateSpec, ...], extra: tuple[str, ...] = ()
) -> tuple[HazardModel, Section]:
    sec = Section(data, path, ("baseline", "log_hr", *extra))
    model = HazardModel(
        parse_baseline(sec.raw("baseline"), sec.key("baseline")),
        _parse_log_hr(sec.raw("log_hr", {}), sec.key("log_hr"), covariates),
    )
    return model, sec


def _parse_biases(data: Any) -> BiasSpec:
    sec = Section(data, "biases", tuple(BiasSpec.__dataclass_fields__))
    return BiasSpec(
        detection_probability=sec.number("detection_probability", 0.0, lo=0, hi=1),
        detection_lead_days=sec.number("detection_lead_days", 0.0, lo=0),
        detection_delay_days=sec.number("detection_delay_days", 14.0, lo=0),
        death_to_outcome=sec.number("death_to_outcome", 0.0, lo=0, hi=1),
        outcome_to_death=sec.number("outcome_to_death", 0.0, lo=0, hi=1),
        misattribution_window_days=sec.number("misattribution_window_days", 30.0, lo=0),
        loss_hr_after_infection=sec.number("loss_hr_after_infection", 1.0, lo=0, lo_open=True),
    )


def _parse_design(data: Any, covariates: tuple[CovariateSpec, ...]) -> DesignSpec:
    sec = Section(
        data, "design", ("analysis", "controls", "exact", "caliper", "test_window_days", "adjust")
    )
    names = {c.name for c in covariates}
    exact = sec.raw("exact", [])
    if not isinstance(exact, list) or any(not isinstance(e, str) or e not in names for e in exact):
        raise ScenarioError(
            f"scenario key 'design.exact' must list covariates; allowed: {', '.join(sorted(names))}"
        )
    caliper_sec = Section(sec.raw("caliper", {}), "design.caliper", tuple(sorted(names)))
    caliper = {k: caliper_sec.number(k, lo=0, lo_open=True) for k in caliper_sec.data}
    adjust = sec.raw("adjust", True)
    if not isinstance(adjust, bool):
        raise ScenarioError("scenario key 'design.adjust' must be true or false")
    return DesignSpec(
        analysis=sec.choice("analysis", study_design_names()),
        controls=int(sec.number("controls", 4, lo=1, integer=True)),
        exact=tuple(exact),
        caliper=caliper,
        test_window_days=(
            sec.number("test_window_days", lo=0, lo_open=True)
            if sec.has("test_window_days")
            else None
        ),
        adjust=adjust,
    )


def _parse_followup(data: Any) -> FollowUp:
    """The ``[followup]`` table: calendar origin, study end, accrual, loss and time resolution."""
    fu = Section(
        data,
        "followup",
        ("origin_date", "end_day", "accrual_days", "loss_rate_per_year", "time_resolution"),
    )
    origin = fu.text("origin_date", "2020-03-01")
    try:
        np.datetime64(origin, "D")
    except ValueError as exc:
        raise ScenarioError(
            f"scenario key 'followup.origin_date' = {origin!r} is not an ISO date (YYYY-MM-DD)"
        ) from exc
    followup = FollowUp(
        origin_date=origin,
        end_day=fu.number("end_day", lo=0, lo_open=True, integer=True),
        accrual_days=fu.number("accrual_days", 0.0, lo=0, integer=True),
        loss_rate_per_year=fu.number("loss_rate_per_year", 0.0, lo=0),
        time_resolution=fu.choice("time_resolution", TIME_RESOLUTIONS, "day"),
    )
    if followup.accrual_days >= followup.end_day:
        raise ScenarioError("scenario key 'followup.accrual_days' must be below 'followup.end_day'")
    return followup


def _parse_covariates(data: Any) -> tuple[CovariateSpec, ...]:
    """The ``[[covariates]]`` array of tables, with distinct names."""
    if not isinstance(data, list):
        raise ScenarioError("scenario key 'covariates' must be an array of tables ([[covariates]])")
    covariates = tuple(_parse_covariate(c, f"covariates[{i}]") for i, c in enumerate(data))
    names = [c.name for c in covariates]
    if len(set(names)) != len(names):
        raise ScenarioError(f"scenario key 'covariates' has duplicate names: {names}")
    return covariates


def _parse_death(
    data: Any, covariates: tuple[CovariateSpec, ...]
) -> tuple[HazardModel, EffectProfile]:
    """The ``[death]`` table: the competing-death model and its profile after infection."""
    death, sec = _parse_hazard_model(data, "death", covariates, extra=("after_infection",))
    after = (
        parse_profile(sec.raw("after_infection"), "death.after_infection")
        if sec.has("after_infection")
        else EffectProfile()
    )
    return death, after


def _parse_infection(data: Any, covariates: tuple[CovariateSpec, ...]) -> InfectionSpec:
    """The ``[infection]`` table: monthly rates x multiplier, log HRs, documentation."""
    inf = Section(
        data,
        "infection",
        ("monthly_rate_per_year", "rate_multiplier", "log_hr", "documented_probability"),
    )
    return InfectionSpec(
        parse_intensity(inf, inf.number("rate_multiplier", 1.0, lo=0, lo_open=True)),
        _parse_log_hr(inf.raw("log_hr", {}), "infection.log_hr", covariates),
        inf.number("documented_probability", 1.0, lo=0, hi=1),
    )


def _parse_testing(data: Any, covariates: tuple[CovariateSpec, ...]) -> TestingSpec:
    """The ``[testing]`` table: monthly test rates, log HRs, test-negative selection."""
    ts = Section(data, "testing", ("monthly_rate_per_year", "log_hr", "select_tested"))
    select = ts.raw("select_tested", True)
    if not isinstance(select, bool):
        raise ScenarioError("scenario key 'testing.select_tested' must be true or false")
    return TestingSpec(
        parse_intensity(ts),
        _parse_log_hr(ts.raw("log_hr", {}), "testing.log_hr", covariates),
        select,
    )


def _parse_negative_control(
    data: Any, covariates: tuple[CovariateSpec, ...]
) -> NegativeControlSpec:
    """The ``[negative_control]`` table: its hazard model and label."""
    model, sec = _parse_hazard_model(data, "negative_control", covariates, extra=("label",))
    return NegativeControlSpec(model, sec.text("label", "negative-control outcome"))


@checked
def scenario_from_dict(data: Mapping[str, Any]) -> Scenario:
    """Validate a parsed TOML mapping and build a :class:`Scenario`."""
    top = Section(data, "", TOP_LEVEL_KEYS)
    followup = _parse_followup(top.raw("followup"))
    covariates = _parse_covariates(top.raw("covariates", []))
    outcome, _ = _parse_hazard_model(top.raw("outcome"), "outcome", covariates)
    death, death_after = _parse_death(top.raw("death"), covariates)
    infection = _parse_infection(top.raw("infection"), covariates)
    testing = _parse_testing(top.raw("testing"), covariates) if top.has("testing") else None
    design = _parse_design(top.raw("design"), covariates) if top.has("design") else None
    biases = _parse_biases(top.raw("biases")) if top.has("biases") else BiasSpec()
    negative_control = (
        _parse_negative_control(top.raw("negative_control"), covariates)
        if top.has("negative_control")
        else None
    )
    calibration = parse_calibration(top.raw("calibration", None))
    finding = parse_finding(top.raw("finding", None))
    return Scenario(
        name=top.text("name"),
        n=int(top.number("n", lo=1, integer=True)),
        followup=followup,
        covariates=covariates,
        outcome=outcome,
        effect=parse_profile(top.raw("effect"), "effect"),
        infection=infection,
        death=death,
        death_after_infection=death_after,
        testing=testing,
        design=design,
        biases=biases,
        negative_control=negative_control,
        description=top.text("description", ""),
        outcome_label=top.text("outcome_label", "outcome"),
        competing_label=top.text("competing_label", "competing death"),
        finding=finding,
        calibration=calibration,
    )


def list_presets() -> list[str]:
    """Names of the shipped scenario presets.

    Examples
    --------
    >>> import reawaken as rw
    >>> rw.list_presets()
    ['flatiron_lung_mets', 'ukb_cancer_mortality']
    """
    return packaged_toml_names(PRESET_PACKAGE)


def preset_text(name: str) -> str:
    """The TOML text of a shipped preset (with its documenting comments)."""
    return packaged_toml_text(
        PRESET_PACKAGE, name, "scenario preset", " (or pass a path to a .toml file)"
    )


@checked
def parse_scenario_text(text: str, source: str = "<string>") -> Scenario:
    """Parse and validate scenario TOML text.

    Examples
    --------
    >>> from pathlib import Path
    >>> import reawaken as rw
    >>> presets = Path(rw.__file__).parent / "findings" / "presets"
    >>> text = (presets / "flatiron_lung_mets.toml").read_text()
    >>> scenario = rw.parse_scenario_text(text.replace("n = 36845", "n = 1000"))
    >>> scenario.name, scenario.n
    ('flatiron_lung_mets', 1000)
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {source} is not valid TOML: {exc}") from exc
    return scenario_from_dict(data)


@checked
def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a preset by name or a scenario TOML file by path.

    Examples
    --------
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets")
    >>> scenario.n, scenario.outcome_label
    (36845, 'lung metastasis')
    """
    text, from_file = named_or_file_text(
        name_or_path, PRESET_PACKAGE, "scenario preset", "scenario"
    )
    return parse_scenario_text(text, str(name_or_path) if from_file else f"preset {name_or_path}")


@checked
def load_scenario_for_finding(finding: str, scenario: str | Path | None = None) -> Scenario:
    """The scenario reproducing a finding: ``scenario`` (a preset name or file) if given, else
    the shipped preset of the same name; a finding file without one is a clear error."""
    if scenario is None:
        if str(finding) not in list_presets():
            raise ScenarioError(
                f"finding {finding} has no shipped preset; fix: pass --scenario FILE, e.g. the "
                "file written by `reawaken calibrate` for it"
            )
        scenario = finding
    return load_scenario(scenario)
