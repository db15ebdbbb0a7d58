"""Certificate rows that say whether a study analysis' inference is honest (rendering only;
the numbers come from :func:`reawaken.inference.check_inference`)."""

from __future__ import annotations

import numpy as np

from ..findings import ReportedFinding
from ..inference import InferenceCheck

#: |bias| / MCSE below which an analysis' null truth counts as 0 (failure probability < 1e-4).
NULL_Z = 3.9


def _row(quantity: str, reported: str, reproduced: str, section: str = "inference") -> tuple:
    return (quantity, reported, reproduced, np.nan, None, section)


def _truth_rows(check: InferenceCheck) -> list[tuple]:
    est = check.measure
    if check.truth is None:
        return [_row("defined truth of the analysis", "", "not stored for this scenario")]
    t = check.truth
    rows = [
        _row(
            "defined truth: what the analysis converges to",
            "",
            f"{est} {t.truth:.3f} (MCSE of log {t.mcse:.3f}); causal effect: {t.causal_effect}",
        )
    ]
    if check.null_truth is not None:
        n = check.null_truth
        preserving = abs(n.log_truth) <= NULL_Z * n.mcse
        verdict = "null-preserving" if preserving else "NOT null-preserving"
        rows.append(
            _row(
                "its limit when the exposure does nothing",
                "",
                f"log {est} {n.log_truth:+.3f} (MCSE {n.mcse:.3f}): {verdict}",
            )
        )
    return rows


def _variance_rows(check: InferenceCheck) -> list[tuple]:
    rows = []
    for v in check.variances:
        rows += [
            _row(
                f"SE ratio, {v.label} / empirical SD",
                "",
                f"{v.se_ratio:.2f} (MCSE {v.se_ratio_mcse:.2f})",
            ),
            _row(
                f"coverage of the 95% CI ({v.label}) of the defined truth",
                "",
                f"{v.coverage:.3f} (MCSE {v.coverage_mcse:.3f})",
            ),
            _row(
                f"rejection rate under the null ({v.label})",
                "",
                f"{v.null_rejection:.1%} (MCSE {v.null_rejection_mcse:.1%})",
            ),
        ]
    return rows


def inference_rows(check: InferenceCheck, finding: ReportedFinding) -> list[tuple]:
    """Rows ``(quantity, reported, reproduced, relative_difference, pass, section)``: the
    defined truth, null bias, SE ratio / coverage / null rejection per variance (section
    ``inference``), power and type M (section ``design``; the reported figures say when they
    rest on an assumed CI)."""
    valid = check.variances[0]
    failed = f", {check.failed} failed" if check.failed else ""
    assumed = ", from the assumed CI" if finding.ci_assumed else ""
    power = _row(
        "power at the reported effect",
        f"{check.implied_power:.1%} (from the CI{', assumed' if finding.ci_assumed else ''}; "
        "assumes the reported SE is the true sampling SD)",
        f"{valid.power:.1%} (MCSE {valid.power_mcse:.1%}), {valid.label} test over "
        f"{check.reps} replicates{failed} (failed = not rejected)",
        "design",
    )
    type_m = _row(
        "type M exaggeration at the reported effect",
        f"{check.type_m_reported_se:.2f} (reported SE {finding.implied_se:.3f}{assumed})",
        f"{check.type_m_empirical_sd:.2f} (empirical SD {check.empirical_sd:.3f} of replicates)",
        "design",
    )
    return [*_truth_rows(check), *_variance_rows(check), power, type_m]
