"""Property: a scenario mapping (a shipped preset with random edits) is either rejected with a
ReawakenError, or it simulates a small cohort that meets the cohort contract, without numeric
warnings (an overflow that silently yields zero events is a wrong result, not a warning)."""

from __future__ import annotations

import copy
import math
import tomllib
import warnings
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from reawaken.errors import ReawakenError
from reawaken.scenario import list_presets, preset_text, scenario_from_dict
from reawaken.schema import validate_cohort
from reawaken.simulate.cohort import simulate_cohort

PRESETS = {name: tomllib.loads(preset_text(name)) for name in list_presets()}
SMALL_N = 300
VALUES = st.one_of(
    st.sampled_from([0, -1, 1, 0.5, 1e9, -1e9, 1e-9, 1e308, math.nan, math.inf, -math.inf]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.booleans(),
    st.sampled_from(["", "x", "age", "normal", "categorical", "2020-13-01", "../x"]),
    st.lists(st.floats(min_value=-5, max_value=5), max_size=3),
    st.just({}),
)


def _leaves(node: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(node, list) and node and isinstance(node[0], dict):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))]
    return [path]


def _apply(data: dict, path: tuple, action: str, value: Any) -> None:
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if action == "delete" and isinstance(parent, dict):
        del parent[last]
    elif action == "unknown_key" and isinstance(parent, dict):
        parent["no_such_key"] = value
    else:
        parent[last] = value


@st.composite
def edited_scenarios(draw):
    data = copy.deepcopy(PRESETS[draw(st.sampled_from(sorted(PRESETS)))])
    data.pop("calibration", None)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        leaves = [p for p in _leaves(data) if p]
        path = draw(st.sampled_from(leaves))
        _apply(
            data, path, draw(st.sampled_from(["set", "set", "delete", "unknown_key"])), draw(VALUES)
        )
    return data


@given(edited_scenarios(), st.integers(min_value=0, max_value=2**32 - 1))
def test_scenario_is_rejected_or_simulates_a_valid_cohort(data, seed):
    try:
        scenario = scenario_from_dict(data)
    except ReawakenError as exc:
        assert str(exc).strip()
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            cohort = simulate_cohort(scenario, np.random.default_rng(seed), n=SMALL_N).data
        except ReawakenError as exc:
            assert str(exc).strip()
            return
    validate_cohort(cohort.drop(columns=[c for c in cohort if c.startswith("true_")]))
