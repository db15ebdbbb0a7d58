"""The certificate as a reader sees it: one table per question, every cell filled.

The certificate's rows (:mod:`reawaken.certificate`) are split by their ``section``:
the pass criteria (reported, reproduced, difference, verdict), whether the inference is honest
(measured on the replicates only: the papers report none of it), the design analysis (power,
type M, E-value from the reported CI and from the replicates) and the tipping points of the
stress battery. A cell that has no value says why instead of staying empty.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .certificate_record import CI_WIDTH_TOLERANCE, ESTIMATE_TOLERANCE, Certificate
from .labels import MEASURE_NAMES, mechanism_label, short_title


def _section(cert: Certificate, name: str) -> pd.DataFrame:
    return cert.rows[cert.rows["section"] == name]


def _tolerance(quantity: str) -> float | None:
    if quantity.startswith("estimate"):
        return ESTIMATE_TOLERANCE
    if quantity.startswith("CI width"):
        return CI_WIDTH_TOLERANCE
    return None


def reproduction_table(cert: Certificate) -> pd.DataFrame:
    """Quantity, reported, reproduced, difference from reported and the verdict per criterion."""
    out = []
    for r in _section(cert, "reproduction").to_dict("records"):
        tol = _tolerance(r["quantity"])
        diff = r["relative_difference"]
        if tol is None or r["pass"] is None or pd.isna(r["pass"]):
            shown, verdict = "not a criterion (the CI width is)", "not a criterion"
        else:
            shown = f"{diff:+.1%}" if math.isfinite(diff) else "not estimable"
            verdict = f"yes (within ±{tol:.0%})" if r["pass"] else f"NO (outside ±{tol:.0%})"
        out.append((r["quantity"], r["reported"], r["reproduced"], shown, verdict))
    columns = ["quantity", "reported", "reproduced", "difference from reported", "passes"]
    return pd.DataFrame(out, columns=columns)


def inference_table(cert: Certificate) -> pd.DataFrame:
    """Defined truth, null limit, SE ratio, coverage and null rejection per SE."""
    part = _section(cert, "inference")
    return pd.DataFrame(
        {"quantity": part["quantity"], "measured on the replicates (Monte Carlo SE)":
         part["reproduced"]}
    ).reset_index(drop=True)


def design_table(cert: Certificate) -> pd.DataFrame:
    """Power, type M exaggeration and E-values, from the reported CI and from the replicates."""
    part = _section(cert, "design")
    return pd.DataFrame(
        {
            "quantity": part["quantity"],
            "from the reported estimate and CI": part["reported"],
            "from the replicates": part["reproduced"],
        }
    ).reset_index(drop=True)


#: The battery cuts a failed replicate's message to this many characters.
NOTE_CUT = 120


def _note(note: str) -> str:
    """The battery's note with a message it cut short ending at a word and an ellipsis."""
    head, sep, message = str(note).partition("separated: ")
    if sep and len(message) >= NOTE_CUT:
        message = message[: message.rfind(" ")].rstrip(" (:;,") + "…"
    return head + sep + message


def _tipping_cell(t) -> str:
    if t.status == "reached":
        return f"{t.tipping_point:.3g}"
    if not np.isfinite(t.max_strength):
        return f"undetermined: the weakest strength already failed ({_note(t.note)})"
    if t.status == "not reached":
        return f"not reached up to {t.max_strength:g}"
    return f"not reached up to {t.max_strength:g}; undetermined beyond ({_note(t.note)})"


def tipping_table(cert: Certificate) -> pd.DataFrame:
    """Bias, what its strength means, and the strength that alone produces the finding."""
    rows = [
        (mechanism_label(t.mechanism), t.meaning, _tipping_cell(t))
        for t in cert.tipping_points.itertuples()
    ]
    columns = ["bias", "strength means", "strength that alone produces the reported estimate"]
    return pd.DataFrame(rows, columns=columns)


def overview_table(certificates: list[Certificate]) -> pd.DataFrame:
    """One row per finding: measure, reported, reproduced median and the verdict."""
    rows = []
    for cert in certificates:
        f = cert.finding
        reproduced = cert.rows.iloc[0]["reproduced"].split(" (")[0]
        rows.append(
            (short_title(f), f"{MEASURE_NAMES.get(f.measure, f.measure)} ({f.measure})",
             f"{f.estimate:g} (95% CI {f.ci_label})", reproduced,
             "PASS" if cert.passed else "FAIL")
        )
    columns = ["finding", "measure", "reported", "reproduced (median of replicates)", "verdict"]
    return pd.DataFrame(rows, columns=columns)
