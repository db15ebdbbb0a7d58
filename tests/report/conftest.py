"""A small real reproduction report, built once per session, with what its progress bars wrote.

Both shipped findings go through :func:`build_certificate` and :func:`write_report` with tiny
replicate counts (4 replicates, 2 per power point, one stress mechanism on cohorts of a few
thousand), in this process, with ``progress=True`` and stderr replaced by a stream that says it
is a terminal, so the bars the command line would show are captured as text.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from reawaken.certificate import build_certificate
from reawaken.findings import list_findings
from reawaken.report.certificate_record import Certificate
from reawaken.report.document import write_report

SEED = 20250730
REPS = 4


class TerminalStream(io.StringIO):
    """A text stream that reports itself as a terminal (tqdm draws bars only on terminals)."""

    def isatty(self) -> bool:
        return True


@dataclass(frozen=True)
class SmallReport:
    folder: Path
    certificates: list[Certificate]
    stderr: str


@pytest.fixture(scope="session")
def small_report(tmp_path_factory) -> SmallReport:
    folder = tmp_path_factory.mktemp("report")
    stream = TerminalStream()
    stress = {"mechanisms": ["death_misattribution"], "n": 3000}
    with contextlib.redirect_stderr(stream):
        certificates = [
            build_certificate(
                name, reps=REPS, seed=SEED, power_reps=2, stress_reps=2, executor="serial",
                progress=True, stress_options=stress,
            )
            for name in list_findings()
        ]
        write_report(certificates, folder, seed=SEED, reps=REPS, progress=True)
    return SmallReport(folder, certificates, stream.getvalue())
