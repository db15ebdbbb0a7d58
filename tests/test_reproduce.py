"""reawaken reproduce writes a complete, self-contained report (tiny replicate counts here;
the calibration itself is checked in tests/test_preset_calibration.py)."""

from __future__ import annotations

import json

from reawaken.cli import main


def test_reproduce_report_small(tmp_path, capsys):
    out = tmp_path / "report"
    code = main(
        [
            "reproduce",
            "--finding",
            "flatiron_lung_mets",
            "--reps",
            "6",
            "--power-reps",
            "3",
            "--stress-reps",
            "2",
            "--executor",
            "serial",
            "--no-progress",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert code in (0, 1)  # 1 = out of tolerance, expected with 6 replicates
    payload = json.loads(capsys.readouterr().out)
    quantities = [row["quantity"] for row in payload[0]["certificate"]]
    assert quantities[:3] == [
        "estimate (median of replicates)",
        "95% CI from the model SE, as reported (median limits)",
        "CI width, ln(high) - ln(low), model SE",
    ]
    rows = {row["quantity"]: row for row in payload[0]["certificate"]}
    assert rows["95% CI from the model SE, as reported (median limits)"]["reported"] == (
        "1.01-2.05, assumed"
    )
    for quantity in (
        "defined truth: what the analysis converges to",
        "its limit when the exposure does nothing",
        "SE ratio, model SE / empirical SD",
        "coverage of the 95% CI (model SE) of the defined truth",
        "rejection rate under the null (model SE)",
        "power at the reported effect",
        "type M exaggeration at the reported effect",
        "E-value, point / CI limit",
    ):
        assert rows[quantity]["reproduced"] or rows[quantity]["reported"], quantity
    assert "assumes the reported SE is the true sampling SD" in (
        rows["power at the reported effect"]["reported"]
    )
    assert "null-preserving" in rows["its limit when the exposure does nothing"]["reproduced"]
    assert any(q.startswith("tipping point: death_misattribution") for q in quantities)
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") >= 6  # self-contained
    report_md = (out / "report.md").read_text()
    assert "flatiron" in report_md.lower()
    assert "written by `reawaken calibrate --finding flatiron_lung_mets" in report_md
    for name in (
        "forest",
        "flatiron_lung_mets_sampling_distribution",
        "flatiron_lung_mets_km_one_cohort",
        "flatiron_lung_mets_power_curve",
        "flatiron_lung_mets_stress",
    ):
        assert (out / "figures" / f"{name}.png").exists()
        assert (out / "figures" / f"{name}.svg").exists()


def _finding_file(tmp_path, n=100, months=3, measure="HR", ci=(1.1, 1.5, 2.0)):
    """A user's finding file (the keys of findings/reported/*.toml)."""
    low, estimate, high = ci
    path = tmp_path / "mine.toml"
    path.write_text(
        f"name = 'mine'\nn = {n}\nfollowup_months = {months}\nmeasure = '{measure}'\n"
        f"estimate = {estimate}\nci_low = {low}\nci_high = {high}\n"
    )
    return path


def test_reproduce_own_finding_file_with_a_calibrated_scenario(tmp_path, capsys):
    """A user's finding file and the scenario `reawaken calibrate` wrote for it."""
    from reawaken.scenario import preset_text

    finding = _finding_file(tmp_path, n=4837, months=30, measure="OR", ci=(1.14, 1.85, 3.02))
    scenario = tmp_path / "mine_scenario.toml"
    scenario.write_text(preset_text("ukb_cancer_mortality"))
    out = tmp_path / "report"
    argv = ["reproduce", "--finding", str(finding), "--scenario", str(scenario), "--reps", "4"]
    argv += ["--power-reps", "2", "--stress-reps", "2", "--executor", "serial", "--no-progress"]
    assert main([*argv, "--out", str(out), "--json"]) in (0, 1)
    payload = json.loads(capsys.readouterr().out)
    assert payload[0]["finding"] == "mine"
    assert (out / "figures" / "mine_sampling_distribution.png").exists()


def test_reproduce_finding_file_needs_a_scenario(tmp_path, capsys):
    finding = _finding_file(tmp_path)
    out = tmp_path / "r"
    assert main(["reproduce", "--finding", str(finding), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--scenario" in err
    assert not out.exists()


def test_reproduce_scenario_needs_exactly_one_finding(tmp_path, capsys):
    argv = ["reproduce", "--scenario", "ukb_cancer_mortality", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    assert "exactly one --finding" in capsys.readouterr().err


def test_stress_finding_file_needs_a_scenario(tmp_path, capsys):
    finding = _finding_file(tmp_path)
    out = tmp_path / "s"
    assert main(["stress", "--finding", str(finding), "--reps", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--scenario" in err
    assert not out.exists()
