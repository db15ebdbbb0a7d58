"""Simulation-based power and sample size for the full pipeline (simulate → design → estimate).

For each grid point (cohort size ``n`` and/or true hazard ratio) the study analysis is run on
``reps`` seeded replicates (:func:`reawaken.evaluate.run_replicates`); power is the share of
**all** ``reps`` replicates rejecting ``ratio = 1`` at ``alpha``, with Monte Carlo SE
``sqrt(p (1 - p) / reps)`` (Morris, White & Crowther 2019). A replicate whose analysis failed
(no estimate: too few events, a monotone likelihood, ...) is a study that could not reject, so it
counts as a non-rejection in the denominator; failures are reported per grid point (column
``failed``, and in the summary), never dropped silently.

The test is the two-sided Wald test of the analysis' own log estimate and SE,
``p = 2 Phi(-|log ratio| / se)`` (:class:`reawaken.estimate.Estimate`), so its size is only as
good as that SE: model-based (inverse information) for the time-varying Cox and test-negative
logistic models, whatever variance the matched analyses report for theirs (column ``variance``
names the kinds used: ``model``, ``robust``, ``shared-members`` or ``bootstrap``).

Every grid point uses the same root seed, so replicate ``i`` shares its random streams across
points (common random numbers): the curve is smooth and differences between points are not
swamped by Monte Carlo noise.

Sample size: power at ``n`` follows ``Phi(a + b sqrt(n))`` for a Wald test whose information
grows linearly in ``n``; :func:`sample_size_for_power` fits ``a, b`` by probit regression of the
simulated rejection counts (statsmodels GLM, binomial, probit link) and solves for the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ..checks import checked
from ..errors import AnalysisError
from ..evaluate import Analysis, replicate_pool, run_replicates
from ..scenario import Scenario
from ..simulate.effects import EffectProfile

POWER_COLUMNS = (
    "n",
    "hr",
    "reps",
    "failed",
    "power",
    "mcse",
    "mean_log_estimate",
    "geometric_mean_estimate",
    "mean_se",
    "mean_events",
    "variance",
)


@dataclass(frozen=True, eq=False)
class PowerCurve:
    """Simulated power per grid point (``table``) and the settings that produced it."""

    table: pd.DataFrame
    scenario: str
    alpha: float
    seed: int

    def summary(self) -> str:
        lines = [
            f"simulated power, {self.scenario} (two-sided alpha {self.alpha:g}, seed {self.seed}):"
        ]
        for r in self.table.itertuples():
            hr = "scenario effect" if np.isnan(r.hr) else f"HR {r.hr:.3g}"
            lines.append(
                f"  n={r.n:>8,}  {hr:<16} power {r.power:.3f} (MCSE {r.mcse:.3f}), "
                f"mean estimate {r.geometric_mean_estimate:.3f}, {r.mean_events:.0f} "
                f"events, {r.reps} reps ({r.failed} failed, counted as non-rejections), "
                f"{r.variance} SE"
            )
        return "\n".join(lines)


def with_constant_hr(scenario: Scenario, hr: float) -> Scenario:
    """The scenario with a constant true hazard ratio ``hr`` from infection onward."""
    if not hr > 0:
        raise AnalysisError(f"hazard ratios must be > 0, got {hr}")
    return replace(scenario, effect=EffectProfile.constant(hr))


@checked
def simulate_power(
    scenario: Scenario,
    *,
    n_grid: Sequence[int] | None = None,
    hr_grid: Sequence[float] | None = None,
    reps: int,
    seed: int,
    alpha: float = 0.05,
    analysis: Analysis | None = None,
    executor: str = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    checkpoint: str | None = None,
) -> PowerCurve:
    """Power of the scenario's study analysis over a grid of cohort sizes and true HRs.

    Parameters
    ----------
    scenario : Scenario
        Any scenario (windowed effects and biases included); its ``[design]`` picks the analysis.
    n_grid : sequence of int, optional
        Cohort sizes (default: the scenario's ``n``).
    hr_grid : sequence of float, optional
        Constant true hazard ratios replacing the scenario's effect profile (default: keep it).
    reps, seed : int
        Replicates per grid point and the root seed shared by all points (common random numbers).
    alpha : float
        Two-sided significance level.
    checkpoint : str, optional
        Folder of per-grid-point checkpoints (``run_replicates(checkpoint=...)``): a rerun
        after an interruption computes only the missing replicates.

    Returns
    -------
    PowerCurve
        One row per grid point (:data:`POWER_COLUMNS`): ``power`` = rejections / ``reps``
        (failed replicates count as non-rejections; ``failed`` says how many), MCSE
        ``sqrt(power (1 - power) / reps)``, the means over the successful replicates and the
        ``variance`` the Wald test's SE came from.

    Examples
    --------
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets")
    >>> curve = rw.simulate_power(scenario, n_grid=[3000], reps=2, seed=1, executor="serial")
    >>> curve.table[["n", "reps"]]
          n  reps
    0  3000     2
    """
    if not 0 < alpha < 1:
        raise AnalysisError(f"alpha must be in (0, 1), got {alpha}")
    ns = [scenario.n] if n_grid is None else [int(v) for v in n_grid]
    if any(v < 1 for v in ns):
        raise AnalysisError(f"cohort sizes must be positive, got {ns}")
    hrs = [float("nan")] if hr_grid is None else [float(v) for v in hr_grid]
    grid = [(hr, n) for hr in hrs for n in ns]
    with replicate_pool(executor, workers) as pool:  # one pool for the whole grid
        tables = [
            run_replicates(
                scenario if np.isnan(hr) else with_constant_hr(scenario, hr),
                analysis,
                reps=reps,
                seed=seed,
                executor=pool,
                workers=workers,
                scheduler=scheduler,
                n=n,
                progress=progress,
                checkpoint=checkpoint,
            ).data
            for hr, n in grid
        ]
    rows = [_power_row(table, n, hr, alpha) for (hr, n), table in zip(grid, tables, strict=True)]
    return PowerCurve(pd.DataFrame(rows, columns=list(POWER_COLUMNS)), scenario.name, alpha, seed)


def _power_row(table: pd.DataFrame, n: int, hr: float, alpha: float) -> dict:
    """One grid point: rejections over all replicates (failed ones count as non-rejections)."""
    ok = table["p_value"].notna() & table["error"].isna()
    reps = len(table)
    p = float((table.loc[ok, "p_value"] < alpha).sum() / reps)
    log_est = table.loc[ok, "log_estimate"]
    return {
        "n": n,
        "hr": hr,
        "reps": reps,
        "failed": int(reps - ok.sum()),
        "power": p,
        "mcse": float(np.sqrt(p * (1 - p) / reps)),
        "mean_log_estimate": float(log_est.mean()),
        "geometric_mean_estimate": float(np.exp(log_est.mean())),
        "mean_se": float(table.loc[ok, "se"].mean()),
        "mean_events": float(table.loc[ok, "events"].astype("float64").mean()),
        "variance": "/".join(sorted(set(table.loc[ok, "variance"].dropna()))) or "none",
    }


@dataclass(frozen=True, eq=False)
class SampleSizeResult:
    """Cohort size reaching ``target`` power, from a probit fit of power on ``sqrt(n)``."""

    n_required: int
    target: float
    intercept: float
    slope_sqrt_n: float
    curve: PowerCurve

    def predicted_power(self, n: np.ndarray | Sequence[int]) -> np.ndarray:
        return stats.norm.cdf(self.intercept + self.slope_sqrt_n * np.sqrt(np.asarray(n, float)))

    def summary(self) -> str:
        return (
            f"n = {self.n_required:,} for {self.target:.0%} power (probit fit "
            f"Phi({self.intercept:.3f} + {self.slope_sqrt_n:.5f} sqrt(n)) over "
            f"{len(self.curve.table)} simulated sizes)\n" + self.curve.summary()
        )


@checked
def sample_size_for_power(
    scenario: Scenario,
    *,
    n_grid: Sequence[int],
    target: float = 0.8,
    reps: int,
    seed: int,
    alpha: float = 0.05,
    **kwargs,
) -> SampleSizeResult:
    """Cohort size giving ``target`` power: simulate ``n_grid`` (common random numbers), fit
    ``power(n) = Phi(a + b sqrt(n))`` by binomial probit regression, solve for the target.

    Examples
    --------
    >>> import reawaken as rw
    >>> strong = rw.EffectProfile.constant(2.5)
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_effect(strong)
    >>> sizing = rw.sample_size_for_power(scenario, n_grid=[2000, 4000, 8000], reps=10, seed=1,
    ...                                   executor="serial")
    >>> sizing.curve.table["n"].tolist()
    [2000, 4000, 8000]
    """
    if not 0 < target < 1:
        raise AnalysisError(f"target power must be in (0, 1), got {target}")
    if len(set(n_grid)) < 2:
        raise AnalysisError("n_grid needs at least two different cohort sizes to fit a curve")
    curve = simulate_power(scenario, n_grid=n_grid, reps=reps, seed=seed, alpha=alpha, **kwargs)
    t = curve.table
    hits = np.round(t["power"] * t["reps"]).to_numpy()
    endog = np.column_stack([hits, t["reps"].to_numpy() - hits])
    exog = sm.add_constant(np.sqrt(t["n"].to_numpy(float)))
    fit = sm.GLM(endog, exog, family=sm.families.Binomial(sm.families.links.Probit())).fit()
    a, b = (float(v) for v in fit.params)
    if b <= 0:
        raise AnalysisError(
            "simulated power does not increase with n over this grid; widen the grid or add "
            "replicates"
        )
    n_req = int(np.ceil(((stats.norm.ppf(target) - a) / b) ** 2))
    return SampleSizeResult(n_req, target, a, b, curve)
