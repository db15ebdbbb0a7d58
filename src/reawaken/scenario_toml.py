"""Write a calibrated scenario: a template's TOML text with the solved values filled in.

The template's comments and layout are kept (``tomlkit`` edits the document in place); only
the values a calibration sets change: ``name``, ``finding``, ``n``, ``followup.end_day``, the
outcome baseline's level, the effect's hazard ratios, ``infection.rate_multiplier``, and a
``[calibration]`` table recording how the file was made. Solved values are rounded to
:data:`SIGNIFICANT_DIGITS` significant digits, and the calibration checks exactly the text
written, so a file and its check always agree.

User strings (finding names, template paths, the command line) reach the file only as
tomlkit-escaped string values or through :func:`escape_comment` in the header comments, so no
newline in a name can end a comment and inject keys.
"""

from __future__ import annotations

import itertools
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from .errors import ScenarioError
from .findings import ReportedFinding
from .simulate.exposure import DAYS_PER_MONTH

SIGNIFICANT_DIGITS = 4
_WIDTH = 98


def round_significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` rounded to ``digits`` significant digits (as written to the TOML file)."""
    return float(f"{value:.{digits}g}")


@dataclass(frozen=True)
class Knobs:
    """The three solved multipliers, relative to the template's values.

    ``baseline_factor`` multiplies the outcome's baseline hazard at every time, ``effect_factor``
    every log hazard ratio of the effect profile, ``infection_factor`` the infection rates.
    """

    baseline_factor: float = 1.0
    effect_factor: float = 1.0
    infection_factor: float = 1.0


@dataclass(frozen=True)
class EffectShape:
    """Relative log hazard ratios by window: ``log HR_k = w_k / max|w| * log(estimate)`` before
    the effect factor is applied (so the largest window starts at the reported estimate)."""

    window_start_days: tuple[float, ...]
    weights: tuple[float, ...]

    @classmethod
    def parse(cls, text: str) -> EffectShape:
        """Parse ``"0:1,90:0.45,365:0.15"`` (window start day : relative log-HR)."""
        starts, weights = [], []
        for part in text.split(","):
            day, sep, weight = part.partition(":")
            try:
                if not sep:
                    raise ValueError
                starts.append(float(day))
                weights.append(float(weight))
            except ValueError:
                raise ScenarioError(
                    f"effect shape {text!r}: {part!r} is not DAY:WEIGHT; "
                    "fix: e.g. --effect-shape 0:1,90:0.45,365:0.15"
                ) from None
        if not all(math.isfinite(v) for v in (*starts, *weights)):
            raise ScenarioError(
                f"effect shape {text!r}: days and weights must be finite numbers; "
                "fix: e.g. --effect-shape 0:1,90:0.45,365:0.15"
            )
        if starts[0] != 0 or any(b <= a for a, b in itertools.pairwise(starts)):
            raise ScenarioError(
                f"effect shape {text!r}: window starts must begin at 0 and increase; "
                "fix: e.g. --effect-shape 0:1,90:0.45,365:0.15"
            )
        if max(abs(w) for w in weights) == 0:
            raise ScenarioError(
                f"effect shape {text!r}: the weights are all 0; fix: give the first window "
                "weight 1 (a null effect is an estimate of 1, not a shape)"
            )
        return cls(tuple(starts), tuple(weights))

    def text(self) -> str:
        return ",".join(
            f"{d:g}:{w:g}" for d, w in zip(self.window_start_days, self.weights, strict=True)
        )

    def hazard_ratios(self, estimate: float, factor: float) -> list[float]:
        top = max(abs(w) for w in self.weights)
        return [math.exp(factor * w / top * math.log(estimate)) for w in self.weights]


def _table(doc: Any, key: str, source: str) -> Any:
    if key not in doc or not isinstance(doc[key], Mapping):
        raise ScenarioError(f"template {source} has no [{key}] table; every scenario needs one")
    return doc[key]


def scaled_baseline(table: Mapping[str, Any], factor: float, source: str) -> dict[str, Any]:
    """The keys of a baseline TOML table that change when ``h0(t)`` is multiplied by ``factor``
    at every ``t`` (exact values; the writer rounds them): rates for exponential, Gompertz and
    piecewise baselines, ``scale * factor^(-1/shape)`` for a Weibull."""
    family = table.get("family")
    if family in ("exponential", "gompertz"):
        return {"rate_per_year": float(table["rate_per_year"]) * factor}
    if family == "weibull":
        return {
            "scale_years": float(table["scale_years"]) * factor ** (-1.0 / float(table["shape"]))
        }
    if family == "piecewise":
        return {"rate_per_year": [float(r) * factor for r in table["rate_per_year"]]}
    raise ScenarioError(f"template {source}: cannot scale outcome baseline {family!r}")


def scale_log_hazard_ratios(hazard_ratios: Sequence[float], factor: float) -> list[float]:
    """Every log hazard ratio multiplied by ``factor``: the profile's shape is kept."""
    return [math.exp(factor * math.log(float(h))) for h in hazard_ratios]


def escape_comment(text: str) -> str:
    """``text`` safe on one TOML comment line: control characters (a newline would end the
    comment and start a key) and Unicode line separators become visible escapes such as
    ``\\n`` (TOML 1.0 forbids control characters other than tab in comments)."""
    return "".join(
        c.encode("unicode_escape").decode("ascii") if _is_control(c) else c for c in text
    )


def _is_control(c: str) -> bool:
    return ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029"


def _comment_block(lines: Sequence[str]) -> str:
    out = []
    for line in map(escape_comment, lines):
        if len(line) <= _WIDTH - 2:
            out.append(f"# {line}".rstrip())
            continue
        indent = "  " if line.startswith("  ") else ""
        wrapped = textwrap.wrap(line.strip(), _WIDTH - 2 - len(indent)) or [""]
        out.extend(f"# {indent}{w}".rstrip() for w in wrapped)
    return "\n".join(out) + "\n"


def _strip_leading_comments(text: str) -> str:
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        i += 1
    return "".join(lines[i:])


def wrap_command(command: str) -> list[str]:
    """The command on comment lines of at most the file's width, continued with ``\\``;
    lines break only before an option, never between an option and its values."""
    units: list[str] = []
    for word in command.split(" "):
        if word.startswith("--") or not units or units[-1] == "reawaken":
            units.append(word)
        else:
            units[-1] += " " + word
    lines, current, limit = [], "", _WIDTH - 12
    for unit in units:
        if current and len(current) + 1 + len(unit) > limit:
            lines.append(current + " \\")
            current = "    " + unit
        else:
            current = f"{current} {unit}" if current else unit
    lines.append(current)
    return ["  " + line for line in lines]


def header_lines(
    finding: ReportedFinding,
    template: str,
    record: Mapping[str, Any],
    implied: Mapping[str, float],
) -> list[str]:
    """The generated header: the command, the target, the solved knobs and the check."""
    est = finding.measure
    share = record.get("exposed_share")
    share_text = f"exposed share {share:g}" if share is not None else "template's exposure level"
    ci = record["median_ci"]
    return [
        "Calibrated scenario written by `reawaken calibrate`; rerun it rather than editing:",
        *wrap_command(record["command"]),
        "",
        f"Target (finding {finding.name}): {est} {finding.estimate:g} (95% CI "
        f"{finding.ci_low:g}-{finding.ci_high:g}), n = {finding.n:,}, "
        f"{finding.followup_months:g} months. Implied SE(log {est}) {finding.implied_se:.4f}, "
        f"information 1/SE^2 = {implied['information']:.1f}, implied events "
        f"~{implied['events']:.0f} ({implied['events_formula']}).",
        f"Solved from template {template}, whose assumptions and comments below are kept:",
        f"  outcome baseline x{record['baseline_factor']:.6g} (for the CI width), log effect "
        f"x{record['effect_factor']:.6g} (for the estimate), infection rates "
        f"x{record['infection_factor']:.6g} ({share_text}).",
        f"Check ([calibration] below): {record['reps']} replicates of the design at n = "
        f"{finding.n:,} (seed {record['seed']}), converged at iteration "
        f"{record['iterations']}: median "
        f"{est} {record['median_estimate']:.4g}, {se_label(record)} {record['median_se']:.4f}, "
        f"median CI {ci[0]:.3g}-{ci[1]:.3g}, {record['mean_events']:.1f} persons with the outcome, "
        f"{100 * record['exposed_share_simulated']:.1f}% of persons with a documented exposure.",
    ]


def se_label(record: Mapping[str, Any]) -> str:
    """What ``median_se`` of a calibration record is (records without ``se_target`` predate
    the choice and matched the model-based SE)."""
    if record.get("se_target", "model") == "empirical":
        return "empirical SD of log estimates"
    return "median model SE(log)"


def render_calibrated(
    template_text: str,
    template: str,
    finding: ReportedFinding,
    knobs: Knobs,
    *,
    effect_shape: EffectShape | None = None,
    record: Mapping[str, Any] | None = None,
    implied: Mapping[str, float] | None = None,
) -> str:
    """The template with the finding's size and follow-up and the knobs applied.

    With ``record`` (and ``implied``), a generated header replaces the template's leading
    comments and a ``[calibration]`` table is appended; without, the text is for evaluation.
    """
    try:
        doc = tomlkit.parse(template_text)
    except TOMLKitError as exc:
        raise ScenarioError(f"template {template} is not valid TOML: {exc}") from exc
    doc["name"] = finding.name
    doc["finding"] = finding.name
    doc["n"] = finding.n
    _table(doc, "followup", template)["end_day"] = round(finding.followup_months * DAYS_PER_MONTH)
    outcome = _table(doc, "outcome", template)
    if not isinstance(outcome.get("baseline"), Mapping):
        raise ScenarioError(f"template {template}: [outcome] needs a baseline table")
    for key, value in scaled_baseline(outcome["baseline"], knobs.baseline_factor, template).items():
        outcome["baseline"][key] = (
            [round_significant(v) for v in value]
            if isinstance(value, list)
            else round_significant(value)
        )
    effect = _table(doc, "effect", template)
    if effect_shape is not None:
        effect["window_start_days"] = [
            int(d) if d == int(d) else d for d in effect_shape.window_start_days
        ]
        hrs = effect_shape.hazard_ratios(finding.estimate, knobs.effect_factor)
    else:
        hrs = scale_log_hazard_ratios(effect.get("hazard_ratio", []), knobs.effect_factor)
    effect["hazard_ratio"] = [round_significant(h) for h in hrs]
    infection = _table(doc, "infection", template)
    base = float(infection.get("rate_multiplier", 1.0))
    infection["rate_multiplier"] = round_significant(base * knobs.infection_factor)
    if "calibration" in doc:
        del doc["calibration"]
    if record is None:
        return tomlkit.dumps(doc)
    table = tomlkit.table()
    for key, value in record.items():
        if value is not None:
            table.add(key, value)
    doc.add(tomlkit.nl())
    doc["calibration"] = table
    body = _strip_leading_comments(tomlkit.dumps(doc))
    head = _comment_block(header_lines(finding, template, record, implied or {}))
    return head + "\n" + body
