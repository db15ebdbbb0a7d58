"""Progress bars of a reproduction: every bar the certificate and the report writing draw on a
terminal carries a label naming its phase, and every long phase has one (the one simulated
cohort, the replicates, the null replicates, each power-curve size, the stress battery's two
reference truths and its cells, the report files). The bar parser is checked on known text first."""

from __future__ import annotations

from report_checks import bars

from reawaken.findings import load_finding


def test_the_bar_parser_reads_labels_and_sees_an_unlabelled_bar():
    text = (
        "\rukb:   0%|          | 0/20 [00:00<?, ?rep/s]\rukb:  50%|#####     | 10/20 [00:01<00:01]"
        "\n  0%|          | 0/600 [00:00<?, ?it/s]\rwriting report: 100%|##########| 5/5 [00:01]\n"
    )
    assert bars(text) == [("ukb", 20), ("", 600), ("writing report", 5)]


def test_every_bar_is_labelled(small_report):
    found = bars(small_report.stderr)
    assert found, "no progress bar was drawn"
    assert [total for label, total in found if not label] == []


def test_every_phase_has_its_bar(small_report):
    labels = {label: total for label, total in bars(small_report.stderr)}
    files = 3 + sum(4 + len(c.figures) for c in small_report.certificates)
    assert labels["writing report"] == files
    for cert in small_report.certificates:
        name, finding = cert.finding.name, load_finding(cert.finding.name)
        assert labels[f"{name} one cohort"] == 3
        assert labels[name] == len(cert.replicates)
        assert labels[f"{name}:null"] == len(cert.replicates)
        power = [label for label in labels if label.startswith(f"{name} power, n=")]
        assert len(power) == len(cert.power_curve) == 3
        for truth in (finding.estimate, 1.0):
            assert f"stress battery reference, true HR {truth:g}" in labels
        assert labels[f"stress battery ({name})"] == len(cert.stress)
