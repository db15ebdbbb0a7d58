"""Result objects shared by the estimators: a tidy coefficient table plus fit facts.

Every regression estimator returns a :class:`ModelResult`; its ``table`` has the snake_case
columns ``term, coef, se, ratio, ci_low, ci_high, p_value`` (plus ``robust_se`` when a robust
variance was requested, in which case the CI and p-value use it). Analyses of matched sets add
``shared_members_se`` (:mod:`reawaken.analysis.matched_variance`) beside the model ``se`` and the
person-clustered ``robust_se``, and name the one used for CI and p-value in ``se_used``.
``ratio`` is ``exp(coef)``, in the model's :attr:`ModelResult.measure`: ``"HR"`` (hazard ratio,
Cox models), ``"OR"`` (odds ratio, conditional logistic regression) or ``"SHR"``
(subdistribution hazard ratio, Fine–Gray); one column name, so tables of any model stack.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AnalysisError

TABLE_COLUMNS = ("term", "coef", "se", "ratio", "ci_low", "ci_high", "p_value")
#: Variance name (as in :attr:`reawaken.estimate.Estimate.variance`) -> SE column of a table.
SE_COLUMNS: dict[str, str] = {
    "model": "se",
    "robust": "robust_se",
    "shared-members": "shared_members_se",
}


def coefficient_table(
    terms: Sequence[str],
    coef: np.ndarray,
    se: np.ndarray,
    *,
    robust_se: np.ndarray | None = None,
    level: float = 0.95,
    shared_members_se: np.ndarray | None = None,
    use: str | None = None,
) -> pd.DataFrame:
    """Tidy table with Wald CIs ``exp(coef -/+ z se)`` and two-sided p-values.

    ``robust_se`` and ``shared_members_se``, when given, are reported in their own columns.
    ``use`` names the variance behind CI and p-value (a key of :data:`SE_COLUMNS`); by default
    the shared-members SE when given, else the robust SE when given, else the model SE.
    """
    coef = np.asarray(coef, dtype=float)
    columns = {"se": np.asarray(se, dtype=float)}
    if robust_se is not None:
        columns["robust_se"] = np.asarray(robust_se, dtype=float)
    if shared_members_se is not None:
        columns["shared_members_se"] = np.asarray(shared_members_se, dtype=float)
    if use is None:
        use = "shared-members" if shared_members_se is not None else "robust"
        use = use if SE_COLUMNS[use] in columns else "model"
    if use not in SE_COLUMNS or SE_COLUMNS[use] not in columns:
        raise AnalysisError(
            f"coefficient_table: use={use!r} names no SE given here ({', '.join(columns)}); "
            f"fix: use one of {', '.join(k for k, v in SE_COLUMNS.items() if v in columns)}"
        )
    chosen = columns[SE_COLUMNS[use]]
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(coef / chosen))
    table = pd.DataFrame({"term": list(terms), "coef": coef, **columns})
    with np.errstate(over="ignore"):  # near-separated data: an infinite limit is the answer
        table["ratio"] = np.exp(coef)
        table["ci_low"] = np.exp(coef - z * chosen)
        table["ci_high"] = np.exp(coef + z * chosen)
    table["p_value"] = p
    return table


@dataclass(frozen=True)
class ModelResult:
    """A fitted model: coefficient ``table``, method label, sizes and log-likelihood.

    ``variance`` is the covariance matrix actually used for inference (robust when requested);
    ``se_used`` names its table column when the table holds several SEs (``None``: the robust
    SE when present, else the model SE). ``measure`` says what the ``ratio`` column is: ``"HR"``,
    ``"OR"`` or ``"SHR"``.
    """

    table: pd.DataFrame
    method: str
    n: int
    events: int
    loglik: float = float("nan")
    variance: np.ndarray | None = field(default=None, repr=False)
    extra: dict = field(default_factory=dict, repr=False)
    se_used: str | None = None
    measure: str = "HR"

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

    @property
    def variance_name(self) -> str:
        """Which variance the inference uses: ``"model"``, ``"robust"`` or ``"shared-members"``."""
        column = self.se_used or ("robust_se" if self.robust else "se")
        return {v: k for k, v in SE_COLUMNS.items()}[column]

    def se(self, term: str) -> float:
        """The SE used for inference (``se_used``; else robust when the model is robust)."""
        return float(self.row(term)[SE_COLUMNS[self.variance_name]])

    def summary(self) -> str:
        lines = [f"{self.method}: n={self.n:,}, events={self.events:,}"]
        for r in self.table.itertuples():
            lines.append(
                f"  {r.term:<20} {self.measure:<3} {r.ratio:8.3f}  "
                f"95% CI {r.ci_low:.3f}-{r.ci_high:.3f}  p={r.p_value:.3g}"
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
