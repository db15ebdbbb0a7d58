"""Design analysis: power, type S and type M (exaggeration) errors (Gelman & Carlin 2014).

Given the standard error ``s`` a study achieved and an assumed true effect ``D`` (on the scale
where the estimate is normal: a difference, or the log of a ratio), with ``z = z_{1-a/2}``
(Gelman & Carlin, Perspect Psychol Sci 2014, "Beyond power calculations"):

* power ``= Phi(-z - |D|/s) + 1 - Phi(z - |D|/s)``: the chance of a significant estimate, in either
  direction (exact two-tailed power, unlike the one-tail approximation of
  :mod:`reawaken.power.analytic`);
* type S error rate ``= Phi(-z - |D|/s) / power``: the chance a significant estimate has the wrong
  sign;
* exaggeration ratio (type M) ``= E[|est| | significant] / |D|``, ``est ~ N(D, s^2)``, computed by
  exact integration over the two rejection regions (partial moments of the normal, i.e. the
  truncated-normal means weighted by their probabilities), and optionally by simulation as a
  check.

For a reported ratio with a 95% CI, ``s = (ln hi - ln lo) / (2 z_{1-a/2})`` and the information is
``1 / s^2``. A low power means the significant estimates a study can publish are exaggerated: the
reported estimate is then evidence of a smaller true effect than itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..checks import checked
from ..errors import AnalysisError
from ..findings import ReportedFinding

ADDITIVE_COLUMNS = (
    "true_effect",
    "se",
    "power",
    "type_s",
    "exaggeration",
    "exaggeration_sim",
    "exaggeration_sim_mcse",
    "expected_significant_estimate",
)
TABLE_COLUMNS = (
    "true_ratio",
    "power",
    "type_s",
    "exaggeration",
    "exaggeration_sim",
    "exaggeration_sim_mcse",
    "expected_significant_ratio",
)


def _check_alpha(where: str, alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise AnalysisError(f"{where}: alpha = {alpha} is not in (0, 1); fix: pass e.g. 0.05")
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def _check_sims(where: str, n_sims: int, rng: np.random.Generator | None) -> int:
    if int(n_sims) != n_sims or n_sims < 0:
        raise AnalysisError(
            f"{where}: n_sims = {n_sims} must be a whole number >= 0; fix: pass 0 (closed form "
            "only) or e.g. 100_000"
        )
    if n_sims > 0 and not isinstance(rng, np.random.Generator):
        raise AnalysisError(
            f"{where}: n_sims = {n_sims} needs an explicit generator; fix: pass "
            "rng=numpy.random.default_rng(seed)"
        )
    return int(n_sims)


def _simulated_exaggeration(
    effect: float, se: float, z: float, n_sims: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Mean of ``|est| / |D|`` over significant draws of ``N(|D|, s^2)`` and its Monte Carlo SE."""
    est = np.abs(effect + se * rng.standard_normal(n_sims))
    significant = est[est > z * se]
    if significant.size < 2:
        return math.nan, math.nan
    mcse = significant.std(ddof=1) / math.sqrt(significant.size)
    return float(significant.mean() / effect), float(mcse / effect)


