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
        "95% CI (median limits)",
        "CI width, ln(high) - ln(low)",
    ]
    assert any(q.startswith("tipping point: death_misattribution") for q in quantities)
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") >= 6  # self-contained
    assert "flatiron" in (out / "report.md").read_text().lower()
    for name in (
        "forest",
        "flatiron_lung_mets_sampling_distribution",
        "flatiron_lung_mets_km_one_cohort",
        "flatiron_lung_mets_power_curve",
        "flatiron_lung_mets_stress",
    ):
        assert (out / "figures" / f"{name}.png").exists()
        assert (out / "figures" / f"{name}.svg").exists()
