"""fit_cox names the covariates of a diverging fit by their terms, not by design columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reawaken.analysis.cox import fit_cox
from reawaken.engine.coxph import ConvergenceError
from reawaken.errors import AnalysisError


def _separated() -> pd.DataFrame:
    """No events among the exposed: the log-HR of ``exposed`` runs off to minus infinity
    (monotone likelihood) while ``age`` stays finite."""
    rng = np.random.default_rng(5)
    n = 60
    exposed = np.repeat([0.0, 1.0], n // 2)
    return pd.DataFrame(
        {
            "t": rng.exponential(10.0, n).round(3) + 0.01,
            "e": np.where(exposed == 1, 0, rng.random(n) < 0.7).astype(int),
            "age": rng.normal(60.0, 8.0, n),
            "exposed": exposed,
            "group": np.where(exposed == 1, "b", "a"),
        }
    )


def test_a_diverging_covariate_is_named_by_its_column():
    with pytest.raises(AnalysisError) as info:
        fit_cox(_separated(), duration="t", event="e", covariates=["age", "exposed"])
    message = str(info.value)
    assert isinstance(info.value.__cause__, ConvergenceError)
    assert info.value.__cause__.variables == (1,)  # the engine's 0-based design column
    assert "did not converge: monotone likelihood" in message
    assert "covariate(s) 'exposed' may be infinite" in message
    assert "0-based" not in message and "'age'" not in message


def test_a_diverging_formula_term_is_named_by_its_term():
    with pytest.raises(AnalysisError) as info:
        fit_cox(_separated(), duration="t", event="e", formula="age + C(group)")
    message = str(info.value)
    variables = info.value.__cause__.variables
    assert len(variables) == 1
    assert "covariate(s) 'C(group)[T.b]' may be infinite" in message, message
    assert "0-based" not in message
