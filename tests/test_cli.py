"""CLI: help on every command, JSON output, one-line errors with non-zero exit, atomic output."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from reawaken.cli import build_parser, main
from reawaken.io import frame_sha256, read_cohort

COMMANDS = [
    "scenarios",
    "simulate",
    "validate",
    "analyze",
    "reproduce",
    "power",
    "power events",
    "power n",
    "power hr",
    "power achieved",
    "power simulate",
    "power design",
    "stress",
]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reawaken.cli", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command.split(), "--help"])
    assert exc.value.code == 0
    assert "usage: reawaken" in capsys.readouterr().out


def _leaf_parsers(parser, prefix=""):
    subs = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    if not subs:
        yield prefix.strip(), parser
        return
    for name, child in subs[0].choices.items():
        yield from _leaf_parsers(child, f"{prefix} {name}")


def test_every_printing_command_takes_json():
    leaves = dict(_leaf_parsers(build_parser()))
    assert {
        "scenarios",
        "simulate",
        "validate",
        "analyze",
        "reproduce",
        "power events",
        "power simulate",
        "power design",
    } <= set(leaves)
    for name, parser in leaves.items():
        assert any("--json" in a.option_strings for a in parser._actions), name


def test_scenarios_lists_presets_as_json(capsys):
    assert main(["scenarios", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["flatiron_lung_mets", "ukb_cancer_mortality"]
    assert rows[0]["n"] == 36845


def test_simulate_then_validate(tmp_path, capsys):
    out = tmp_path / "c.csv"
    assert (
        main(
            [
                "simulate",
                "--scenario",
                "ukb_cancer_mortality",
                "--seed",
                "3",
                "--n",
                "500",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["persons"] == 500 and out.exists()
    data = read_cohort(out)
    assert len(data) == 500
    assert main(["validate", str(out)]) == 0
    assert "valid cohort: 500 persons" in capsys.readouterr().out


def test_simulate_is_reproducible(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    for path in (a, b):
        assert (
            main(
                [
                    "simulate",
                    "--scenario",
                    "flatiron_lung_mets",
                    "--seed",
                    "9",
                    "--n",
                    "2000",
                    "--out",
                    str(path),
                ]
            )
            == 0
        )
    assert frame_sha256(pd.read_parquet(a)) == frame_sha256(pd.read_parquet(b))


def test_simulate_from_scenario_file(tmp_path, capsys):
    from reawaken.scenario import preset_text

    spec = tmp_path / "my.toml"
    spec.write_text(
        preset_text("flatiron_lung_mets").replace('name = "flatiron_lung_mets"', 'name = "mine"', 1)
    )
    assert (
        main(
            [
                "simulate",
                "--scenario",
                str(spec),
                "--n",
                "300",
                "--out",
                str(tmp_path / "m.parquet"),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("mine: 300 persons")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--scenario", "nope", "--out", "x.csv"], "unknown scenario preset 'nope'"),
        (
            ["simulate", "--scenario", "flatiron_lung_mets", "--out", "x.txt"],
            "must end in .parquet or .csv",
        ),
        (
            ["simulate", "--scenario", "flatiron_lung_mets", "--n", "0", "--out", "x.csv"],
            "argument --n: must be a whole number >= 1",
        ),
        (["validate", "/no/such/file.csv"], "not found"),
        (["simulate", "--scenario", "flatiron_lung_mets"], "required: --out"),
        (["reproduce", "--finding", "bogus"], "unknown finding 'bogus'"),
    ],
)
def test_bad_input_exits_nonzero_with_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir()), "a failed run must leave no file"


def test_validate_reports_every_problem(tmp_path):
    bad = pd.DataFrame(
        {
            "id": [1, 2, 2],
            "entry_day": [0.0, -1.0, 0.0],
            "exposure_day": [np.nan, np.nan, 5.0],
            "event_day": [10.0, 4.0, 3.0],
            "event": [0, 7, 1],
        }
    )
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    result = run("validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for fragment in ("duplicate", "negative entry_day", "event code", "exposure_day"):
        assert fragment in result.stderr


def test_validate_malformed_file(tmp_path):
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"not a parquet file at all")
    result = run("validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_validate_iso_dates_need_origin(tmp_path):
    df = pd.DataFrame(
        {
            "id": [1, 2],
            "entry_date": ["2020-03-01", "2020-03-05"],
            "exposure_date": ["2020-06-01", None],
            "event_date": ["2021-01-01", "2020-12-01"],
            "event": [1, 0],
            "age": [60.0, 70.0],
        }
    )
    path = tmp_path / "dates.csv"
    df.to_csv(path, index=False)
    assert run("validate", str(path)).returncode == 2
    ok = run("validate", str(path), "--origin-date", "2020-03-01", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["n_persons"] == 2
