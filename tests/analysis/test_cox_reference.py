"""fit_cox against R survival's coxph with tied times, clusters and (start, stop] splits.

Expected values were produced by ``tests/reference/rossi_robust_efron.R`` (R 4.2, survival
3.5-3) and saved in ``rossi_robust_efron.Rout``; R is not needed to run this test.
Tolerance: 1e-6 relative on coefficients, 1e-5 on robust SEs (values printed to 10 digits).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from reawaken.analysis.cox import fit_cox

REF = Path(__file__).resolve().parents[1] / "reference"


def _r_values() -> dict[str, np.ndarray]:
    out = {}
    for line in (REF / "rossi_robust_efron.Rout").read_text().splitlines():
        model, kind, *values = line.split()
        out[f"{model} {kind}"] = np.array([float(v) for v in values])
    return out


def test_efron_robust_with_ties_matches_r():
    d = pd.read_csv(REF / "rossi_clustered.csv")
    r = _r_values()
    fit = fit_cox(
        d, duration="week", event="arrest", covariates=["fin", "age", "prio"], cluster="grp"
    )
    np.testing.assert_allclose(fit.table["coef"], r["efron coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.table["robust_se"], r["efron robust_se"], rtol=1e-5)
    np.testing.assert_allclose(fit.table["se"], r["efron model_se"], rtol=1e-5)


def test_counting_process_split_with_entry_ties_matches_r():
    """survSplit at week 20: rows entering at 20 are not at risk for events at 20."""
    d = pd.read_csv(REF / "rossi_clustered.csv")
    first = d.assign(
        tstart=0.0,
        stop=np.minimum(d["week"], 20.0),
        event=np.where(d["week"] <= 20, d["arrest"], 0),
        ep=1,
    )
    later = d[d["week"] > 20].assign(
        tstart=20.0, stop=lambda x: x["week"].astype(float), event=lambda x: x["arrest"], ep=2
    )
    split = pd.concat([first, later], ignore_index=True)
    split["prio_late"] = (split["ep"] == 2) * split["prio"]
    r = _r_values()
    fit = fit_cox(
        split,
        start="tstart",
        stop="stop",
        event="event",
        covariates=["fin", "age", "prio", "prio_late"],
        cluster="grp",
    )
    np.testing.assert_allclose(fit.table["coef"], r["split coef"], rtol=1e-6)
    np.testing.assert_allclose(fit.table["robust_se"], r["split robust_se"], rtol=1e-5)
