"""A study definition for the OMOP route: dates, rules and concept sets, read from TOML.

Shipped studies (``reawaken/omop/studies/*.toml``) mirror the presets; write your own with the
same keys::

    name = "my_study"
    origin_date = "2020-03-01"           # day 0
    end_date = "2024-06-30"              # last day of follow-up
    prevalent_exposure = "exclude"       # or "index_at_entry"

    [population]                         # entry: first condition of the set (optional)
    conditions = [4112853]

    [exposure]                           # first condition, or measurement with a positive value
    conditions = [37311061]
    measurements = [706170]
    positive_values = [45877985, 45884084]

    [negative_test]                      # optional: test_day (test-negative designs)
    measurements = [706170]
    negative_values = [45880296, 45878583]

    [outcome]                            # a condition, and/or a death with one of these causes
    conditions = [254591]
    death_causes = []

    [[covariates]]                       # source: age | gender | condition |
    name = "stage"                       #   measurement_value | measurement_concept
    source = "measurement_value"
    measurements = [2000000101]

    [concepts]                           # every concept id used: name, domain, vocabulary, code
    4112853 = ["Malignant tumor of breast", "Condition", "SNOMED", "254837009"]

    [synthetic]                          # only for `reawaken omop write`
    gender = 8532                        # gender of persons without a gender covariate
    death_cause = 0                      # cause written for competing deaths

Concept sets are explicit lists of concept ids (no descendant expansion): list every id your
vocabulary uses.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputFileError

__all__ = ["COVARIATE_SOURCES", "Covariate", "OmopStudy", "list_studies", "load_study"]

#: How a covariate is read from the CDM (at the entry date).
COVARIATE_SOURCES: tuple[str, ...] = (
    "age",
    "gender",
    "condition",
    "measurement_value",
    "measurement_concept",
)
_TOP = (
    "name",
    "description",
    "origin_date",
    "end_date",
    "prevalent_exposure",
    "population",
    "exposure",
    "negative_test",
    "outcome",
    "covariates",
    "concepts",
    "synthetic",
)
_SETS = {
    "population": ("conditions",),
    "exposure": ("conditions", "measurements", "positive_values"),
    "negative_test": ("measurements", "negative_values"),
    "outcome": ("conditions", "death_causes"),
}
_SYNTHETIC = ("gender", "death_cause")
_COVARIATE_KEYS = (
    "name",
    "source",
    "concepts",
    "conditions",
    "measurements",
    "values",
    "other_value",
)


@dataclass(frozen=True)
class Covariate:
    """One covariate: its column name, its source and the concept ids it reads.

    ``concepts`` are gender concepts (source ``gender``), condition concepts (``condition``) or
    measurement concepts (``measurement_*``); ``values`` are the value concepts that code 1
    (``measurement_concept``); ``other_value`` is what ``omop write`` records for 0.
    """

    name: str
    source: str
    concepts: tuple[int, ...] = ()
    values: tuple[int, ...] = ()
    other_value: int = 0


@dataclass(frozen=True)
class OmopStudy:
    """A study definition (keys in :mod:`reawaken.omop.study`)."""

    name: str
    description: str
    origin_date: str
    end_date: str
    prevalent_exposure: str
    population: tuple[int, ...]
    exposure_conditions: tuple[int, ...]
    exposure_measurements: tuple[int, ...]
    positive_values: tuple[int, ...]
    test_measurements: tuple[int, ...]
    negative_values: tuple[int, ...]
    outcome_conditions: tuple[int, ...]
    outcome_death_causes: tuple[int, ...]
    covariates: tuple[Covariate, ...]
    concepts: dict[int, tuple[str, str, str, str]] = field(default_factory=dict)
    synthetic_gender: int = 0
    synthetic_death_cause: int = 0

    def concept_ids(self) -> dict[str, tuple[int, ...]]:
        """Every concept set by role (``"exposure.conditions"`` -> ids), for checks and errors."""
        roles = {
            "population.conditions": self.population,
            "exposure.conditions": self.exposure_conditions,
            "exposure.measurements": self.exposure_measurements,
            "exposure.positive_values": self.positive_values,
            "negative_test.measurements": self.test_measurements,
            "negative_test.negative_values": self.negative_values,
            "outcome.conditions": self.outcome_conditions,
            "outcome.death_causes": self.outcome_death_causes,
        }
        for cov in self.covariates:
            roles[f"covariates.{cov.name}"] = cov.concepts
            if cov.values:
                roles[f"covariates.{cov.name}.values"] = cov.values
        return {role: ids for role, ids in roles.items() if ids}


def list_studies() -> list[str]:
    """Names of the shipped study definitions."""
    folder = resources.files("reawaken.omop") / "studies"
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_study(name_or_path: str | os.PathLike[str]) -> OmopStudy:
    """Load a shipped study by name or a study TOML file.

    Parameters
    ----------
    name_or_path : str or path-like
        A name from :func:`list_studies` or a ``.toml`` path.

    Returns
    -------
    OmopStudy
        The checked study.

    Raises
    ------
    InputFileError
        If the study is unknown, not TOML, or has unknown keys, bad concept ids or no outcome.
    """
    text, where = _study_text(name_or_path)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputFileError(f"{where} is not valid TOML ({exc}); fix: correct the syntax") from exc
    return _parse(raw, where)


def _study_text(name_or_path: str | os.PathLike[str]) -> tuple[str, str]:
    name = str(name_or_path)
    if name in list_studies():
        path = resources.files("reawaken.omop") / "studies" / f"{name}.toml"
        return path.read_text(encoding="utf-8"), f"study {name}"
    file = Path(name)
    if not file.is_file():
        raise InputFileError(
            f"unknown study {name!r}; fix: use one of {', '.join(list_studies())} or the path "
            "of a study .toml file"
        )
    return file.read_text(encoding="utf-8"), str(file)


def _parse(raw: dict[str, Any], where: str) -> OmopStudy:
    _keys(raw, _TOP, where, "")
    for key in ("name", "origin_date", "end_date", "outcome"):
        if key not in raw:
            raise InputFileError(f"{where}: required key '{key}' is missing; fix: add it")
    sets = {}
    for table, keys in _SETS.items():
        section = raw.get(table, {})
        _keys(section, keys, where, table)
        for key in keys:
            sets[f"{table}.{key}"] = _ids(section.get(key, []), where, f"{table}.{key}")
    synthetic = raw.get("synthetic", {})
    _keys(synthetic, _SYNTHETIC, where, "synthetic")
    if not (sets["outcome.conditions"] or sets["outcome.death_causes"]):
        raise InputFileError(
            f"{where}: [outcome] names no concept; fix: give conditions = [...] or "
            "death_causes = [...]"
        )
    if sets["exposure.measurements"] and not sets["exposure.positive_values"]:
        raise InputFileError(
            f"{where}: exposure.measurements needs positive_values (the result concepts of a "
            "positive test); fix: add them"
        )
    return OmopStudy(
        name=str(raw["name"]),
        description=str(raw.get("description", "")),
        origin_date=str(raw["origin_date"]),
        end_date=str(raw["end_date"]),
        prevalent_exposure=str(raw.get("prevalent_exposure", "exclude")),
        population=sets["population.conditions"],
        exposure_conditions=sets["exposure.conditions"],
        exposure_measurements=sets["exposure.measurements"],
        positive_values=sets["exposure.positive_values"],
        test_measurements=sets["negative_test.measurements"],
        negative_values=sets["negative_test.negative_values"],
        outcome_conditions=sets["outcome.conditions"],
        outcome_death_causes=sets["outcome.death_causes"],
        covariates=tuple(_covariate(c, where) for c in raw.get("covariates", [])),
        concepts=_concepts(raw.get("concepts", {}), where),
        synthetic_gender=_one_id(synthetic.get("gender", 0), where),
        synthetic_death_cause=_one_id(synthetic.get("death_cause", 0), where),
    )


def _keys(table: Any, allowed: tuple, where: str, path: str) -> None:
    if not isinstance(table, dict):
        raise InputFileError(f"{where}: '{path}' must be a table; fix: write it as [{path}]")
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        key = f"{path}.{unknown[0]}" if path else unknown[0]
        raise InputFileError(f"{where}: unknown key '{key}'; fix: use only {', '.join(allowed)}")


def _ids(value: Any, where: str, key: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
    ):
        raise InputFileError(
            f"{where}: {key} must be a list of concept ids (non-negative integers), got "
            f"{value!r}; fix: write e.g. {key.split('.')[-1]} = [37311061]"
        )
    return tuple(value)


def _one_id(value: Any, where: str) -> int:
    return _ids([value], where, "synthetic")[0]


def _covariate(raw: Any, where: str) -> Covariate:
    _keys(raw, _COVARIATE_KEYS, where, "covariates")
    name, source = raw.get("name"), raw.get("source")
    if not isinstance(name, str) or source not in COVARIATE_SOURCES:
        raise InputFileError(
            f'{where}: each [[covariates]] needs name = "..." and source = one of '
            f"{', '.join(COVARIATE_SOURCES)} (got name={name!r}, source={source!r}); fix: add them"
        )
    key = {"gender": "concepts", "condition": "conditions"}.get(source, "measurements")
    concepts = _ids(raw.get(key, []), where, f"covariates.{name}.{key}")
    if source != "age" and not concepts:
        raise InputFileError(
            f"{where}: covariate {name!r} (source {source}) needs {key} = [...]; fix: add the "
            "concept ids"
        )
    values = _ids(raw.get("values", []), where, f"covariates.{name}.values")
    if source == "measurement_concept" and not values:
        raise InputFileError(
            f"{where}: covariate {name!r} needs values = [...] (the value concepts coded 1); "
            "fix: add them"
        )
    return Covariate(name, source, concepts, values, _one_id(raw.get("other_value", 0), where))


def _concepts(raw: Any, where: str) -> dict[int, tuple[str, str, str, str]]:
    _keys(raw, tuple(raw) if isinstance(raw, dict) else (), where, "concepts")
    out = {}
    for key, value in raw.items():
        if not key.isdigit() or not (isinstance(value, list) and len(value) == 4):
            raise InputFileError(
                f"{where}: concepts.{key} must map a concept id to [name, domain, vocabulary, "
                f'code]; fix: write e.g. 37311061 = ["COVID-19", "Condition", "SNOMED", '
                '"840539006"]'
            )
        out[int(key)] = tuple(str(v) for v in value)
    return out
