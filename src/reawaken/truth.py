"""Defined truth: the value a study analysis converges to in a scenario, and the causal effect.

A scenario's *causal* effect is its exposure effect profile: the hazard ratio of (true)
infection on the outcome by days since infection. A study analysis need not converge to it:
undocumented infections, competing deaths, the matching and the OR's "no outcome" for controls
who are censored, lost or followed for less time all move its probability limit. The **defined
truth** of an analysis in a scenario is that limit, the target against which bias and coverage
are measured (Morris, White & Crowther, Stat Med 2019;38:2074-2102, section 3: the estimand).

It is computed by a large-cohort run: ``K`` independent cohorts of ``m × n`` persons (``n`` the
scenario's size), the analysis run on each; truth = mean log estimate, MCSE = SD / sqrt(K).
A cohort of ``m × n`` persons has an SE of about ``SE_n / sqrt(m)``, so the truth's MCSE is
about ``SE_n / sqrt(m K)``: the defaults ``m = 4, K = 400`` give ``SE_n / 40``, 2.5% of the
estimator's own SE at the preset size (and smaller than the MCSE ``SE_n / 31.6`` of the bias
in a 1,000-replicate methods check). The truth cohorts use their own seed (:data:`TRUTH_SEED`),
so they are independent of the replicates a methods check draws.

*Causal HR.* A constant profile has one causal log-HR. A windowed profile (HR by days since
infection) has none: the causal effect is the profile itself (reported as text), and each
analysis averages it with its own weights (person-time at risk by time since infection for a
Cox model, outcomes after the index day for the OR).

*Versions* of a scenario (:data:`VERSIONS`): ``preset`` as given; ``null``, every window of the
exposure effect set to HR 1 (log-HR 0; the effect of infection on competing death, the
testing and the confounding are kept); ``reduced``, a smaller cohort (:func:`reduced_scenario`)
with the outcome hazard scaled up to keep the events, for quick methods checks; and
``reduced-null``. Under ``null`` a null-preserving analysis has truth 0 (a test checks it);
the published-style matched OR does not.

Truths are stored per preset in ``reawaken/findings/truths/<preset>.json`` with their MCSE and a
fingerprint of the scenario version they belong to (:func:`scenario_fingerprint`); ``reawaken
truth --scenario NAME --write`` recomputes them. :func:`stored_truth` finds the stored truth of
a scenario and analysis by fingerprint, so a changed preset never gets a stale truth.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .checks import checked
from .errors import AnalysisError, InputFileError
from .io import write_text_atomic
from .outputs import dumps_json
from .scenario import Scenario, list_presets
from .simulate.effects import EffectProfile
from .simulate.hazards import BaselineHazard
from .study.analyses import STUDY_ANALYSES, STUDY_MEASURES, Analysis

TRUTH_PACKAGE = "reawaken.findings.truths"
_FORMAT = "reawaken-truths-v1"
#: Scenario versions a truth is stored for.
VERSIONS: tuple[str, ...] = ("preset", "null", "reduced", "reduced-null")
#: Default cohorts K and size multiplier m of a truth run.
DEFAULT_COHORTS = 400
DEFAULT_MULTIPLIER = 4
#: Root seed of truth runs (distinct from the default seed of replicate runs).
TRUTH_SEED = 424242
#: Reduced cohort sizes for quick methods checks: the preset size divided by this factor.
REDUCTION = 6
#: Fields of a stored truth, in order.
FIELDS: tuple[str, ...] = tuple(
    "scenario version analysis measure log_truth mcse truth cohorts multiplier n seed failed "
    "mean_se causal_log_hr causal_effect fingerprint".split()
)


# ------------------------------------------------------------------------- scenario versions


@dataclass(frozen=True)
class ScaledBaseline:
    """A baseline hazard multiplied by ``factor``: ``H0'(t) = factor * H0(t)`` (exact, any
    family; the multiplier acts like a shift of every person's linear predictor by
    ``log(factor)``)."""

    base: BaselineHazard
    factor: float

    def hazard(self, t_days: np.ndarray) -> np.ndarray:
        return self.factor * self.base.hazard(t_days)

    def cumulative(self, t_days: np.ndarray) -> np.ndarray:
        return self.factor * self.base.cumulative(t_days)

    def inverse_cumulative(self, h: np.ndarray) -> np.ndarray:
        return self.base.inverse_cumulative(np.asarray(h, dtype=float) / self.factor)


@checked
def null_scenario(scenario: Scenario) -> Scenario:
    """The scenario with every window of its exposure effect at HR 1 (log-HR 0), named
    ``<name>:null``; everything else (competing deaths after infection, testing, confounding,
    biases) is kept.

    Examples
    --------
    >>> import reawaken as rw
    >>> null = rw.null_scenario(rw.load_scenario("flatiron_lung_mets"))
    >>> null.name, null.effect.hazard_ratios
    ('flatiron_lung_mets:null', (1.0,))
    """
    effect = scenario.effect
    null = EffectProfile(effect.window_start_days, (1.0,) * len(effect.hazard_ratios))
    return replace(scenario.with_effect(null), name=f"{_base_name(scenario)}:null")


def reduced_scenario(scenario: Scenario, n: int | None = None) -> Scenario:
    """A smaller cohort (default ``n / REDUCTION``) whose outcome hazard is scaled up by
    ``scenario.n / n``, keeping about as many outcome events, named ``<name>:reduced``."""
    size = min(scenario.n, max(200, round(scenario.n / REDUCTION))) if n is None else int(n)
    if size < 1 or size > scenario.n:
        raise AnalysisError(
            f"a reduced cohort needs 1 <= n <= {scenario.n}, got {size}; fix: pick a smaller n"
        )
    outcome = replace(
        scenario.outcome, baseline=ScaledBaseline(scenario.outcome.baseline, scenario.n / size)
    )
    return replace(scenario.with_n(size), outcome=outcome, name=f"{_base_name(scenario)}:reduced")


def scenario_version(scenario: Scenario, version: str) -> Scenario:
    """One of :data:`VERSIONS` of a scenario, named ``<name>`` or ``<name>:<version>``."""
    if version not in VERSIONS:
        raise AnalysisError(f"unknown scenario version {version!r}; fix: use one of {VERSIONS}")
    sc = reduced_scenario(scenario) if version.startswith("reduced") else scenario
    if version.endswith("null"):
        sc = null_scenario(sc)
    base = _base_name(scenario)
    return replace(sc, name=base if version == "preset" else f"{base}:{version}")


def _base_name(scenario: Scenario) -> str:
    return scenario.name.split(":")[0]


def applicable_analyses(scenario: Scenario) -> tuple[str, ...]:
    """The study analyses that apply to a scenario, its own ``[design]`` analysis first.

    With testing (a test-negative comparison): the matched OR, matched Cox and test-negative
    logistic regression; without: the time-varying Cox model and matched Cox."""
    names = (
        ("matched_or", "matched_cox", "test_negative_logistic")
        if scenario.testing is not None
        else ("time_varying_cox", "matched_cox")
    )
    first = scenario.design.analysis if scenario.design is not None else names[0]
    return (first, *[a for a in names if a != first]) if first in names else names


def causal_effect(scenario: Scenario) -> tuple[float, str]:
    """The simulator's causal effect: ``(log HR, description)`` when every window has the same
    HR (a constant profile, e.g. the null), ``(NaN, description)`` for a windowed profile (its
    causal effect is the profile)."""
    hrs = scenario.effect.hazard_ratios
    if len(set(hrs)) > 1:
        return math.nan, scenario.effect.describe()
    return math.log(hrs[0]), f"constant HR {hrs[0]:.4g}"


def scenario_fingerprint(scenario: Scenario) -> str:
    """sha256 of the scenario's simulation-relevant content: ``repr`` of the scenario with its
    name, labels, description and ``[calibration]`` record blanked."""
    core = replace(
        scenario,
        name="",
        description="",
        outcome_label="",
        competing_label="",
        finding=None,
        calibration=None,
    )
    return hashlib.sha256(repr(core).encode("utf-8")).hexdigest()


def analysis_name(analysis: Analysis) -> str | None:
    """The :data:`STUDY_ANALYSES` name of an analysis callable (``None`` for another one)."""
    return next((k for k, v in STUDY_ANALYSES.items() if v is analysis), None)


# ---------------------------------------------------------------------------------- computing


@dataclass(frozen=True)
class Truth:
    """The defined truth of one study analysis in one scenario version.

    Attributes
    ----------
    scenario, version, analysis, measure : str
        Preset name, one of :data:`VERSIONS`, the :data:`STUDY_ANALYSES` name, HR or OR.
    log_truth, mcse : float
        Mean log estimate over the truth cohorts and its Monte Carlo SE ``SD / sqrt(K)``.
    cohorts, multiplier, n, seed : int
        ``K`` cohorts of ``multiplier × n`` persons from the root seed ``seed``.
    failed : int
        Truth cohorts whose analysis failed (excluded).
    mean_se : float
        Mean SE of the log estimate in one truth cohort (about ``SE_n / sqrt(multiplier)``).
    causal_log_hr : float
        The simulator's constant causal log-HR (NaN for a windowed profile).
    causal_effect : str
        The causal effect profile, e.g. ``HR 3.18 on days 0-90, ...``.
    fingerprint : str
        :func:`scenario_fingerprint` of the scenario version.
    """

    scenario: str
    version: str
    analysis: str
    measure: str
    log_truth: float
    mcse: float
    cohorts: int
    multiplier: int
    n: int
    seed: int
    failed: int
    mean_se: float
    causal_log_hr: float
    causal_effect: str
    fingerprint: str

    @property
    def truth(self) -> float:
        """The truth on the ratio scale, ``exp(log_truth)``."""
        return math.exp(self.log_truth)

    def to_dict(self) -> dict[str, Any]:
        """The :data:`FIELDS` as a dict."""
        return {k: (self.truth if k == "truth" else getattr(self, k)) for k in FIELDS}


@checked
def compute_truth(
    scenario: Scenario,
    analysis: str,
    *,
    version: str = "preset",
    cohorts: int = DEFAULT_COHORTS,
    multiplier: int = DEFAULT_MULTIPLIER,
    seed: int = TRUTH_SEED,
    executor: Any = "processes",
    workers: int | None = None,
    progress: bool = False,
) -> Truth:
    """The defined truth of ``analysis`` in ``scenario`` (already the wanted version).

    Truth = mean log estimate over ``cohorts`` independent cohorts of ``multiplier ×
    scenario.n`` persons, MCSE = SD / sqrt(cohorts) (Morris et al. 2019, Table 6, bias row).

    Examples
    --------
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets")
    >>> truth = rw.compute_truth(scenario, "time_varying_cox", cohorts=2, multiplier=1,
    ...                          executor="serial")
    >>> truth.cohorts
    2
    """
    from .evaluate import run_replicates  # evaluate reads stored truths from this module

    _check_analyses([analysis])
    if cohorts < 2 or multiplier < 1:
        raise AnalysisError(
            f"a truth run needs cohorts >= 2 and multiplier >= 1, got {cohorts} and {multiplier}"
        )
    table = run_replicates(
        scenario,
        STUDY_ANALYSES[analysis],
        reps=cohorts,
        seed=seed,
        n=multiplier * scenario.n,
        executor=executor,
        workers=workers,
        progress=progress,
    ).data
    ok = table["error"].isna() & np.isfinite(table["log_estimate"])
    if ok.sum() < max(2, 0.95 * cohorts):
        raise AnalysisError(
            f"{analysis} failed on {int((~ok).sum())} of {cohorts} truth cohorts of "
            f"{scenario.name} (e.g. {table.loc[~ok, 'error'].iloc[0]}); fix: raise --multiplier"
        )
    logs = table.loc[ok, "log_estimate"].to_numpy()
    causal_log_hr, causal_text = causal_effect(scenario)
    return Truth(
        scenario=_base_name(scenario),
        version=version,
        analysis=analysis,
        measure=STUDY_MEASURES[analysis],
        log_truth=float(logs.mean()),
        mcse=float(logs.std(ddof=1) / math.sqrt(len(logs))),
        cohorts=int(cohorts),
        multiplier=int(multiplier),
        n=int(scenario.n),
        seed=int(seed),
        failed=int((~ok).sum()),
        mean_se=float(table.loc[ok, "se"].mean()),
        causal_log_hr=causal_log_hr,
        causal_effect=causal_text,
        fingerprint=scenario_fingerprint(scenario),
    )


def _check_analyses(names: Sequence[str]) -> None:
    unknown = [a for a in names if a not in STUDY_ANALYSES]
    if unknown:
        raise AnalysisError(
            f"unknown analysis {unknown[0]!r}; fix: use one of {', '.join(STUDY_ANALYSES)}"
        )


def compute_truths(
    scenario: Scenario,
    *,
    versions: Sequence[str] = VERSIONS,
    analyses: Sequence[str] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Truths of every applicable analysis (or ``analyses``) in each of ``versions`` of a
    scenario, one row each (columns :data:`FIELDS`); ``kwargs`` go to :func:`compute_truth`.

    The analyses share the root seed, so they are run on the same cohorts (common random
    numbers), as are the versions."""
    from .evaluate import replicate_pool

    names = applicable_analyses(scenario) if analyses is None else tuple(analyses)
    _check_analyses(names)
    executor = kwargs.pop("executor", "processes")
    with replicate_pool(executor, kwargs.get("workers")) as pool:
        rows = [
            compute_truth(
                scenario_version(scenario, v), a, version=v, executor=pool, **kwargs
            ).to_dict()
            for v in versions
            for a in names
        ]
    return pd.DataFrame(rows, columns=list(FIELDS))


