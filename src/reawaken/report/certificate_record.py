"""The reproduction certificate as a record: reported vs reproduced for one finding, with the
tables and figures behind it, and the pass tolerances. Computed by
:func:`reawaken.certificate.build_certificate`; rendered by
:mod:`reawaken.report.document`."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from matplotlib.figure import Figure

from ..estimate import Estimate
from ..findings import ReportedFinding

ESTIMATE_TOLERANCE = 0.05
CI_WIDTH_TOLERANCE = 0.10
COLUMNS = ["quantity", "reported", "reproduced", "relative_difference", "pass", "section"]
#: What a cell says when its value could not be computed (never an empty cell).
NOT_ESTIMABLE = "not estimable"


@dataclass(frozen=True, eq=False)
class Certificate:
    """Reported vs reproduced for one finding, with the tables and figures behind it.

    ``one_cohort`` is the study analysis of the single simulated cohort whose curves are drawn
    (None with ``one_cohort_note`` saying why when it failed); ``forest`` the bars of
    :func:`reawaken.report.forest.forest_rows`."""

    finding: ReportedFinding
    rows: pd.DataFrame
    replicates: pd.DataFrame
    power_curve: pd.DataFrame
    stress: pd.DataFrame
    tipping_points: pd.DataFrame
    figures: dict[str, Figure] = field(default_factory=dict)
    provenance: str = ""
    forest: pd.DataFrame = field(default_factory=pd.DataFrame)
    one_cohort: Estimate | None = None
    one_cohort_note: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.rows["pass"].dropna().all())

    def summary(self) -> str:
        lines = [f"{self.finding.title}: {'PASS' if self.passed else 'FAIL'}"]
        for r in self.rows.to_dict("records"):
            ok = r["pass"]
            flag = "" if ok is None or pd.isna(ok) else (" ok" if ok else " OUT OF TOLERANCE")
            parts = [f"reported {r['reported']}"] if r["reported"] else []
            parts += [f"reproduced {r['reproduced']}"] if r["reproduced"] else []
            lines.append(f"  {r['quantity']}: {'; '.join(parts)}{flag}")
        return "\n".join(lines)