@checked
def design_analysis_additive(
    true_effect: float | Iterable[float],
    se: float,
    alpha: float = 0.05,
    *,
    n_sims: int = 0,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Power, type S rate and exaggeration ratio for effects on an additive (normal) scale.

    ``power = Phi(-z - D/s) + 1 - Phi(z - D/s)``, ``type_s = Phi(-z - D/s) / power``,
    ``exaggeration = E[|est| | |est| > z s] / D`` with ``D = |true effect|`` (Gelman & Carlin
    2014). The conditional mean is exact: with ``m = D/s``, ``E[est; est > z s] = D (1 -
    Phi(z - m)) + s phi(z - m)`` and ``E[-est; est < -z s] = -D Phi(-z - m) + s phi(-z - m)``.

    Parameters
    ----------
    true_effect : float or iterable of float
        Assumed true effects (non-zero), on the estimate's scale (e.g. percentage points).
    se : float
        Standard error of the estimate.
    alpha : float
        Two-sided significance level.
    n_sims : int
        When > 0, also estimate the exaggeration ratio from ``n_sims`` normal draws per effect.
    rng : numpy.random.Generator, optional
        Generator for the simulation (required when ``n_sims > 0``).

    Returns
    -------
    DataFrame
        One row per effect: ``true_effect, se, power, type_s, exaggeration, exaggeration_sim,
        exaggeration_sim_mcse, expected_significant_estimate`` (the last is
        ``sign(D) E[|est| | significant]``, what a significant study reports on average; the
        simulation columns are NaN without simulation).
    """
    where = "design_analysis_additive"
    z = _check_alpha(where, alpha)
    n_sims = _check_sims(where, n_sims, rng)
    if not (math.isfinite(se) and se > 0):
        raise AnalysisError(
            f"{where}: se = {se} must be a positive number; fix: pass the standard error of the "
            "estimate"
        )
    effects = np.atleast_1d(np.asarray(true_effect, dtype=float))
    if effects.ndim != 1 or effects.size == 0:
        raise AnalysisError(
            f"{where}: no true effects given; fix: pass one or more (a number or a list)"
        )
    if not np.isfinite(effects).all() or (effects == 0).any():
        raise AnalysisError(
            f"{where}: true effects must be finite and non-zero, got {effects.tolist()}; a zero "
            "effect has no sign or magnitude to get wrong (its power is alpha); fix: drop it"
        )
    d = np.abs(effects)
    m = d / se
    p_wrong = stats.norm.cdf(-z - m)
    p_right = stats.norm.sf(z - m)
    power = p_wrong + p_right
    partial = d * p_right + se * stats.norm.pdf(z - m) - d * p_wrong + se * stats.norm.pdf(-z - m)
    mean_abs = partial / power
    sim = np.full(d.size, np.nan)
    sim_mcse = np.full(d.size, np.nan)
    if n_sims > 0:
        for i, effect in enumerate(d):
            sim[i], sim_mcse[i] = _simulated_exaggeration(effect, se, z, n_sims, rng)
    return pd.DataFrame(
        {
            "true_effect": effects,
            "se": float(se),
            "power": power,
            "type_s": p_wrong / power,
            "exaggeration": mean_abs / d,
            "exaggeration_sim": sim,
            "exaggeration_sim_mcse": sim_mcse,
            "expected_significant_estimate": np.sign(effects) * mean_abs,
        },
        columns=list(ADDITIVE_COLUMNS),
    )


@dataclass(frozen=True, eq=False)
class DesignAnalysis:
    """Design analysis of a ratio estimate at several assumed true ratios.

    Attributes
    ----------
    se : float
        SE of the log ratio (given, or implied by the CI).
    alpha : float
        Two-sided significance level (and ``1 - alpha`` the CI level).
    table : DataFrame
        ``true_ratio, power, type_s, exaggeration, exaggeration_sim, exaggeration_sim_mcse,
        expected_significant_ratio``; the last is ``exp(sign(log R) E[|est| | significant])``,
        the ratio a significant study reports on average when the truth is ``R``.
    estimate : float or None
        The reported ratio, when given.
    ci : tuple of float or None
        The reported CI, when given.
    n_sims : int
        Simulated draws per true ratio (0: closed form only).
    """

    se: float
    alpha: float
    table: pd.DataFrame
    estimate: float | None = None
    ci: tuple[float, float] | None = None
    n_sims: int = 0

    @property
    def information(self) -> float:
        """Information of the log ratio, ``1 / SE^2`` (``D p (1 - p)`` for a Cox HR)."""
        return 1.0 / self.se**2

    def summary(self) -> str:
        """Header (SE, information, reported estimate) and one line per assumed true ratio."""
        head = f"Design analysis (Gelman & Carlin 2014): SE(log ratio) {self.se:.3f}"
        if self.ci is not None:
            level = 1.0 - self.alpha
            head += f" from the {level:.0%} CI {self.ci[0]:.2f}-{self.ci[1]:.2f}"
        head += f", information 1/SE^2 = {self.information:.1f}"
        if self.estimate is not None:
            head += f"; reported {self.estimate:.2f}"
        lines = [head]
        for r in self.table.itertuples():
            sim = ""
            if np.isfinite(r.exaggeration_sim):
                sim = f" (simulated {r.exaggeration_sim:.2f}, MCSE {r.exaggeration_sim_mcse:.1g})"
            lines.append(
                f"  true {r.true_ratio:.3g}: power {r.power:.1%}, type S {r.type_s:.2%}, "
                f"exaggeration {r.exaggeration:.2f}{sim}; significant estimates average "
                f"{r.expected_significant_ratio:.2f}"
            )
        return "\n".join(lines)


def _ci_bounds(where: str, ci: tuple[float, float], z: float) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in ci)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(
            f"{where}: ci = {ci!r} is not a pair of numbers; fix: pass ci=(low, high)"
        ) from exc
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        raise AnalysisError(
            f"{where}: ci = ({low}, {high}) must satisfy 0 < low < high (a ratio CI); fix: check "
            "the order of the bounds"
        )
    return low, high


@checked
def design_analysis(
    *,
    estimate: float | None = None,
    ci: tuple[float, float] | None = None,
    se: float | None = None,
    true_effects: float | Iterable[float],
    alpha: float = 0.05,
    n_sims: int = 0,
    rng: np.random.Generator | None = None,
) -> DesignAnalysis:
    """Power, type S and type M errors of a ratio estimate at assumed true ratios.

    ``s = (ln hi - ln lo) / (2 z_{1-a/2})`` from the CI, then :func:`design_analysis_additive`
    on ``log(true ratio)`` (Gelman & Carlin, Perspect Psychol Sci 2014).

    Parameters
    ----------
    estimate : float, optional
        The reported ratio (kept for the summary and the plot; must lie inside ``ci``).
    ci : (float, float), optional
        The reported ``1 - alpha`` CI of the ratio. Exactly one of ``ci`` and ``se`` is needed.
    se : float, optional
        SE of the log ratio, when known directly.
    true_effects : float or iterable of float
        Assumed true ratios (positive, not 1), e.g. ``(1.1, 1.2, 1.44)``.
    alpha : float
        Two-sided significance level; the CI is read as a ``1 - alpha`` interval.
    n_sims : int
        When > 0, add the simulated exaggeration ratio (``n_sims`` draws per ratio) as a check.
    rng : numpy.random.Generator, optional
        Generator for the simulation (required when ``n_sims > 0``).

    Returns
    -------
    DesignAnalysis

    Examples
    --------
    >>> import reawaken as rw
    >>> da = rw.design_analysis(estimate=1.85, ci=(1.14, 3.02), true_effects=[1.5, 1.85])
    >>> da.table[["true_ratio", "power", "exaggeration"]].round(3)
       true_ratio  power  exaggeration
    0        1.50  0.371         1.624
    1        1.85  0.697         1.203
    """
    where = "design_analysis"
    z = _check_alpha(where, alpha)
    if (ci is None) == (se is None):
        raise AnalysisError(
            f"{where}: pass exactly one of ci (the reported CI) and se (SE of the log ratio); "
            f"got {'both' if ci is not None else 'neither'}; fix: pass e.g. ci=(1.01, 2.05)"
        )
    if se is not None and not (math.isfinite(se) and se > 0):
        raise AnalysisError(
            f"{where}: se = {se} must be a positive number; fix: pass the SE of the log ratio"
        )
    bounds = None
    if ci is not None:
        bounds = _ci_bounds(where, ci, z)
        se = (math.log(bounds[1]) - math.log(bounds[0])) / (2.0 * z)
    if estimate is not None:
        if not (math.isfinite(estimate) and estimate > 0):
            raise AnalysisError(
                f"{where}: estimate = {estimate} must be a positive ratio; fix: pass the "
                "reported ratio (e.g. 1.44), not its log"
            )
        if bounds is not None and not bounds[0] <= estimate <= bounds[1]:
            raise AnalysisError(
                f"{where}: estimate {estimate} lies outside its CI {bounds}; fix: check the values"
            )
    ratios = np.atleast_1d(np.asarray(true_effects, dtype=float))
    if ratios.ndim != 1 or ratios.size == 0 or not (np.isfinite(ratios) & (ratios > 0)).all():
        raise AnalysisError(
            f"{where}: true_effects must be positive ratios, got {ratios.tolist()}; fix: pass "
            "e.g. true_effects=(1.1, 1.2, 1.44)"
        )
    if (ratios == 1).any():
        raise AnalysisError(
            f"{where}: a true ratio of 1 has no sign or magnitude to get wrong (its power is "
            "alpha); fix: drop 1 from true_effects"
        )
    add = design_analysis_additive(np.log(ratios), se, alpha, n_sims=n_sims, rng=rng)
    table = pd.DataFrame(
        {
            "true_ratio": ratios,
            "power": add["power"],
            "type_s": add["type_s"],
            "exaggeration": add["exaggeration"],
            "exaggeration_sim": add["exaggeration_sim"],
            "exaggeration_sim_mcse": add["exaggeration_sim_mcse"],
            "expected_significant_ratio": np.exp(add["expected_significant_estimate"]),
        },
        columns=list(TABLE_COLUMNS),
    )
    return DesignAnalysis(
        se=float(se),
        alpha=float(alpha),
        table=table,
        estimate=None if estimate is None else float(estimate),
        ci=bounds,
        n_sims=int(n_sims),
    )


@checked
def design_analysis_of_finding(
    finding: ReportedFinding, *, true_effects: float | Iterable[float], **kwargs
) -> DesignAnalysis:
    """:func:`design_analysis` of a reported finding (its estimate and 95% CI)."""
    return design_analysis(
        estimate=finding.estimate,
        ci=(finding.ci_low, finding.ci_high),
        true_effects=true_effects,
        **kwargs,
    )
