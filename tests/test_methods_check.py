"""The methods check: ADEMP table of every study analysis against its defined truth.

The reduced run (small cohorts with the outcome hazard scaled up, a few hundred replicates)
is in the default suite; the full run (>= 1,000 replicates per cell at the preset sizes) is
slow. Both require every non-exempt analysis to be valid with bounds of 3.9 MCSE around the
nominal coverage and null rejection: a correct method fails one check with probability < 1e-4.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reawaken.cli import main
from reawaken.methods_check import (
    COLUMNS,
    EXEMPT,
    MethodsCheck,
    methods_check,
    variance_columns,
    verdict,
)
from reawaken.performance import performance
from reawaken.scenario import list_presets, load_scenario
from reawaken.truth import applicable_analyses

#: Half-width of the test bounds in MCSEs: 2 * Phi(-3.9) = 9.6e-5 < 1e-4.
Z_TEST = 3.9
REDUCED_REPS = 300
SEED = 20250730


def _assert_valid(result: MethodsCheck) -> None:
    """Every non-exempt analysis' own SE (`se`) row is valid; exempt rows are labelled."""
    expected_cells = sum(2 * len(applicable_analyses(load_scenario(p))) for p in list_presets())
    own = result.primary
    assert len(own) == expected_cells
    assert (own["failed"] <= 0.01 * own["reps"]).all(), own[["analysis", "failed"]]
    exempt = own["analysis"].isin(list(EXEMPT))
    assert own.loc[exempt, "valid"].str.startswith("exempt").all()
    bad = own[~exempt & (own["valid"] != "yes")]
    assert bad.empty, result.summary()
    assert result.passed


@pytest.fixture(scope="module")
def reduced():
    return methods_check(
        reps=REDUCED_REPS, seed=SEED, reduced=True, workers=2, executor="processes", z=Z_TEST
    )


def test_reduced_methods_check(reduced):
    _assert_valid(reduced)


def test_reduced_table_shape(reduced):
    t = reduced.table
    assert list(t.columns) == list(COLUMNS)
    assert set(t["version"]) == {"reduced", "reduced-null"}
    assert set(t["effect"]) == {"preset", "null"}
    md = reduced.to_markdown()
    assert md.count("\n| ") == len(t) + 1  # header + one line per row
    assert "exempt: matched_or" in md and "causal effect" in md
    # the published-style OR shows its failure: under the null its truth is not 0
    or_null = t[(t["analysis"] == "matched_or") & (t["effect"] == "null")].iloc[0]
    assert or_null["log_truth"] > 3.9 * or_null["truth_mcse"]


@pytest.mark.slow
def test_full_methods_check(tmp_path):
    """>= 1,000 replicates per cell at the preset sizes (measured 22 min on 2 busy cores)."""
    result = methods_check(reps=1000, seed=SEED, workers=2, z=Z_TEST)
    (tmp_path / "methods_check.md").write_text(result.to_markdown())
    _assert_valid(result)


# ------------------------------------------------------------------------------ rules by hand


def test_verdict_bounds():
    """0.95 +/- 2.5 sqrt(0.95 x 0.05 / 1000) = 0.95 +/- 0.01723; the same for 0.05."""
    half = 2.5 * math.sqrt(0.95 * 0.05 / 1000)
    assert verdict(0.95 - 0.99 * half, 0.5, 1000, False, 2.5) == ("yes", "")
    valid, problems = verdict(0.95 - 1.01 * half, 0.5, 1000, False, 2.5)
    assert valid == "no" and "coverage 0.933 outside 0.95 ± 0.017" in problems
    assert verdict(0.95, 0.05 + 0.99 * half, 1000, True, 2.5)[0] == "yes"
    valid, problems = verdict(0.95, 0.05 + 1.01 * half, 1000, True, 2.5)
    assert valid == "no" and problems.startswith("null rejection")
    assert verdict(float("nan"), 0.05, 1000, True, 2.5)[0] == "no"


def test_variance_columns():
    df = pd.DataFrame(
        {
            "error": [None, None, None],
            "variance": ["robust"] * 3,
            "se": [0.2, 0.3, 0.25],
            "se_model": [0.18, 0.27, 0.2],
            "se_robust": [0.2, 0.3, 0.25],  # same as se: not repeated
        }
    )
    assert variance_columns(df) == [("se", "se (robust)"), ("se_model", "se_model")]
    df["se_model"] = np.nan
    assert variance_columns(df) == [("se", "se (robust)")]


def test_performance_with_another_se_and_an_estimated_truth():
    """se_column: model SE, coverage and the Wald p-values 2 Phi(-|x|/s) from that column;
    true_log_effect_mcse adds in quadrature to the bias MCSE only."""
    x = np.array([0.1, 0.5, 0.3, 0.45, 0.2])
    s2 = np.array([0.1, 0.1, 0.2, 0.1, 0.05])
    df = pd.DataFrame({"log_estimate": x, "se": 1.0, "p_value": 0.5, "se_model": s2})
    perf = performance(df, true_log_effect=0.3, true_log_effect_mcse=0.02, se_column="se_model")
    emp = x.std(ddof=1)
    assert perf.mcse("bias") == pytest.approx(math.hypot(emp / math.sqrt(5), 0.02), rel=1e-12)
    assert perf.mcse("mean_log_estimate") == pytest.approx(emp / math.sqrt(5), rel=1e-12)
    assert perf.estimate("model_se") == pytest.approx(math.sqrt(np.mean(s2**2)), rel=1e-12)
    # |x - 0.3| <= 1.96 s: 0.2 <= 0.196 no; 0.2 <= 0.196 no; yes; 0.15 <= 0.196 yes; 0.1 > 0.098
    assert perf.estimate("coverage") == pytest.approx(2 / 5)
    p = 2 * stats.norm.sf(np.abs(x) / s2)  # 0.317, 5.7e-7, 0.134, 6.8e-6, 6.3e-5
    assert perf.estimate("rejection_rate") == pytest.approx(np.mean(p < 0.05)) == 3 / 5
    assert perf.se_column == "se_model" and perf.true_log_effect_mcse == 0.02


# ------------------------------------------------------------------------------------- CLI


def test_methods_check_cli(tmp_path, capsys):
    md = tmp_path / "check.md"
    args = ["methods-check", "--scenario", "ukb_cancer_mortality", "--reduced", "--reps", "3"]
    args += ["--executor", "serial", "--no-progress", "--json", "--markdown", str(md)]
    status = main(args)
    payload = json.loads(capsys.readouterr().out)
    assert status == (0 if payload["passed"] else 1)
    assert {r["analysis"] for r in payload["rows"]} == set(
        applicable_analyses(load_scenario("ukb_cancer_mortality"))
    )
    assert md.read_text().count("| ukb_cancer_mortality |") == len(payload["rows"])
    assert main(["methods-check", "--scenario", "nope", "--reps", "3"]) == 2
    assert "fix" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["methods-check", "--help"])
