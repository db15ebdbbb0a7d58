"""Result objects shared by the estimators: a tidy coefficient table plus fit facts.

Every regression estimator returns a :class:`ModelResult`; its ``table`` has the snake_case
columns ``term, coef, se, hr, ci_low, ci_high, p_value`` (plus ``robust_se`` when a robust
variance was requested, in which case the CI and p-value use it). ``hr`` is ``exp(coef)``: a
hazard ratio for Cox models, an odds ratio for logistic ones (the column name is kept the same
so tables stack).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

TABLE_COLUMNS = ("term", "coef", "se", "hr", "ci_low", "ci_high", "p_value")


def coefficient_table(
    terms: Sequence[str],
    coef: np.ndarray,
    se: np.ndarray,
    *,
    robust_se: np.ndarray | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Tidy table with Wald CIs ``exp(coef -/+ z se)`` and two-sided p-values.

    When ``robust_se`` is given it is reported in its own column and used for CI and p-value.
    """
    coef = np.asarray(coef, dtype=float)
    se = np.asarray(se, dtype=float)
    use = se if robust_se is None else np.asarray(robust_se, dtype=float)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(coef / use))
    table = pd.DataFrame({"term": list(terms), "coef": coef, "se": se})
    if robust_se is not None:
        table["robust_se"] = use
    with np.errstate(over="ignore"):  # near-separated data: an infinite limit is the answer
        table["hr"] = np.exp(coef)
        table["ci_low"] = np.exp(coef - z * use)
        table["ci_high"] = np.exp(coef + z * use)
    table["p_value"] = p
    return table


@dataclass(frozen=True)
class ModelResult:
    """A fitted model: coefficient ``table``, method label, sizes and log-likelihood.

    ``variance`` is the covariance matrix actually used for inference (robust when requested).
    """

    table: pd.DataFrame
    method: str
    n: int
    events: int
    loglik: float = float("nan")
    variance: np.ndarray | None = field(default=None, repr=False)
    extra: dict = field(default_factory=dict, repr=False)

    @property
    def params(self) -> pd.Series:
        return self.table.set_index("term")["coef"]

    @property
    def robust(self) -> bool:
        return "robust_se" in self.table.columns

    def row(self, term: str) -> pd.Series:
        t = self.table.set_index("term")
        if term not in t.index:
            raise KeyError(f"no term {term!r} in this model; terms: {', '.join(t.index)}")
        return t.loc[term]

    def coef(self, term: str) -> float:
        return float(self.row(term)["coef"])

    def se(self, term: str) -> float:
        """The SE used for inference (robust when the model is robust)."""
        r = self.row(term)
        return float(r["robust_se"] if self.robust else r["se"])

    def summary(self) -> str:
        lines = [f"{self.method}: n={self.n:,}, events={self.events:,}"]
        for r in self.table.itertuples():
            lines.append(
                f"  {r.term:<20} exp(coef) {r.hr:8.3f}  95% CI {r.ci_low:.3f}-{r.ci_high:.3f}  "
                f"p={r.p_value:.3g}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class ChiSquareResult:
    """A chi-square test: ``statistic`` on ``df`` degrees of freedom, ``p_value``, ``method``
    and a per-group ``table``; subclasses say how a table row reads in :meth:`summary`."""

    statistic: float
    df: int
    p_value: float
    method: str
    table: pd.DataFrame

    def _row_text(self, row) -> str:
        return str(row)

    def summary(self) -> str:
        head = f"{self.method}: chi2 = {self.statistic:.4g} on {self.df} df, p = {self.p_value:.3g}"
        return "\n".join([head, *(f"  {self._row_text(r)}" for r in self.table.itertuples())])
