"""ADEMP performance measures with Monte Carlo SEs (Morris, White & Crowther, "Using
simulation studies to evaluate statistical methods", Stat Med 2019;38:2074-2102, Table 6),
computed on the log scale from a replicate table of :func:`reawaken.evaluate.run_replicates`;
:func:`reps_for_mcse` inverts them (their section 5.3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .checks import checked
from .errors import AnalysisError, ReawakenError

#: Performance measures, in table order.
MEASURES: tuple[str, ...] = tuple(
    "mean_log_estimate bias relative_bias empirical_se model_se relative_error_model_se mse "
    "coverage bias_eliminated_coverage rejection_rate".split()
)


@dataclass(frozen=True, eq=False)
class Performance:
    """ADEMP performance measures with Monte Carlo SEs (Morris, White & Crowther 2019).

    Attributes
    ----------
    table : pandas.DataFrame
        Tidy: ``measure`` (one of :data:`MEASURES`), ``estimate``, ``mcse``.
    n_reps : int
        Replicates with an estimate (``n_sim`` in the formulas).
    n_failed : int
        Replicates without one (analysis error or non-finite estimate or SE), excluded.
    true_log_effect, level, alpha : float
        The truth ``theta``, the confidence level and the test size used.
    true_log_effect_mcse : float
        Monte Carlo SE of the truth (0 for a known one), added to the bias MCSE.
    se_column : str
        The replicate-table column the SEs (model SE, coverage, rejection) come from.
    """

    table: pd.DataFrame
    n_reps: int
    n_failed: int
    true_log_effect: float
    level: float
    alpha: float
    true_log_effect_mcse: float = 0.0
    se_column: str = "se"

    def estimate(self, measure: str) -> float:
        """The estimate of one of :data:`MEASURES`."""
        return float(self._row(measure)["estimate"])

    def mcse(self, measure: str) -> float:
        """The Monte Carlo SE of one of :data:`MEASURES`."""
        return float(self._row(measure)["mcse"])

    @property
    def se_ratio(self) -> tuple[float, float]:
        """``(RMS SE / empirical SE, MCSE)``: 1 when the SEs are right (from the relative %
        error in model SE, Morris et al. 2019 Table 6)."""
        error = "relative_error_model_se"
        return 1 + self.estimate(error) / 100, self.mcse(error) / 100

    def _row(self, measure: str) -> pd.Series:
        if measure not in MEASURES:
            raise ReawakenError(f"unknown measure {measure!r}; fix: use one of {MEASURES}")
        return self.table.set_index("measure").loc[measure]

    def summary(self) -> str:
        """A header line, then one line per measure: estimate (MCSE)."""
        lines = [
            f"{self.n_reps} replicates ({self.n_failed} failed, excluded); true log effect "
            f"{self.true_log_effect:.4f}, {100 * self.level:g}% CIs, alpha {self.alpha:g}",
        ]
        width = max(len(m) for m in MEASURES)
        for r in self.table.itertuples(index=False):
            lines.append(f"  {r.measure:<{width}}  {r.estimate: .4f}  (MCSE {r.mcse:.4f})")
        return "\n".join(lines)


@checked
def performance(
    data: Any,
    *,
    true_log_effect: float,
    level: float = 0.95,
    alpha: float = 0.05,
    true_log_effect_mcse: float = 0.0,
    se_column: str = "se",
) -> Performance:
    r"""ADEMP performance of the log-scale estimates, each with its Monte Carlo SE.

    With ``n`` usable replicates, estimates :math:`\hat\theta_i`, model SEs :math:`s_i`, truth
    :math:`\theta`, :math:`\bar\theta = \frac1n\sum\hat\theta_i`, :math:`z = \Phi^{-1}(\frac12 +
    \frac{level}2)`, Morris, White & Crowther (Stat Med 2019, Table 6):

    * mean: :math:`\bar\theta`, MCSE :math:`\mathrm{EmpSE}/\sqrt n` (``mean_log_estimate``);
    * bias :math:`\bar\theta - \theta`, MCSE :math:`\sqrt{\mathrm{EmpSE}^2/n + m_\theta^2}`
      with :math:`m_\theta` the truth's own MCSE (``true_log_effect_mcse``, 0 for a known
      truth; the two errors are independent); relative bias
      :math:`(\bar\theta - \theta)/\theta` and MCSE divided by :math:`|\theta|` (NaN if
      :math:`\theta = 0`);
    * empirical SE :math:`\sqrt{\frac1{n-1}\sum(\hat\theta_i-\bar\theta)^2}`, MCSE
      :math:`\mathrm{EmpSE}/\sqrt{2(n-1)}`;
    * model SE :math:`\sqrt{\frac1n\sum s_i^2}`, MCSE :math:`\sqrt{V/(4n\,\mathrm{ModSE}^2)}`,
      :math:`V = \frac1{n-1}\sum(s_i^2 - \overline{s^2})^2`;
    * relative % error in model SE :math:`100(\mathrm{ModSE}/\mathrm{EmpSE} - 1)`, MCSE
      :math:`100\frac{\mathrm{ModSE}}{\mathrm{EmpSE}}\sqrt{\frac{V}{4n\,\mathrm{ModSE}^4} +
      \frac1{2(n-1)}}`;
    * MSE :math:`\frac1n\sum(\hat\theta_i-\theta)^2`, MCSE
      :math:`\sqrt{\sum[(\hat\theta_i-\theta)^2 - \mathrm{MSE}]^2/(n(n-1))}`;
    * coverage :math:`\frac1n\sum 1\{|\hat\theta_i - \theta| \le z s_i\}` and bias-eliminated
      coverage (:math:`\bar\theta` in place of :math:`\theta`), MCSE :math:`\sqrt{p(1-p)/n}`;
    * rejection rate (power, or type I error when :math:`\theta = 0`)
      :math:`\frac1n\sum 1\{p_i < \alpha\}` with the two-sided Wald p-values ``p_value``
      (for ``se_column="se"``; for another column :math:`p_i = 2\Phi(-|\hat\theta_i|/s_i)`),
      MCSE :math:`\sqrt{p(1-p)/n}`.

    An uncertain truth (:math:`m_\theta > 0`) moves coverage only to second order (coverage
    is flat in the truth at zero bias), so coverage keeps its binomial MCSE.

    Parameters
    ----------
    data : ReplicateTable or pandas.DataFrame
        Needs ``log_estimate``, ``se`` and ``p_value``; rows with an ``error`` or a non-finite
        estimate or SE are excluded and counted in ``n_failed``.
    true_log_effect : float
        :math:`\theta`; NaN leaves the measures that need it NaN.
    true_log_effect_mcse : float, default 0
        Monte Carlo SE of :math:`\theta` when it is itself estimated (e.g. a defined truth of
        :mod:`reawaken.truth`).
    se_column : str, default "se"
        Column of the SEs :math:`s_i`: ``"se"`` (the analysis' reported SE) or another variance
        of the table, e.g. ``"se_model"`` or ``"se_robust"``; replicates where it is missing
        count as failed.
    level : float, default 0.95
        Confidence level of the Wald intervals used for coverage.
    alpha : float, default 0.05
        Test size for the rejection rate.

    Returns
    -------
    Performance

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from scipy import stats
    >>> import reawaken as rw
    >>> log_estimate = np.random.default_rng(1).normal(0.3, 0.1, 400)
    >>> p_value = 2 * stats.norm.sf(np.abs(log_estimate) / 0.1)
    >>> table = pd.DataFrame({"log_estimate": log_estimate, "se": 0.1, "p_value": p_value})
    >>> perf = rw.performance(table, true_log_effect=0.3)
    >>> round(perf.estimate("coverage"), 2)
    0.96
    """
    df = data if isinstance(data, pd.DataFrame) else data.data
    _check_options(df, se_column, level, alpha)
    est = df["log_estimate"].to_numpy(dtype=float)
    if not (true_log_effect_mcse >= 0):
        raise ReawakenError(f"true_log_effect_mcse must be >= 0, got {true_log_effect_mcse}")
    x, s, p = _usable_replicates(df, est, se_column)
    theta = float(true_log_effect)
    rows = _measure_rows(x, s, p, theta, true_log_effect_mcse, level, alpha)
    table = pd.DataFrame(rows, columns=["measure", "estimate", "mcse"])
    table[["estimate", "mcse"]] = table[["estimate", "mcse"]].astype("float64")
    return Performance(
        table,
        x.size,
        len(df) - x.size,
        theta,
        float(level),
        float(alpha),
        float(true_log_effect_mcse),
        se_column,
    )


def _check_options(df: pd.DataFrame, se_column: str, level: float, alpha: float) -> None:
    """Reject a replicate table without the needed columns, and a level or alpha outside (0, 1)."""
    missing = [c for c in ("log_estimate", se_column, "p_value") if c not in df.columns]
    if missing:
        raise AnalysisError(f"replicate table lacks column(s) {missing}; fix: use run_replicates")
    if not (0 < level < 1 and 0 < alpha < 1):
        raise ReawakenError(f"level and alpha must lie in (0, 1), got {level} and {alpha}")


def _usable_replicates(
    df: pd.DataFrame, est: np.ndarray, se_column: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimates, SEs and p-values of the replicates with a finite estimate and SE, no error."""
    se = df[se_column].to_numpy(dtype=float)
    ok = np.isfinite(est) & np.isfinite(se)
    if "error" in df.columns:
        ok &= df["error"].isna().to_numpy()
    n = int(ok.sum())
    if n < 2:
        raise AnalysisError(
            f"performance needs at least 2 replicates with an estimate, got {n} of {len(df)}; "
            "fix: run more replicates or a larger cohort"
        )
    x, s = est[ok], se[ok]
    if se_column == "se":
        p = df["p_value"].to_numpy(dtype=float)[ok]
    else:
        p = 2 * stats.norm.sf(np.abs(x) / s)
    return x, s, p


def _measure_rows(
    x: np.ndarray,
    s: np.ndarray,
    p: np.ndarray,
    theta: float,
    theta_mcse: float,
    level: float,
    alpha: float,
) -> list[tuple[str, float, float]]:
    """``(measure, estimate, MCSE)`` of :data:`MEASURES` (Morris et al. 2019 Table 6)."""
    n = x.size
    z = float(stats.norm.ppf(0.5 + level / 2))
    mean = x.mean()
    emp = x.std(ddof=1)
    mc_mean = emp / np.sqrt(n)
    mc_bias = float(np.hypot(mc_mean, theta_mcse))
    var_i = s**2
    mod = np.sqrt(var_i.mean())
    v = var_i.var(ddof=1)
    sq = (x - theta) ** 2
    mse = sq.mean()
    return [
        ("mean_log_estimate", mean, mc_mean),
        ("bias", mean - theta, mc_bias),
        (
            "relative_bias",
            (mean - theta) / theta if theta != 0 else np.nan,
            mc_bias / abs(theta) if theta != 0 else np.nan,
        ),
        ("empirical_se", emp, emp / np.sqrt(2 * (n - 1))),
        ("model_se", mod, np.sqrt(v / (4 * n * mod**2))),
        (
            "relative_error_model_se",
            100 * (mod / emp - 1),
            100 * (mod / emp) * np.sqrt(v / (4 * n * mod**4) + 1 / (2 * (n - 1))),
        ),
        ("mse", mse, np.sqrt(((sq - mse) ** 2).sum() / (n * (n - 1)))),
        _proportion("coverage", np.abs(x - theta) <= z * s, known=np.isfinite(theta)),
        _proportion("bias_eliminated_coverage", np.abs(x - mean) <= z * s),
        _proportion("rejection_rate", p < alpha),
    ]


def _proportion(name: str, hits: np.ndarray, known: bool = True) -> tuple[str, float, float]:
    """A proportion and its binomial MCSE ``sqrt(p (1 - p) / n)``."""
    if not known:
        return name, np.nan, np.nan
    p = float(hits.mean())
    return name, p, float(np.sqrt(p * (1 - p) / hits.size))


@checked
def reps_for_mcse(
    *,
    target_mcse: float,
    measure: str,
    empirical_se: float | None = None,
    coverage: float | None = None,
    power: float | None = None,
) -> int:
    r"""Replicates needed for a target Monte Carlo SE (Morris et al. 2019, section 5.3).

    * ``"bias"`` (or ``"mean_log_estimate"``): :math:`n = (\mathrm{EmpSE}/\mathrm{MCSE})^2`,
      needs ``empirical_se``;
    * ``"empirical_se"``: :math:`n = 1 + \mathrm{EmpSE}^2 / (2\,\mathrm{MCSE}^2)`;
    * ``"coverage"`` / ``"bias_eliminated_coverage"``: :math:`n = p(1-p)/\mathrm{MCSE}^2`
      with ``p = coverage``; ``"rejection_rate"`` / ``"power"``: the same with ``p = power``.
      An unknown proportion takes the worst case ``p = 0.5``.

    E.g. coverage 0.95 within MCSE 0.005 needs 1900 replicates; worst case 0.5 within 0.01
    needs 2500.

    Returns
    -------
    int
        The smallest whole number of replicates reaching ``target_mcse``.

    Examples
    --------
    >>> import reawaken as rw
    >>> rw.reps_for_mcse(target_mcse=0.005, measure="coverage", coverage=0.95)
    1900
    """
    if not target_mcse > 0:
        raise ReawakenError(f"target_mcse must be > 0, got {target_mcse}")
    if measure in ("bias", "mean_log_estimate", "empirical_se"):
        if empirical_se is None or not empirical_se > 0:
            raise ReawakenError(
                f"measure {measure!r} needs empirical_se > 0 (from a pilot run), got {empirical_se}"
            )
        ratio = (empirical_se / target_mcse) ** 2
        need = ratio if measure != "empirical_se" else 1 + ratio / 2
    elif measure in ("coverage", "bias_eliminated_coverage", "rejection_rate", "power"):
        p = coverage if measure.endswith("coverage") else power
        p = 0.5 if p is None else float(p)
        if not 0 <= p <= 1:
            raise ReawakenError(f"a proportion must lie in [0, 1], got {p}")
        need = p * (1 - p) / target_mcse**2
    else:
        raise ReawakenError(
            f"unknown measure {measure!r}; fix: use bias, empirical_se, coverage, "
            "bias_eliminated_coverage, rejection_rate or power"
        )
    return max(1, math.ceil(round(need, 9)))
