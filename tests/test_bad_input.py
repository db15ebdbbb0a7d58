"""Regression tests for the outside tester's bad-input report (issue 11): security, silent wrong
results, internal errors, whole-or-nothing output and strict JSON.

Every CLI case runs the console entry point's ``main(argv)`` in-process. Bad input must exit
with status 2 and one line (or ``{"error", "fix"}`` JSON with ``--json``) and leave no file; a
bug exits 70 and names a crash log.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import reawaken as rw
from reawaken.calibration import canonical_command, implied_information
from reawaken.cli import main
from reawaken.cli import run as cli_run
from reawaken.errors import (
    EXIT_BAD_INPUT,
    EXIT_CODES,
    EXIT_INTERNAL,
    EXIT_TERMINATED,
    ArgumentError,
    ReawakenError,
    ScenarioError,
)
from reawaken.findings import finding_from_dict, template_text
from reawaken.outputs import check_name, dumps_json, output_directory
from reawaken.scenario import parse_scenario_text, preset_text
from reawaken.scenario_toml import Knobs, render_calibrated


@pytest.fixture(autouse=True)
def _crash_logs_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("REAWAKEN_LOG_DIR", str(tmp_path))
    monkeypatch.delenv("REAWAKEN_DEBUG", raising=False)


def _strict_json(text: str):
    """Parse JSON refusing NaN/Infinity (Python's json accepts them by default)."""

    def refuse(name):
        raise AssertionError(f"invalid JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def bad(argv: list[str], capsys, fragment: str = "") -> str:
    """Run ``argv``: status 2, one line on stderr containing ``fragment``; return the line."""
    assert main(argv) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1, err
    assert "fix:" in err and "Traceback" not in err, err
    assert fragment in err, err
    return err


@pytest.fixture(scope="module")
def cohort_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "ukb.csv"
    data = rw.simulate_cohort(
        rw.load_scenario("ukb_cancer_mortality"), np.random.default_rng(5), n=1500
    ).data
    rw.write_table(data, path)
    return path


def _finding_file(folder: Path, name: str) -> Path:
    path = folder / "finding.toml"
    path.write_text(
        f"name = {json.dumps(name)}\nn = 4837\nfollowup_months = 30\nmeasure = 'OR'\n"
        "estimate = 1.85\nci_low = 1.14\nci_high = 3.02\n",
        encoding="utf-8",
    )
    return path


# ------------------------------------------------------------------------------------ security


@pytest.mark.parametrize("name", ["../../../../elsewhere/x", "/tmp/reawaken-abs/x", "..", ""])
def test_reproduce_refuses_a_finding_name_that_leaves_the_output_folder(name, tmp_path, capsys):
    work = tmp_path / "a" / "b" / "c" / "d"
    work.mkdir(parents=True)
    finding = _finding_file(work, name)
    argv = ["reproduce", "--finding", str(finding), "--scenario", "ukb_cancer_mortality"]
    bad([*argv, "--out", str(work / "o"), "--no-progress"], capsys, "finding name")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["finding.toml"]
    assert not Path("/tmp/reawaken-abs").exists()


@pytest.mark.parametrize(
    "name", ["", " ", ".", "..", "a/b", "../x", "a\\b", "/abs", "C:evil", "a\nb", "x\x00"]
)
def test_check_name_rejects_unsafe_names(name):
    with pytest.raises(ReawakenError, match="fix:"):
        check_name(name, "finding name")


@pytest.mark.parametrize("name", ["ukb_cancer_mortality", "my-finding.v2", "Fund 2025"])
def test_check_name_accepts_plain_names(name):
    assert check_name(name) == name


def test_calibrate_name_with_a_newline_is_refused(tmp_path, capsys):
    out = tmp_path / "x.toml"
    argv = ["calibrate", "--name", 'x\nn = 1\n[evil]\nkey = "injected"', "--n", "6000"]
    argv += ["--followup-months", "24", "--measure", "HR", "--estimate", "1.5"]
    bad([*argv, "--ci", "1.1", "2.045", "--out", str(out)], capsys, "control character")
    assert not out.exists()


def test_calibrated_toml_escapes_a_name_that_would_inject_keys():
    """A finding built in Python with a hostile name: the header comment keeps it on one
    line (escaped) and the values carry it as a TOML string, so no key is injected."""
    evil = 'x\nn = 1\n[evil]\nkey = "injected"\r\n# \u2028'
    finding = finding_from_dict(
        {
            "name": evil,
            "n": 4837,
            "followup_months": 30,
            "measure": "OR",
            "estimate": 1.85,
            "ci_low": 1.14,
            "ci_high": 3.02,
        }
    )
    text, label = template_text("matched_test_negative")
    record = dict(tomllib.loads(preset_text("ukb_cancer_mortality"))["calibration"])
    record["command"] = canonical_command(evil, label, reps=8, seed=1)
    record["finding"] = evil
    scenario = parse_scenario_text(render_calibrated(text, label, finding, Knobs()))
    implied = implied_information(finding, scenario, 0.4)
    out = render_calibrated(text, label, finding, Knobs(), record=record, implied=implied)
    data = tomllib.loads(out)
    assert "evil" not in data and data["n"] == 4837
    assert data["name"] == evil and data["calibration"]["finding"] == evil
    header = out[: out.index("\nname = ")]
    assert all(line.startswith("#") or not line for line in header.splitlines())
    assert "\\n" in header and "\\r" in header and "\\u2028" in header
    assert shlex.split(data["calibration"]["command"])[3] == evil  # the quoted name round-trips


def test_local_dask_dashboard_binds_to_localhost(monkeypatch):
    distributed = pytest.importorskip("distributed")
    seen = {}

    class Stop(Exception):
        pass

    def fake_cluster(**kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(distributed, "LocalCluster", fake_cluster)
    with pytest.raises(Stop):
        rw.run_replicates(
            rw.load_scenario("ukb_cancer_mortality"),
            rw.time_varying_cox_hr,
            reps=2,
            seed=1,
            n=200,
            executor="dask",
        )
    assert seen["dashboard_address"].startswith("127.0.0.1:")


# ------------------------------------------------------------------------ silent wrong results


def _scenario_text(**replacements: str) -> str:
    text = preset_text("flatiron_lung_mets")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_unobserved_normal_covariate_is_written_as_truth_and_not_analysed():
    text = _scenario_text(**{'kind = "normal"\n': 'kind = "normal"\nobserved = false\n'})
    scenario = parse_scenario_text(text)
    assert "age" not in scenario.covariate_names
    data = rw.simulate_cohort(scenario, np.random.default_rng(1), n=200).data
    assert "true_age" in data and "age" not in data


def test_lower_above_upper_is_an_error():
    text = _scenario_text(**{"lower = 25.0": "lower = 90.0", "upper = 95.0": "upper = 50.0"})
    with pytest.raises(ScenarioError, match=r"lower' = 90 must be below .*upper' = 50.*fix"):
        parse_scenario_text(text)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("log_hr = { age = -0.01, stage", "log_hr = { age = 1000, stage", "outcome.log_hr"),
        ("shape = 0.9, scale_years", "shape = 1e-9, scale_years", "failed numerically"),
    ],
)
def test_extreme_hazards_are_an_error_not_overflow_warnings(old, new, message):
    scenario = parse_scenario_text(_scenario_text(**{old: new}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarning may escape
        with pytest.raises(ScenarioError, match=message):
            rw.simulate_cohort(scenario, np.random.default_rng(1), n=2000)


def test_validate_rejects_infinite_covariates(tmp_path, capsys):
    path = tmp_path / "c.csv"
    data = rw.simulate_cohort(
        rw.load_scenario("ukb_cancer_mortality"), np.random.default_rng(2), n=50
    )
    table = data.data.assign(age=lambda d: d["age"].where(d["id"] != 3, np.inf))
    rw.write_table(table, path)
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT
    assert "infinite values in covariate 'age': 1 row (e.g. id 3)" in capsys.readouterr().err


def test_logrank_with_several_event_codes_needs_a_cause():
    df = pd.DataFrame({"t": [1.0, 2, 3, 4, 5, 6], "e": [1, 2, 0, 1, 2, 1], "g": [0, 0, 0, 1, 1, 1]})
    with pytest.raises(rw.AnalysisError, match=r"several event codes \(1, 2\).*fix: pass cause"):
        rw.logrank(df, duration="t", event="e", group="g")
    cause1 = rw.logrank(df, duration="t", event="e", group="g", cause=1)
    assert cause1.table["observed"].sum() == 3 and "cause 1" in cause1.method
    anything = rw.logrank(df, duration="t", event="e", group="g", cause="any")
    assert anything.table["observed"].sum() == 5 and "any event" in anything.method
    single = df.assign(e=(df["e"] > 0).astype(int))  # 0/1 data: cause may stay implicit
    assert rw.logrank(single, duration="t", event="e", group="g").statistic == pytest.approx(
        anything.statistic
    )


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--hr", "nan"], "argument --hr: value 'nan'"),
        (["--hr", "inf"], "must be a finite number > 0"),
        (["--n", "1.5"], "'1.5' is not a whole number"),
        (["--n", "0"], "whole number >= 1"),
        (["--reps", "0"], "argument --reps"),
        (["--target", "1"], "argument --target"),
        (["--workers", "-1"], "argument --workers"),
        (["--executor", "dask", "--scheduler", "garbage"], "not a Dask scheduler address"),
        (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --executor dask"),
    ],
)
def test_power_simulate_bad_options(argv, fragment, capsys):
    bad(["power", "simulate", "--scenario", "ukb_cancer_mortality", *argv], capsys, fragment)


def test_power_simulate_where_every_replicate_fails(tmp_path, capsys):
    argv = ["power", "simulate", "--scenario", "ukb_cancer_mortality", "--n", "1", "--reps", "2"]
    argv += ["--executor", "serial", "--no-progress", "--out", str(tmp_path / "p")]
    err = bad(argv, capsys, "every replicate failed at n = 1")
    assert err.startswith("reawaken power simulate: error:")
    assert not list(tmp_path.iterdir())


# ------------------------------------------------------------------- errors, not "internal error"


@pytest.mark.parametrize(
    "argv",
    [
        ["simulate", "--scenario", "ukb_cancer_mortality", "--out", "x.csv"],
        ["analyze", "c.csv", "--design", "naive_cox", "--out", "o"],
        ["calibrate", "--finding", "ukb_cancer_mortality", "--out", "x.toml"],
        ["reproduce"],
        ["power", "design", "--estimate", "1.85", "--ci", "1.14", "3.02", "--sims", "10"],
        ["stress", "--finding", "ukb_cancer_mortality", "--out", "o"],
        ["power", "simulate", "--scenario", "ukb_cancer_mortality"],
    ],
)
def test_negative_seed_is_a_usage_error(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bad([*argv, "--seed", "-1"], capsys, "argument --seed: must be a whole number >= 0")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("flag", ["scenario", "finding", "template"])
def test_non_utf8_input_files_are_bad_input(flag, tmp_path, capsys):
    binary = tmp_path / "binary"  # like --scenario /bin/ls: an existing file, not .toml
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff\xfe")
    argv = {
        "scenario": ["simulate", "--scenario", str(binary), "--out", str(tmp_path / "x.csv")],
        "finding": ["stress", "--finding", str(binary), "--out", str(tmp_path / "o")],
        "template": [
            "calibrate",
            "--finding",
            "ukb_cancer_mortality",
            "--template",
            str(binary),
            "--out",
            str(tmp_path / "x.toml"),
        ],
    }[flag]
    bad(argv, capsys, "is not UTF-8 text")
    assert [p.name for p in tmp_path.iterdir()] == ["binary"]


def test_freedman_with_exposed_share_one(capsys):
    argv = ["power", "events", "--hr", "0.7", "--method", "freedman", "--exposed-share", "1"]
    bad(argv, capsys, "argument --exposed-share: must be a finite number in (0, 1)")
    with pytest.raises(rw.AnalysisError, match="allocation_ratio"):
        rw.freedman(hr=0.7, power=0.8, allocation_ratio=math.inf)


def test_infinite_effect_shape_day(tmp_path, capsys):
    argv = ["calibrate", "--finding", "ukb_cancer_mortality", "--effect-shape", "0:1,inf:0.5"]
    bad([*argv, "--out", str(tmp_path / "x.toml")], capsys, "must be finite numbers")


def test_a_million_controls(cohort_csv, tmp_path, capsys):
    argv = ["analyze", str(cohort_csv), "--design", "matched_cox", "--controls", "1000000"]
    bad([*argv, "--out", str(tmp_path / "o")], capsys, "controls must be a whole number 1..100")
    assert not (tmp_path / "o").exists()


def test_testing_process_that_selects_nobody(tmp_path, capsys):
    text = preset_text("ukb_cancer_mortality")
    start = text.index("[testing]")
    rates = text.index("monthly_rate_per_year", start)
    end = text.index("]", rates)
    text = text[:rates] + "monthly_rate_per_year = [0.0" + text[end:]  # nobody tests negative
    text = text.replace("documented_probability = 0.6", "documented_probability = 0.0")  # nor +
    path = tmp_path / "nobody.toml"
    path.write_text(text, encoding="utf-8")
    argv = ["simulate", "--scenario", str(path), "--n", "10", "--out", str(tmp_path / "x.csv")]
    bad([*argv, "--no-progress"], capsys, "selects almost nobody")


def test_stress_mechanism_without_testing_leaves_nothing(tmp_path, capsys):
    argv = ["stress", "--finding", "flatiron_lung_mets", "--mechanisms", "test_negative_selection"]
    argv += ["--n", "500", "--reps", "2", "--executor", "serial", "--out", str(tmp_path / "st")]
    bad(argv, capsys, "test_negative_selection needs a scenario with a [testing] table")
    assert not list(tmp_path.iterdir())


def _public_calls() -> list[tuple[str, object, dict, str, object]]:
    scenario = rw.load_scenario("ukb_cancer_mortality")
    frame = pd.DataFrame({"t": [1.0, 2.0], "e": [1, 0], "g": [0, 1]})
    finding = rw.load_finding("ukb_cancer_mortality")
    base = {
        "simulate_cohort": (
            rw.simulate_cohort,
            {"scenario": scenario, "rng": np.random.default_rng(1)},
        ),
        "load_scenario": (rw.load_scenario, {"name_or_path": "ukb_cancer_mortality"}),
        "parse_scenario_text": (rw.parse_scenario_text, {"text": "name = 'x'"}),
        "validate_cohort": (rw.validate_cohort, {"df": frame, "covariates": ["g"]}),
        "read_cohort": (rw.read_cohort, {"path": "c.csv"}),
        "write_table": (rw.write_table, {"df": frame, "path": "w.csv"}),
        "frame_sha256": (rw.frame_sha256, {"df": frame}),
        "cohort_from_dates": (rw.cohort_from_dates, {"df": frame, "origin_date": "2020-03-01"}),
        "schoenfeld": (rw.schoenfeld, {"hr": 0.7, "power": 0.8}),
        "freedman": (rw.freedman, {"hr": 0.7, "power": 0.8}),
        "minimum_detectable_hr": (rw.minimum_detectable_hr, {"events": 200.0}),
        "design_analysis": (
            rw.design_analysis,
            {"estimate": 1.85, "ci": (1.14, 3.02), "true_effects": [1.2]},
        ),
        "kaplan_meier": (rw.kaplan_meier, {"data": frame, "duration": "t", "event": "e"}),
        "logrank": (rw.logrank, {"data": frame, "duration": "t", "event": "e", "group": "g"}),
        "calibrate_to_finding": (
            rw.calibrate_to_finding,
            {"template": "matched_test_negative", "finding": finding},
        ),
        "render_from_record": (rw.render_from_record, {"text": "name = 'x'"}),
        "EffectProfile": (rw.EffectProfile, {"window_start_days": (0.0,), "hazard_ratios": (1.5,)}),
        "cumulative_incidence": (
            rw.cumulative_incidence,
            {"data": frame, "duration": "t", "event": "e", "cause": 1},
        ),
        "split_at_exposure": (rw.split_at_exposure, {"cohort": frame, "covariates": ["g"]}),
    }
    wrong = [object(), "x", 1.5, None, [1, 2], {"a": 1}, True]
    calls = []
    for name, (func, kwargs) in base.items():
        for arg in kwargs:
            for value in wrong:
                calls.append((name, func, kwargs, arg, value))
    return calls


def test_wrong_types_in_the_public_api_raise_reawaken_errors(tmp_path, monkeypatch):
    """Each argument of each public function gets wrong-typed values: the call may succeed
    (a value that happens to fit) or fail, but only with a ReawakenError."""
    monkeypatch.chdir(tmp_path)
    raw = []
    calls = _public_calls()
    for name, func, kwargs, arg, value in calls:
        try:
            func(**{**kwargs, arg: value})
        except ReawakenError:
            continue
        except Exception as exc:
            raw.append(f"{name}({arg}={value!r}): {type(exc).__name__}: {exc}")
    assert not raw, "\n".join(raw)
    assert len(calls) > 150
    with pytest.raises(ArgumentError, match=r"simulate_cohort: argument 'rng' must be numpy"):
        rw.simulate_cohort(rw.load_scenario("ukb_cancer_mortality"), 5)
    with pytest.raises(ArgumentError, match="unexpected keyword argument 'powr'"):
        rw.schoenfeld(hr=0.7, powr=0.8)


# --------------------------------------------------------------------- internal errors, exits


def test_exit_codes_are_listed_in_the_top_level_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for code, meaning in EXIT_CODES.items():
        assert f"{code:>3}  {meaning[:30]}" in out
    assert len(set(EXIT_CODES)) == 6 and EXIT_INTERNAL not in (0, 1, 2)


def _crash(args):
    raise RuntimeError("boom")


@pytest.mark.parametrize("debug", [False, True])
def test_internal_error_exits_70_with_a_crash_log(debug, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("reawaken.cli.cohort.cmd_scenarios", _crash)
    if debug:
        monkeypatch.setenv("REAWAKEN_DEBUG", "1")
    assert main(["scenarios"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("reawaken scenarios: internal error: RuntimeError: boom")
    logs = list(tmp_path.glob("reawaken-crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in last
    assert "Traceback" in logs[0].read_text() and "_crash" in logs[0].read_text()
    assert ("Traceback" in err) == debug


def test_internal_error_in_json_mode(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("reawaken.cli.cohort.cmd_scenarios", _crash)
    assert main(["scenarios", "--json"]) == EXIT_INTERNAL
    payload = _strict_json(capsys.readouterr().out)
    assert payload["error"] == "internal error: RuntimeError: boom"
    assert Path(payload["log"]).exists() and "please report it" in payload["fix"]


# ----------------------------------------------------------------------------- output folders


def test_analyze_refuses_a_non_empty_folder_and_replaces_it_whole(cohort_csv, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["analyze", str(cohort_csv), "--design", "matched_cox", "--out", str(out)]) == 0
    matched = {p.name for p in out.iterdir()}
    assert {"balance.csv", "km.png", "love.svg"} <= matched
    capsys.readouterr()
    argv = ["analyze", str(cohort_csv), "--design", "naive_cox", "--out", str(out)]
    bad(argv, capsys, "is not empty")
    assert {p.name for p in out.iterdir()} == matched  # untouched
    assert main([*argv, "--overwrite"]) == 0
    naive = {p.name for p in out.iterdir()}
    assert not naive & {"balance.csv", "km.png", "km.svg", "love.png", "love.svg"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary sibling left


def test_a_failed_write_leaves_nothing(cohort_csv, tmp_path, capsys, monkeypatch):
    def broken(fig, path):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr("reawaken.analyze.save_figure", broken)
    argv = ["analyze", str(cohort_csv), "--design", "naive_cox", "--out", str(tmp_path / "a/b/o")]
    bad(argv, capsys, "No space left on device")
    assert not list(tmp_path.iterdir())  # not even the parent folders it made


def test_sigterm_during_a_write_removes_the_partial_folder(tmp_path, capsys, monkeypatch):
    target = tmp_path / "out"

    def writes_then_gets_killed(args):
        with output_directory(target) as folder:
            (folder / "half.csv").write_text("a,b\n")
            os.kill(os.getpid(), signal.SIGTERM)
        return 0

    previous = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr("reawaken.cli.cohort.cmd_scenarios", writes_then_gets_killed)
    assert main(["scenarios"]) == EXIT_TERMINATED
    assert not list(tmp_path.iterdir())
    assert "terminated" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == previous  # handler restored


def test_overwrite_never_replaces_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("mine")
    for target in (".", str(tmp_path), str(tmp_path.parent)):
        with pytest.raises(ReawakenError, match="refusing to replace"):
            with output_directory(target, overwrite=True):
                pass
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_atomic_file_temp_is_visible_and_removed_on_failure(tmp_path):
    frame = pd.DataFrame({"a": [1.0]})

    class Broken(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            raise OSError(5, "I/O error")

    with pytest.raises(OSError):
        rw.write_table(Broken(frame), tmp_path / "x.csv")
    assert not list(tmp_path.iterdir())
    rw.write_table(frame, tmp_path / "x.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]


# -------------------------------------------------------------------------------- strict JSON


def test_dumps_json_turns_nan_and_infinity_into_null():
    text = dumps_json({"a": math.nan, "b": np.float64(-np.inf), "c": [np.int64(3), pd.NA]})
    assert _strict_json(text) == {"a": None, "b": None, "c": [3, None]}


def test_analyze_json_is_strict(cohort_csv, tmp_path, capsys):
    argv = ["analyze", str(cohort_csv), "--design", "naive_cox", "--out", str(tmp_path / "o")]
    assert main([*argv, "--json"]) == 0
    payload = _strict_json(capsys.readouterr().out)
    assert payload["estimates"][0]["robust_se"] is None  # NaN in the table
    _strict_json((tmp_path / "o" / "estimates.json").read_text())


def test_errors_in_json_mode_are_json_on_stdout(tmp_path, capsys):
    assert main(["simulate", "--scenario", "nope", "--out", "x.csv", "--json"]) == 2
    captured = capsys.readouterr()
    payload = _strict_json(captured.out)
    assert payload["error"].startswith("unknown scenario preset 'nope'")
    assert payload["fix"] and not captured.err
    assert main(["simulate", "--scenario", "x", "--seed", "-1", "--out", "x.csv", "--json"]) == 2
    usage = _strict_json(capsys.readouterr().out)
    assert usage["error"].startswith("argument --seed") and "--seed 2025" in usage["fix"]


def test_power_json_file_is_strict(tmp_path, capsys):
    out = tmp_path / "p"
    argv = ["power", "design", "--estimate", "1.85", "--ci", "1.14", "3.02", "--true", "1.2,1.5"]
    assert main([*argv, "--out", str(out), "--json"]) == 0
    printed = _strict_json(capsys.readouterr().out)
    assert _strict_json((out / "power.json").read_text()) == printed
    assert cli_run.error_payload(ScenarioError("a; fix: b"), "x") == {"error": "a", "fix": "b"}
    assert cli_run.error_payload(ScenarioError("a"), "x")["fix"] == "see `reawaken x --help`"
