"""``reawaken calibrate``: a reported finding -> a scenario that reproduces it.

The shipped presets are outputs of the command: each carries its ``[calibration]`` record, the
file re-renders byte for byte from that record and its template, and rerunning the recorded
command writes the same bytes (Flatiron in the default suite, UK Biobank in the slow one).
The solver is checked against a known truth: with every infection documented and no
confounding, the time-varying Cox model is unbiased, so the solved true HR must be the
target itself (within Monte Carlo error).
"""

from __future__ import annotations

import json
import math
import shlex
import tomllib
from pathlib import Path

import numpy as np
import pytest

from reawaken.calibration import (
    calibrate_to_finding,
    documented_share,
    implied_information,
    render_from_record,
)
from reawaken.cli import build_parser, main
from reawaken.errors import ScenarioError
from reawaken.findings import finding_from_dict, list_templates, load_finding, template_text
from reawaken.scenario import load_scenario, parse_scenario_text, preset_text
from reawaken.scenario_toml import EffectShape, Knobs, render_calibrated, round_significant

PRESETS = ("flatiron_lung_mets", "ukb_cancer_mortality")


def _record(name: str) -> dict:
    return tomllib.loads(preset_text(name))["calibration"]


def _rerun_recorded_command(name: str, tmp_path: Path) -> str:
    argv = shlex.split(_record(name)["command"])
    assert argv[:2] == ["reawaken", "calibrate"]
    out = tmp_path / f"{name}.toml"
    assert main([*argv[1:], "--no-progress", "--out", str(out)]) == 0
    return out.read_text(encoding="utf-8")


# --------------------------------------------------------------- presets are calibrate outputs


@pytest.mark.parametrize("name", PRESETS)
def test_preset_rerenders_from_its_record(name):
    """The file is exactly what calibrate writes for the recorded knobs (no hand edits)."""
    text = preset_text(name)
    assert render_from_record(text, name) == text


@pytest.mark.parametrize("name", PRESETS)
def test_preset_record_is_a_valid_command_that_met_its_targets(name):
    record, finding = _record(name), load_finding(name)
    args = build_parser().parse_args([*shlex.split(record["command"])[1:], "--out", "x.toml"])
    assert (args.finding, args.template, args.reps, args.seed) == (
        name,
        record["template"],
        record["reps"],
        record["seed"],
    )
    assert record["template"] in list_templates()
    assert (record["estimate"], record["ci"]) == (
        finding.estimate,
        [finding.ci_low, finding.ci_high],
    )
    # the check the solver stopped on: median estimate and CI width at the target
    assert math.log(record["median_estimate"] / finding.estimate) == pytest.approx(0, abs=0.006)
    assert record["median_se"] == pytest.approx(finding.implied_se, rel=0.011)
    # the median limits (not the median width) scatter a little more: skewed estimates
    assert record["median_ci"] == pytest.approx([finding.ci_low, finding.ci_high], rel=0.03)
    assert record["exposed_share_simulated"] == pytest.approx(record["exposed_share"], abs=0.003)
    # and the scenario simulates at the finding's size and follow-up
    scenario = load_scenario(name)
    assert scenario.n == finding.n
    assert scenario.followup.end_day == round(finding.followup_months * 365.25 / 12)


def test_flatiron_preset_is_the_output_of_its_recorded_command(tmp_path):
    """Rerunning the recorded `reawaken calibrate` writes the shipped preset byte for byte
    (400 replicates x a few iterations: ~1-2 minutes on 2 cores)."""
    assert _rerun_recorded_command("flatiron_lung_mets", tmp_path) == preset_text(
        "flatiron_lung_mets"
    )


@pytest.mark.slow
def test_ukb_preset_is_the_output_of_its_recorded_command(tmp_path):
    """Same for UK Biobank (1,000 matched-design replicates per iteration: ~5 minutes)."""
    assert _rerun_recorded_command("ukb_cancer_mortality", tmp_path) == preset_text(
        "ukb_cancer_mortality"
    )


# ------------------------------------------------------------------------- solver vs truth


def _unconfounded_template(tmp_path: Path) -> Path:
    """time_varying_cohort with every infection documented and infection unconfounded."""
    text, _ = template_text("time_varying_cohort")
    text = text.replace("documented_probability = 0.5", "documented_probability = 1.0")
    text = text.replace("log_hr = { age = -0.01, comorbidity = 0.3 }", "log_hr = {}")
    assert "documented_probability = 1.0" in text and "log_hr = {}" in text
    path = tmp_path / "unconfounded.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_solver_recovers_the_true_hr_when_the_design_is_unbiased(tmp_path):
    """Known truth: the solved true HR equals the target within 3 MCSE of a median (+ tol)."""
    finding = finding_from_dict(
        {
            "name": "truth",
            "n": 12000,
            "followup_months": 36,
            "measure": "HR",
            "estimate": 1.6,
            "ci_low": 1.2,
            "ci_high": 2.133,
        }
    )
    reps = 24
    result = calibrate_to_finding(
        str(_unconfounded_template(tmp_path)),
        finding,
        exposed_share=0.4,
        reps=reps,
        seed=5,
        executor="serial",
    )
    true_log_hr = math.log(result.scenario.effect.hazard_ratios[0])
    last = result.history.iloc[-1]
    mcse = 1.2533 * finding.implied_se / math.sqrt(reps)
    assert true_log_hr == pytest.approx(math.log(1.6), abs=3 * mcse + 0.01)
    assert last["median_se"] == pytest.approx(finding.implied_se, rel=0.03)
    assert result.record["exposed_share_simulated"] == pytest.approx(0.4, abs=0.003)
    # Schoenfeld's D = 1/(SE^2 p(1-p)) with p the ever-exposed share overstates p at event
    # times (exposure starts mid follow-up), so it implies fewer events than simulated
    implied = result.implied["events"]
    assert implied < last["mean_events"] < 3 * implied


