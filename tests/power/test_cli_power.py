"""reawaken power ... from the command line."""

from __future__ import annotations

import json

import pytest

from reawaken.cli import main


def test_power_events_worked_value(capsys):
    assert main(["power", "events", "--hr", "0.7", "--power", "0.8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["required_events"] == 247


def test_power_achieved_matched(capsys):
    assert main(["power", "achieved", "--events", "200", "--hr", "1.44", "--controls", "4"]) == 0
    assert "54.1% power" in capsys.readouterr().out


def test_power_n_needs_event_probability(capsys):
    assert main(["power", "n", "--hr", "1.44"]) == 2
    assert "--event-probability" in capsys.readouterr().err


def test_power_design_writes_outputs(tmp_path, capsys):
    assert (
        main(
            [
                "power",
                "design",
                "--estimate",
                "1.44",
                "--ci",
                "1.01",
                "2.05",
                "--out",
                str(tmp_path),
                "--json",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    assert payload["se"] == pytest.approx(0.181, abs=0.001)
    for name in ("design_analysis.csv", "power.json", "exaggeration.png", "exaggeration.svg"):
        assert (tmp_path / name).exists()


def test_power_simulate_small(tmp_path, capsys):
    assert (
        main(
            [
                "power",
                "simulate",
                "--scenario",
                "flatiron_lung_mets",
                "--reps",
                "4",
                "--n",
                "3000,6000",
                "--executor",
                "serial",
                "--no-progress",
                "--out",
                str(tmp_path),
                "--json",
            ]
        )
        == 0
    )
    table = json.loads(capsys.readouterr().out)["table"]
    assert [row["n"] for row in table] == [3000, 6000]
    assert (tmp_path / "power_curve.svg").exists()