# ------------------------------------------------------------------------------------ storage


def truths_path(name: str) -> Path:
    """The package data file of a preset's stored truths."""
    return Path(str(resources.files(TRUTH_PACKAGE).joinpath(f"{name}.json")))


def recompute_command(name: str) -> str:
    """The command that recomputes and stores a preset's truths."""
    return f"reawaken truth --scenario {name} --write"


def read_truths(path: str | Path) -> pd.DataFrame:
    """Stored truths (columns :data:`FIELDS`) from a truth file."""
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(
            f"cannot read the truth file {path} ({exc}); fix: rerun "
            "`reawaken truth --scenario NAME --write`"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise InputFileError(
            f"{path} is not a reawaken truth file ({_FORMAT}); fix: rerun "
            "`reawaken truth --scenario NAME --write`"
        )
    table = pd.DataFrame(payload["truths"], columns=list(FIELDS))
    return table.astype({"causal_log_hr": "float64"})  # None (a windowed profile) -> NaN


def stored_truths() -> pd.DataFrame:
    """Every stored truth of every shipped preset (columns :data:`FIELDS`)."""
    frames = [read_truths(truths_path(p)) for p in list_presets() if truths_path(p).exists()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(FIELDS))


@checked
def stored_truth(scenario: Scenario, analysis: str) -> Truth | None:
    """The stored truth of ``analysis`` in exactly this scenario (matched by fingerprint), or
    ``None`` when there is none (another scenario, or a preset changed since it was stored).

    Examples
    --------
    >>> import reawaken as rw
    >>> truth = rw.stored_truth(rw.load_scenario("flatiron_lung_mets"), "time_varying_cox")
    >>> truth.measure, round(truth.log_truth, 2)
    ('HR', 0.36)
    """
    table = stored_truths()
    hit = table[
        (table["fingerprint"] == scenario_fingerprint(scenario)) & (table["analysis"] == analysis)
    ]
    if hit.empty:
        return None
    row = hit.iloc[-1].to_dict()
    row.pop("truth")
    return Truth(**row)


def merge_truths(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
    """``old`` with the rows of ``new`` replacing those of the same version and analysis."""
    if old is None or old.empty:
        return new.reset_index(drop=True)
    keys = set(zip(new["version"], new["analysis"], strict=True))
    keep = [(v, a) not in keys for v, a in zip(old["version"], old["analysis"], strict=True)]
    table = pd.concat([old[keep], new], ignore_index=True)
    order = {v: i for i, v in enumerate(VERSIONS)}
    return table.sort_values("version", key=lambda s: s.map(order), kind="stable").reset_index(
        drop=True
    )


def write_truths(table: pd.DataFrame, path: str | Path, name: str) -> Path:
    """Write truths (columns :data:`FIELDS`) as a truth file, atomically."""
    records = table[list(FIELDS)].to_dict("records")
    payload = {
        "format": _FORMAT,
        "scenario": name,
        "command": recompute_command(name),
        "definition": "log_truth = mean log estimate of the analysis over `cohorts` cohorts of "
        "`multiplier` x n persons of the scenario version; mcse = SD / sqrt(cohorts)",
        "truths": records,
    }
    path = Path(path)
    write_text_atomic(path, dumps_json(payload, indent=1) + "\n")
    return path


def stale_truths(name: str) -> list[str]:
    """Problems of a preset's stored truths: one line per applicable analysis and version whose
    truth is missing or was computed for another version of the scenario (empty if current)."""
    from .scenario import load_scenario

    preset = load_scenario(name)
    path = truths_path(name)
    stored = read_truths(path) if path.exists() else pd.DataFrame(columns=list(FIELDS))
    fix = f"fix: run `{recompute_command(name)}`"
    problems = []
    for version in VERSIONS:
        fingerprint = scenario_fingerprint(scenario_version(preset, version))
        for analysis in applicable_analyses(preset):
            hit = stored[(stored["version"] == version) & (stored["analysis"] == analysis)]
            if hit.empty:
                problems.append(f"{name}: no stored truth of {analysis} ({version}); {fix}")
            elif hit["fingerprint"].iloc[-1] != fingerprint:
                problems.append(
                    f"{name}: the stored truth of {analysis} ({version}) is stale, the scenario "
                    f"changed since it was computed; {fix}"
                )
    return problems


# --------------------------------------------------------------------------------- formatting


def compare_truths(new: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """``new`` with the stored truth of the same version, analysis and fingerprint beside it
    and ``z = (new - stored) / sqrt(mcse_new^2 + mcse_stored^2)`` (NaN where none is stored)."""
    keys = ["version", "analysis", "fingerprint"]
    old = stored[[*keys, "log_truth", "mcse"]].rename(
        columns={"log_truth": "stored_log_truth", "mcse": "stored_mcse"}
    )
    out = new.merge(old.drop_duplicates(keys, keep="last"), on=keys, how="left")
    cols = ["log_truth", "mcse", "stored_log_truth", "stored_mcse"]
    out[cols] = out[cols].astype("float64")
    out["z"] = (out["log_truth"] - out["stored_log_truth"]) / np.hypot(
        out["mcse"], out["stored_mcse"]
    )
    return out


def format_truths(table: pd.DataFrame) -> str:
    """One line per truth: version, analysis, truth (log and MCSE), runs, causal effect, and
    the stored value when ``table`` comes from :func:`compare_truths`."""
    lines = []
    for r in table.to_dict("records"):
        line = (
            f"{r['scenario']:<22} {r['version']:<13} {r['analysis']:<23} {r['measure']} "
            f"{math.exp(r['log_truth']):.3f} (log {r['log_truth']:+.4f}, MCSE {r['mcse']:.4f}); "
            f"{r['cohorts']} cohorts of {r['multiplier']} x {r['n']:,}; causal {r['causal_effect']}"
        )
        if "z" in r and not math.isnan(r["z"]):
            line += f"; stored log {r['stored_log_truth']:+.4f} (z = {r['z']:+.2f})"
        lines.append(line)
    return "\n".join(lines)
