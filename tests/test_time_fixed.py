"""reawaken analyze --design time_fixed_cox on lifelines' Rossi data: the published Cox model,
KM and log-rank against lifelines, and the validation of a time-fixed table.

Published values: Fox & Weisberg, "Cox proportional-hazards regression for survival data in
R" (appendix to An R Companion to Applied Regression), the model fin + age + race + wexp + mar
+ paro + prio fitted by R's coxph with its default Efron ties: fin -0.37942, age -0.05744,
prio 0.09150 (to 5 decimals). Breslow ties give -0.37902, -0.05725, 0.09111, so the published
table is Efron's. Full-precision values of both: tests/reference/rossi_formula.Rout (R 4.2,
survival 3.5-3); tolerance 1e-6 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_rossi
from lifelines.statistics import logrank_test

from reawaken.analyze import run_analysis
from reawaken.cli import main
from reawaken.errors import AnalysisError

REF = Path(__file__).resolve().parent / "reference"
FORMULA = "fin + age + race + wexp + mar + paro + prio"
PUBLISHED = {"fin": -0.37942, "age": -0.05744, "prio": 0.09150}


def _r(model: str) -> np.ndarray:
    for line in (REF / "rossi_formula.Rout").read_text().splitlines():
        name, kind, *values = line.split()
        if (name, kind) == (model, "coef"):
            return np.array([float(v) for v in values])
    raise AssertionError(model)


@pytest.fixture(scope="module")
def rossi_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rossi") / "rossi.csv"
    load_rossi().to_csv(path, index=False)
    return path


def _cli(rossi_csv, out, *extra) -> dict:
    args = ["analyze", str(rossi_csv), "--design", "time_fixed_cox", "--duration", "week"]
    args += ["--event", "arrest", "--exposure", "fin", "--out", str(out), "--json", *extra]
    assert main(args) == 0
    return args


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_rossi_through_the_cli_prints_the_published_model(rossi_csv, tmp_path, capsys, ties):
    _cli(rossi_csv, tmp_path / "out", "--formula", FORMULA, "--ties", ties, "--times", "26,52")
    payload = json.loads(capsys.readouterr().out)
    est = pd.DataFrame(payload["estimates"])
    assert est["term"].tolist() == FORMULA.split(" + ")
    np.testing.assert_allclose(est["coef"], _r(f"published_{ties}"), rtol=1e-6)
    assert (est["measure"] == "HR").all()
    assert (est[["persons", "events", "rows", "event_rows"]] == [432, 114, 432, 114]).all().all()
    if ties == "efron":
        published = est.set_index("term").loc[list(PUBLISHED), "coef"].round(5)
        assert published.to_dict() == PUBLISHED
    files = {Path(f).name for f in payload["files"]}
    assert {"km.png", "km.svg", "survival.csv", "estimates.json", "summary.txt"} <= files


def test_rossi_text_output_has_every_term_and_the_curves(rossi_csv, tmp_path, capsys):
    args = _cli(rossi_csv, tmp_path / "out", "--formula", FORMULA, "--times", "26,52")
    text_args = [a for a in args if a != "--json"]
    capsys.readouterr()
    assert main(text_args) == 2  # the folder exists: refused without --overwrite
    capsys.readouterr()
    assert main([*text_args, "--overwrite"]) == 0
    text = capsys.readouterr().out
    assert "persons 432, events 114" in text and "rows" not in text.split("\n")[1]
    for term in FORMULA.split(" + "):
        assert f"\n  {term} " in text
    assert "fin=0" in text and "t=52" in text and "log-rank, cause 1 by fin" in text


def test_km_and_logrank_match_lifelines():
    rossi = load_rossi()
    out = run_analysis(
        rossi,
        design="time_fixed_cox",
        rng=np.random.default_rng(0),
        duration="week",
        event="arrest",
        exposure="fin",
        covariates=["age", "prio"],
        times=[10, 26, 52],
    )
    surv = out.survival.set_index(["group", "time"])
    for level in (0, 1):
        rows = rossi[rossi["fin"] == level]
        kmf = KaplanMeierFitter().fit(rows["week"], rows["arrest"])
        ref = kmf.survival_function_at_times([10, 26, 52]).to_numpy()
        np.testing.assert_allclose(surv.loc[f"fin={level}", "survival"], ref, rtol=1e-12)
    lr = logrank_test(
        rossi.loc[rossi.fin == 0, "week"],
        rossi.loc[rossi.fin == 1, "week"],
        rossi.loc[rossi.fin == 0, "arrest"],
        rossi.loc[rossi.fin == 1, "arrest"],
    )
    assert out.tests.iloc[0]["statistic"] == pytest.approx(lr.test_statistic, rel=1e-9)
    assert out.estimates["term"].tolist() == ["fin", "age", "prio"]
    km = out.figures["km"]
    assert any(ax.get_label() == "at_risk" for ax in km.axes)
    censor_marks = [ln for ln in km.axes[0].lines if ln.get_marker() == "|"]
    assert len(censor_marks) == 2


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (None, {"duration": None}, "needs the follow-up time column"),
        (None, {"exposure": "treated"}, "unknown column.*'treated'"),
        (None, {"formula": "age + prio"}, "does not use the exposure 'fin'"),
        ({"week": -1.0}, {}, "negative time"),
        ({"arrest": 0.5}, {}, "integer codes"),
        ({"fin": np.nan}, {}, "exposure column 'fin' has 1 missing"),
        (None, {"exposure": "age"}, "exposure column 'age' has .* level"),
        (None, {"covariates": ["age"], "formula": "fin + age"}, "not both"),
    ],
)
def test_bad_time_fixed_tables_raise_with_a_fix(change, kwargs, message):
    rossi = load_rossi()
    if change:
        col, value = next(iter(change.items()))
        rossi[col] = rossi[col].astype(float)
        rossi.loc[3, col] = value
    opts = {"duration": "week", "event": "arrest", "exposure": "fin", **kwargs}
    with pytest.raises(AnalysisError, match=message) as info:
        run_analysis(rossi, design="time_fixed_cox", rng=np.random.default_rng(0), **opts)
    assert "\n" not in str(info.value)
