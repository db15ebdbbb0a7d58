"""``reawaken reproduce`` as a user runs it on a terminal (a pseudo-terminal here): every
progress bar carries a label, no phase of more than a few seconds runs without a bar, and the
report it writes renders in headless Chromium with every image loaded and no text clipped
(screenshot kept in ``build/test-artifacts/reproduce.png``). Slow: a few minutes on 2 cores."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from report_checks import BAR, CHROMIUM, bars, render

ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
#: Longest stretch without output outside a bar (phases over ~2 s must show a bar; the slack
#: covers a loaded shared machine).
MAX_SILENT_SECONDS = 10.0


def _run_on_terminal(argv: list[str]) -> tuple[int, list[tuple[float, str]]]:
    """Run ``argv`` with stdin/stdout/stderr on a 160-column pseudo-terminal; ``(status,
    [(seconds since start, text), ...])``."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append((time.monotonic() - start, data.decode("utf-8", "replace")))
    os.close(master)
    return proc.wait(timeout=60), chunks


def _silent_stretches(chunks: list[tuple[float, str]]) -> list[tuple[float, float]]:
    """``(from, to)`` of every stretch between two outputs when no bar was open: an open bar
    is one whose last drawn state is below its total."""
    stretches, last, open_bar = [], 0.0, False
    for t, text in chunks:
        if not open_bar and t - last > MAX_SILENT_SECONDS:
            stretches.append((round(last, 1), round(t, 1)))
        for piece in re.split(r"[\r\n]+", text):
            m = BAR.match(piece.strip())
            if m is not None:
                open_bar = int(m.group("n")) < int(m.group("total"))
        last = t
    return stretches


@pytest.mark.slow
def test_reproduce_on_a_terminal(tmp_path):
    out = tmp_path / "report"
    command = Path(sys.executable).with_name("reawaken")  # the console script of this venv
    argv = [str(command), "reproduce", "--reps", "8", "--power-reps", "4", "--stress-reps", "2",
            "--out", str(out)]
    status, chunks = _run_on_terminal(argv)
    text = "".join(c for _, c in chunks)
    assert status in (0, 1), text[-3000:]  # 1: out of tolerance with 8 replicates
    found = bars(text)
    assert found and [t for label, t in found if not label] == []
    labels = {label for label, _ in found}
    assert {"writing report", "stress battery (ukb_cancer_mortality)"} <= labels
    assert _silent_stretches(chunks) == []
    if CHROMIUM.exists():
        verdict = render(out / "index.html", tmp_path, ARTIFACTS / "reproduce.png")
        assert verdict["images"] and all(i["loaded"] for i in verdict["images"])
        assert verdict["clipped"] == [] and verdict["empty_cells"] == 0
