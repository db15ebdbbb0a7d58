"""Event-code errors print the codes as plain numbers (never numpy reprs) with a fix."""

from __future__ import annotations

import pandas as pd
import pytest

from reawaken import fit_cox
from reawaken.errors import AnalysisError


def _data(codes: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "e": codes, "x": [0.0, 1.0, 0.0, 1.0]})


def test_several_causes_without_cause_name_the_codes_and_the_fix():
    with pytest.raises(AnalysisError) as info:
        fit_cox(_data([0, 1, 2, 1]), duration="t", event="e", covariates=["x"])
    message = str(info.value)
    assert "holds codes 0, 1, 2; fix: pass cause=1" in message
    assert "np.float64" not in message


def test_bad_codes_are_listed_plainly_with_the_fix():
    with pytest.raises(AnalysisError) as info:
        fit_cox(_data([0, 1, -1, 1.5]), duration="t", event="e", covariates=["x"], cause=1)
    message = str(info.value)
    assert "found -1, 1.5; fix: recode the column" in message
    assert "np.float64" not in message
