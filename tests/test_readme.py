"""Every command and Python block of README.md runs here and its shown output is compared.

The README's blocks run in order in one scratch folder (:mod:`readme_runner` explains the
``<!-- readme-test: ... -->`` directives). Volatile parts (timings, temporary paths) are masked
by the directive of their block, never by the test. The expensive blocks (the 5-minute
``make reproduce`` certificate, the 6-minute UK Biobank calibration) run under ``make
test-slow``; everything else runs in ``make test``.

When an intended change alters an output, refresh the README from a real run with
``REAWAKEN_README_UPDATE=1 .venv/bin/python -m pytest tests/test_readme.py`` (add ``-m ''`` to
include the slow blocks) and review the diff.
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

import readme_runner as rr

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = rr.parse(README.read_text(encoding="utf-8"))
UPDATE = os.environ.get("REAWAKEN_README_UPDATE") == "1"


class State:
    """What the README's blocks share: the scratch folder, the Python namespace, the stdout of
    the python blocks since the last output block, and the replacements of an update run."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.namespace: dict = {"__name__": "__readme__"}
        self.pending: list[str] = []
        self.updates: list[tuple[int, int, list[str]]] = []
        self.env = rr.command_env()


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    s = State(tmp_path_factory.mktemp("readme"))
    shutil.copytree(README.parent / "examples", s.cwd / "examples")  # as run from the clone
    yield s
    if UPDATE and s.updates:
        text = README.read_text(encoding="utf-8")
        for first, last, new in sorted(s.updates, reverse=True):
            text = rr.replace_lines(text, first, last, new)
        README.write_text(text, encoding="utf-8")


def _compare(block: rr.Block, shown: list[str], actual: list[str], what: str) -> None:
    expected, got = rr.masked(shown, block.masks), rr.masked(actual, block.masks)
    if expected != got:
        diff = "\n".join(difflib.unified_diff(expected, got, "README", "actual", lineterm=""))
        pytest.fail(
            f"{block.where}: {what} differs from the README (refresh with "
            f"REAWAKEN_README_UPDATE=1 if the change is intended):\n{diff}"
        )


def _params():
    for block in BLOCKS:
        marks = [pytest.mark.slow] if block.slow else []
        yield pytest.param(block, id=f"line{block.first}-{block.kind}", marks=marks)


def test_every_block_has_a_directive():
    missing = [b.where for b in BLOCKS if b.kind is None]
    assert not missing, (
        f"blocks without a <!-- readme-test: ... --> directive: {missing}; say how each is "
        "checked (run, python, output, output-of CMD) or why it is only shown (show REASON)"
    )


def test_shown_blocks_say_why():
    bare = [b.where for b in BLOCKS if b.kind == "show" and not b.argument]
    assert not bare, f"show directives without a reason: {bare}"


@pytest.mark.parametrize("block", list(_params()))
def test_readme_block(block: rr.Block, state: State) -> None:
    if block.kind in (None, "show"):
        pytest.skip(f"{block.where}: shown only ({block.argument or 'no directive'})")
    if block.kind == "python":
        state.pending += rr.run_python("\n".join(block.lines), state.namespace, state.cwd)
        return
    if block.kind == "output":
        actual, state.pending = state.pending, []
        if UPDATE:
            state.updates.append((block.first, block.last, actual))
        _compare(block, block.lines, actual, "the output of the python blocks above")
        return
    if block.kind == "output-of":
        actual = rr.run_command(block.argument, state.cwd, state.env)
        if UPDATE:
            state.updates.append((block.first, block.last, actual))
        _compare(block, block.lines, actual, f"the output of `{block.argument}`")
        return
    new_lines: list[str] = []
    failures = []
    previous: rr.Command | None = None
    for cmd in rr.commands(block):
        actual = rr.run_command(cmd.command, state.cwd, state.env)
        gap = [""] if previous is not None and previous.shown[-1:] == [""] else []
        new_lines += gap + cmd.written + actual
        previous = cmd
        if rr.masked(cmd.shown, block.masks) != rr.masked(actual, block.masks):
            failures.append((cmd, actual))
    if UPDATE:
        state.updates.append((block.first, block.last, new_lines))
    for cmd, actual in failures:
        _compare(block, cmd.shown, actual, f"the output of `{cmd.command}`")