def test_documented_share_solve_hits_the_target_and_is_deterministic():
    scenario = load_scenario("flatiron_lung_mets")
    a = documented_share(scenario, seed=1, persons=50_000)
    assert a == documented_share(scenario, seed=1, persons=50_000)
    assert a == pytest.approx(0.25, abs=0.01)


# ------------------------------------------------------------------------------ the CLI


def _flags(n=6000, estimate=1.5, ci=("1.1", "2.045")):
    return [
        "--n", str(n), "--followup-months", "36", "--measure", "HR",
        "--estimate", str(estimate), "--ci", *ci,
    ]  # fmt: skip


def test_cli_calibrates_a_finding_given_by_flags_same_seed_same_bytes(tmp_path, capsys):
    argv = ["calibrate", *_flags(), "--reps", "12", "--seed", "9", "--executor", "serial"]
    argv += ["--no-progress", "--exposed-share", "0.3", "--effect-shape", "0:1,90:0.5"]
    assert main([*argv, "--out", str(tmp_path / "a.toml")]) == 0
    printed = capsys.readouterr().out
    assert "implied SE(log HR)" in printed and "implied events" in printed
    assert "information 1/SE^2" in printed
    assert main([*argv, "--out", str(tmp_path / "b.toml"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["calibration"]["reps"] == 12 and payload["history"]
    assert payload["implied_information"] == pytest.approx(1 / payload["implied_se"] ** 2)
    text = (tmp_path / "a.toml").read_text()
    assert text == (tmp_path / "b.toml").read_text()
    scenario = parse_scenario_text(text)
    assert scenario.n == 6000 and scenario.effect.window_start_days == (0.0, 90.0)
    hr0, hr1 = scenario.effect.hazard_ratios
    assert math.log(hr1) == pytest.approx(0.5 * math.log(hr0), rel=0.01)  # the shape is kept
    assert render_from_record(text) == text
    record = scenario.calibration
    assert record["command"].startswith("reawaken calibrate --name my_finding --n 6000")
    # the recorded command is itself a valid invocation
    build_parser().parse_args([*shlex.split(record["command"])[1:], "--out", "c.toml"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--finding", "flatiron_lung_mets", "--n", "10"], "exclude each other"),
        (["--n", "100", "--measure", "HR"], "missing --followup-months"),
        ([*_flags(ci=("1.6", "2.0"))], "inside its CI"),
        (["--finding", "nope"], "available findings"),
        (["--finding", "missing.toml"], "not found"),
        (["--finding", "ukb_cancer_mortality", "--template", "time_varying_cohort"], "an OR"),
        (["--finding", "flatiron_lung_mets", "--template", "nope"], "available templates"),
        (["--finding", "flatiron_lung_mets", "--exposed-share", "1.2"], "in (0, 1)"),
        (["--finding", "flatiron_lung_mets", "--effect-shape", "5:1"], "begin at 0"),
        (["--finding", "flatiron_lung_mets", "--effect-shape", "0-1"], "DAY:WEIGHT"),
        (["--finding", "flatiron_lung_mets", "--reps", "3"], "at least 8"),
    ],
)
def test_cli_bad_input_one_line_exit_2_and_no_file(tmp_path, capsys, argv, message):
    out = tmp_path / "x.toml"
    assert main(["calibrate", *argv, "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()


def test_cli_out_must_be_toml(tmp_path, capsys):
    assert main(["calibrate", "--finding", "flatiron_lung_mets", "--out", "x.csv"]) == 2
    assert ".toml" in capsys.readouterr().err


def test_cli_unconverged_calibration_writes_nothing(tmp_path, capsys):
    out = tmp_path / "x.toml"
    argv = ["calibrate", *_flags(n=3000), "--reps", "8", "--max-iterations", "1"]
    argv += ["--executor", "serial", "--no-progress", "--out", str(out)]
    assert main(argv) == 2
    assert "did not converge" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name = 'x'\nn = 10\n", "missing key 'followup_months'"),
        (
            "name = 'x'\nn = 10\nfollowup_months = 3\nmeasure = 'RR'\nestimate = 1.2\n"
            "ci_low = 1\nci_high = 2\n",
            "measure",
        ),
        (
            "name = 'x'\nn = -1\nfollowup_months = 3\nmeasure = 'HR'\nestimate = 1.2\n"
            "ci_low = 1\nci_high = 2\n",
            "positive",
        ),
        ("name = 'x'\nhazard = 1\n", "unknown key 'hazard'.*fix: remove it"),
        ("name = 'x'\nestimand = 'HR'\n", "unknown key 'estimand'.*fix: rename it to 'measure'"),
        ("name = [\n", "not valid TOML"),
    ],
)
def test_bad_finding_files(tmp_path, body, message):
    path = tmp_path / "f.toml"
    path.write_text(body)
    with pytest.raises(ScenarioError, match=message):
        load_finding(path)


def test_finding_file_round_trip(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        "name = 'mine'\nn = 5000\nfollowup_months = 24\nmeasure = 'OR'\nestimate = 1.3\n"
        "ci_low = 1.01\nci_high = 1.67\n"
    )
    f = load_finding(path)
    assert (f.name, f.n, f.measure, f.title) == ("mine", 5000, "OR", "mine")
    assert f.implied_se == pytest.approx((math.log(1.67) - math.log(1.01)) / 3.919927969)


# ----------------------------------------------------------------------- rendering pieces


def test_effect_shape_scales_log_hrs_from_the_estimate():
    shape = EffectShape.parse("0:1,90:0.5,365:-0.25")
    hrs = shape.hazard_ratios(2.0, 1.0)
    assert hrs == pytest.approx([2.0, math.sqrt(2.0), 2.0**-0.25])
    assert shape.hazard_ratios(2.0, 0.5)[0] == pytest.approx(math.sqrt(2))
    assert EffectShape.parse(shape.text()) == shape


def test_render_applies_knobs_to_the_template():
    text, label = template_text("time_varying_cohort")
    finding = load_finding("flatiron_lung_mets")
    base = parse_scenario_text(render_calibrated(text, label, finding, Knobs()))
    out = parse_scenario_text(render_calibrated(text, label, finding, Knobs(2.0, 0.5, 1.5)))
    # Weibull: h0 x 2 <=> scale x 2^(-1/shape), rounded to 4 significant digits
    expected = base.outcome.baseline.scale_days / 365.25 * 2 ** (-1 / 0.9)
    assert out.outcome.baseline.scale_days / 365.25 == pytest.approx(
        round_significant(expected), rel=1e-12
    )
    assert math.log(out.effect.hazard_ratios[0]) == pytest.approx(
        0.5 * math.log(base.effect.hazard_ratios[0]), rel=1e-3
    )
    rates = np.array(out.infection.intensity.monthly_rate_per_year)
    assert rates == pytest.approx(1.5 * np.array(base.infection.intensity.monthly_rate_per_year))
    assert (out.name, out.finding, out.n) == (finding.name, finding.name, finding.n)


def test_rate_multiplier_scales_the_waves():
    text = preset_text("flatiron_lung_mets")
    value = tomllib.loads(text)["infection"]["rate_multiplier"]
    doubled = text.replace(f"rate_multiplier = {value}", f"rate_multiplier = {2 * value}", 1)
    assert doubled != text
    a = parse_scenario_text(text).infection.intensity.monthly_rate_per_year
    b = parse_scenario_text(doubled).infection.intensity.monthly_rate_per_year
    assert np.array(b) == pytest.approx(2 * np.array(a))
    with pytest.raises(ScenarioError, match="rate_multiplier"):
        parse_scenario_text(text.replace(f"rate_multiplier = {value}", "rate_multiplier = 0", 1))


def test_implied_information_uses_matching_ratio_for_matched_designs():
    finding = load_finding("ukb_cancer_mortality")
    info = implied_information(finding, load_scenario("ukb_cancer_mortality"), 0.4)
    assert info["information"] == pytest.approx(1 / finding.implied_se**2)
    assert info["events"] == pytest.approx(info["information"] * 25 / 4)  # p = 1/5
    assert "1:4" in info["events_formula"]


def test_effect_step_handles_direction_and_the_null():
    """Log-scale ratio when the median and the target agree in sign; a protective target
    from a harmful start flips the effect; a null target sets it to 0."""
    from reawaken.calibration_steps import effect_step as _effect_step

    assert _effect_step(1.0, 0.2, 0.4, 1.0) == pytest.approx(2.0)
    assert _effect_step(1.0, -0.2, -0.1, 1.0) == pytest.approx(0.5)
    assert _effect_step(1.0, 0.2, 0.4, 0.5) == pytest.approx(math.sqrt(2))
    assert _effect_step(1.0, 0.3, -0.35, 1.0) == -1.0
    assert _effect_step(0.8, 0.0, 0.3, 1.0) == pytest.approx(1.6)
    assert _effect_step(1.3, 0.2, 0.0, 1.0) == 0.0
    assert _effect_step(1.0, 0.01, 1.0, 1.0) == 4.0  # one step is at most x4
