"""Scenario TOML validation: every bad key or value names the key and what is allowed."""

from __future__ import annotations

import re
import tomllib

import pytest

from reawaken.errors import ScenarioError
from reawaken.scenario import list_presets, load_scenario, parse_scenario_text, preset_text
from reawaken.simulate.hazards import Exponential, Gompertz, PiecewiseConstant, Weibull

MINIMAL = """
name = "mini"
n = 100
[followup]
end_day = 365
[[covariates]]
name = "age"
kind = "normal"
mean = 60.0
sd = 10.0
[[covariates]]
name = "stage"
kind = "categorical"
levels = [1, 2]
probs = [0.5, 0.5]
[outcome]
baseline = { family = "exponential", rate_per_year = 0.1 }
log_hr = { age = 0.02, stage = [0.0, 0.5] }
[effect]
hazard_ratio = [1.5]
[infection]
monthly_rate_per_year = [0.2, 0.4]
[death]
baseline = { family = "gompertz", rate_per_year = 0.01, shape_per_year = 0.1 }
"""


def test_minimal_scenario_parses_with_defaults():
    sc = parse_scenario_text(MINIMAL)
    assert sc.n == 100
    assert sc.followup.time_resolution == "day"
    assert sc.followup.origin_date == "2020-03-01"
    assert sc.infection.documented_probability == 1.0
    assert sc.effect.hazard_ratios == (1.5,)
    assert sc.covariates[0].center == 60.0
    assert sc.testing is None
    assert isinstance(sc.outcome.baseline, Exponential)
    assert sc.outcome.baseline.rate_per_day == pytest.approx(0.1 / 365.25)


@pytest.mark.parametrize(
    ("baseline", "cls"),
    [
        ('{ family = "weibull", shape = 1.2, scale_years = 10.0 }', Weibull),
        ('{ family = "gompertz", rate_per_year = 0.1, shape_per_year = -0.1 }', Gompertz),
        (
            '{ family = "piecewise", breaks_years = [0, 1], rate_per_year = [0.1, 0.0] }',
            PiecewiseConstant,
        ),
    ],
)
def test_baseline_families(baseline, cls):
    text = MINIMAL.replace('{ family = "exponential", rate_per_year = 0.1 }', baseline)
    assert isinstance(parse_scenario_text(text).outcome.baseline, cls)


def _bad(old: str, new: str) -> str:
    assert old in MINIMAL
    return MINIMAL.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("colour = 1\n" + MINIMAL, r"unknown scenario key 'colour'.*allowed keys.*followup"),
        (
            _bad("end_day = 365", "end_day = 365\nend_date = 3"),
            r"unknown scenario key 'followup.end_date'.*allowed.*end_day",
        ),
        (_bad("n = 100", "n = -5"), r"'n' must be >= 1"),
        (_bad("n = 100", "n = 10.5"), r"'n' must be a whole number"),
        (_bad("n = 100", 'n = "many"'), r"'n' must be a number"),
        (
            _bad('kind = "normal"', 'kind = "gamma"'),
            r"'covariates\[0\].kind' = 'gamma' is not allowed; allowed values: normal, binary",
        ),
        (
            _bad('family = "exponential"', 'family = "lognormal"'),
            r"'outcome.baseline.family'.*allowed values: exponential, weibull, gompertz, piecewise",
        ),
        (
            _bad("rate_per_year = 0.1 }", "rate_per_year = -0.1 }"),
            r"'outcome.baseline.rate_per_year' must be > 0",
        ),
        (_bad("probs = [0.5, 0.5]", "probs = [0.5, 0.6]"), r"'covariates\[1\].probs'.*sum"),
        (_bad("stage = [0.0, 0.5]", "stage = [0.0]"), r"'outcome.log_hr.stage' needs one log HR"),
        (
            _bad("age = 0.02", "weight = 0.02"),
            r"unknown scenario key 'outcome.log_hr.weight'; allowed keys.*age, stage",
        ),
        (
            _bad("hazard_ratio = [1.5]", "hazard_ratio = [1.5, 2.0]"),
            r"'effect.hazard_ratio' needs one value per window",
        ),
        (
            _bad("hazard_ratio = [1.5]", "window_start_days = [10]\nhazard_ratio = [1.5]"),
            r"'effect.window_start_days' must start at 0",
        ),
        (
            _bad("monthly_rate_per_year = [0.2, 0.4]", "monthly_rate_per_year = []"),
            r"'infection.monthly_rate_per_year' must be a non-empty list",
        ),
        (
            _bad("[infection]", "[infection]\ndocumented_probability = 1.5"),
            r"'infection.documented_probability' must be <= 1",
        ),
        (
            _bad("end_day = 365", 'end_day = 365\ntime_resolution = "hour"'),
            r"'followup.time_resolution'.*allowed values: day, exact",
        ),
        (
            _bad("end_day = 365", 'end_day = 365\norigin_date = "March 2020"'),
            r"'followup.origin_date'.*ISO date",
        ),
        (
            _bad("end_day = 365", "end_day = 365\naccrual_days = 400"),
            r"'followup.accrual_days' must be below",
        ),
        (MINIMAL.replace("[followup]\nend_day = 365\n", ""), r"missing scenario key 'followup'"),
        (_bad('name = "age"', 'name = "true_age"'), r"'covariates\[0\].name'.*identifier"),
        ("n = [", r"not valid TOML"),
        (MINIMAL + '[design]\nanalysis = "matched_cox"\nexact = [["age"]]\n', r"design.exact"),
    ],
)
def test_bad_scenarios_name_the_key(text, pattern):
    with pytest.raises(ScenarioError, match=pattern):
        parse_scenario_text(text)


def test_unknown_preset_lists_available():
    with pytest.raises(ScenarioError, match="available scenario presets: flatiron_lung_mets"):
        load_scenario("no_such_preset")


def test_missing_scenario_file(tmp_path):
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "missing.toml")


def test_with_n_rejects_nonpositive():
    sc = parse_scenario_text(MINIMAL)
    assert sc.with_n(7).n == 7
    with pytest.raises(ScenarioError, match="positive"):
        sc.with_n(0)


@pytest.mark.parametrize("name", ["flatiron_lung_mets", "ukb_cancer_mortality"])
def test_presets_load_and_document_their_assumptions(name):
    assert name in list_presets()
    sc = load_scenario(name)
    assert sc.finding == name
    text = preset_text(name)
    comment_lines = [ln for ln in text.splitlines() if ln.strip().startswith("#")]
    assert len(comment_lines) >= 10, "presets must document assumptions and derivations"
    assert re.search(r"[Cc]alibrat", text)
    assert tomllib.loads(text)["n"] == sc.n


def test_preset_sizes_match_reported_findings():
    from reawaken.findings import load_finding

    for name in ("flatiron_lung_mets", "ukb_cancer_mortality"):
        assert load_scenario(name).n == load_finding(name).n
