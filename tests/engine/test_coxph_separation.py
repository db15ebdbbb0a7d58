"""Monotone likelihood in the Cox engine, against R's coxph (tests/reference/cox_infinite.R).

R flags a fit whose coefficient runs off to infinity ("Loglik converged before variable ...;
coefficient may be infinite" or "Ran out of iterations"); the engine must raise an
AnalysisError (ConvergenceError) naming the same variables, and fit the finite neighbour to R's
coefficients (1e-6 relative) and SEs (1e-6 relative).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reawaken.analysis.cox import fit_cox
from reawaken.engine.coxph import ConvergenceError, fit_coxph
from reawaken.errors import AnalysisError

REF = Path(__file__).parents[1] / "reference"


def _r_values() -> dict[tuple[str, str], list[str]]:
    out = {}
    for line in (REF / "cox_infinite.Rout").read_text().splitlines():
        label, kind, *values = line.split()
        out[(label, kind)] = values
    return out


def _infcox():
    x1 = np.tile([0.0, 1.0], 6)
    x2 = np.repeat([0.0, 1.0], 6)
    status = np.array([1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    return np.arange(1.0, 13.0), status, np.column_stack([x1, x2])


def _noexposed(one_exposed_event: bool = False):
    time = np.array([2, 3, 5, 7, 8, 11, 13, 4, 6, 9, 12, 14], dtype=float)
    status = np.array([1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0], dtype=float)
    exposed = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1], dtype=float)
    age = np.array([61, 70, 55, 66, 72, 59, 68, 63, 58, 71, 65, 60], dtype=float)
    if one_exposed_event:
        status[(exposed == 1) & (time == 9)] = 1
    return time, status, np.column_stack([exposed, age])


@pytest.mark.parametrize(("label", "data"), [("infcox", _infcox), ("noexposed", _noexposed)])
def test_r_flags_infinite_and_the_engine_raises_naming_the_variables(label, data):
    r = _r_values()
    flagged = r[(label, "warning")][0]
    assert flagged.startswith("infinite:")
    r_vars = tuple(int(v) - 1 for v in flagged.removeprefix("infinite:").split(","))
    time, status, x = data()
    with pytest.raises(ConvergenceError, match=r"monotone likelihood.*may be infinite") as exc:
        fit_coxph(None, time, status, x)
    assert exc.value.variables == r_vars
    assert isinstance(exc.value, AnalysisError)
    again = pickle.loads(pickle.dumps(exc.value))
    assert again.variables == r_vars and str(again) == str(exc.value)


def test_r_runs_out_of_iterations_on_the_same_data():
    """With R's default 20 iterations the same fit ends "did not converge": also a failure."""
    assert _r_values()[("infcox20", "warning")] == ["noconvergence"]
    time, status, x = _infcox()
    with pytest.raises(ConvergenceError, match="no convergence after 20"):
        fit_coxph(None, time, status, x, max_iter=20)


def test_finite_neighbour_matches_r():
    r = _r_values()
    assert r[("oneexposed", "warning")] == ["none"]
    time, status, x = _noexposed(one_exposed_event=True)
    fit = fit_coxph(None, time, status, x)
    np.testing.assert_allclose(fit.coef, [float(v) for v in r[("oneexposed", "coef")]], rtol=1e-6)
    np.testing.assert_allclose(
        np.sqrt(np.diag(fit.variance)), [float(v) for v in r[("oneexposed", "se")]], rtol=1e-6
    )


def test_analysis_layer_reports_the_separation_as_analysis_error():
    time, status, x = _noexposed()
    data = pd.DataFrame({"time": time, "event": status, "exposed": x[:, 0], "age": x[:, 1]})
    with pytest.raises(AnalysisError, match="may be infinite"):
        fit_cox(data, duration="time", event="event", covariates=["exposed", "age"])


@pytest.mark.parametrize("column", ["x", "stop", "event"])
def test_non_finite_input_is_an_analysis_error(column):
    time, status, x = _noexposed(one_exposed_event=True)
    values = {"x": x.copy(), "stop": time.copy(), "event": status.copy()}
    values[column].flat[0] = np.nan
    with pytest.raises(AnalysisError, match=f"{column} has missing or infinite"):
        fit_coxph(None, values["stop"], values["event"], values["x"])


def test_collinear_covariates_are_an_analysis_error():
    time, status, x = _noexposed(one_exposed_event=True)
    with pytest.raises(AnalysisError, match="singular information"):
        fit_coxph(None, time, status, np.column_stack([x, 2 * x[:, 1]]))
