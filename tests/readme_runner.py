"""Run the README's examples and compare their output (used by ``tests/test_readme.py``).

The README is parsed into fenced blocks. An HTML comment right before a block tells the runner
what to do with it (it is invisible on GitHub)::

    <!-- readme-test: run -->          console block: run every "$ command", compare the
                                       lines after it with the command's stdout and stderr
    <!-- readme-test: python -->       python block: exec in one namespace shared by the README's
                                       python blocks, stdout collected
    <!-- readme-test: output -->       text block: the stdout collected since the last output
                                       block
    <!-- readme-test: show -->         shown only (e.g. the set-up commands themselves); the
                                       reason follows the keyword
    <!-- readme-test: slow ... -->     as ``run`` / ``python`` / ``output``, but only under
                                       ``make test-slow`` (``slow run``, ``slow output-of CMD``)
    <!-- readme-test: output-of CMD --> text block: stdout of the command CMD

Options after the keyword: ``mask=REGEX`` (repeatable) replaces what the regex matches by
``<masked>`` in both the shown and the actual output (timings, paths). Every command and python
block runs in one scratch folder, in README order, so a file written by one example is read by
the next. Every fenced block must carry a directive: a new block without one fails the test
(nothing shown goes unchecked by accident).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

DIRECTIVE = re.compile(r"<!--\s*readme-test:\s*(?P<body>.*?)\s*-->")
FENCE = re.compile(r"^```(?P<info>[\w-]*)\s*$")
KINDS = ("run", "python", "output", "output-of", "show")
MASK_TEXT = "<masked>"


@dataclass
class Block:
    """A fenced block with its directive; ``first``/``last`` are 0-based line numbers of the
    block's content in the README."""

    info: str
    lines: list[str]
    first: int
    last: int
    kind: str | None
    slow: bool = False
    masks: list[str] = field(default_factory=list)
    argument: str = ""

    @property
    def where(self) -> str:
        return f"README.md line {self.first}"


def _directive(body: str) -> tuple[str, bool, list[str], str]:
    words = shlex.split(body)
    slow = bool(words) and words[0] == "slow"
    words = words[1:] if slow else words
    if not words or words[0] not in KINDS:
        raise ValueError(f"unknown readme-test directive {body!r}; use one of {KINDS}")
    kind, rest = words[0], words[1:]
    masks = [w[5:] for w in rest if w.startswith("mask=")]
    argument = " ".join(w for w in rest if not w.startswith("mask="))
    return kind, slow, masks, argument


def parse(text: str) -> list[Block]:
    """Fenced blocks of ``text`` with the directive of the comment just before each."""
    lines = text.splitlines()
    blocks: list[Block] = []
    pending: tuple[str, bool, list[str], str] | None = None
    i = 0
    while i < len(lines):
        found = DIRECTIVE.search(lines[i])
        fence = FENCE.match(lines[i])
        if found:
            pending = _directive(found.group("body"))
        elif fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            kind, slow, masks, argument = pending or (None, False, [], "")
            blocks.append(
                Block(
                    fence.group("info"), lines[i + 1 : end], i + 1, end, kind, slow, masks, argument
                )
            )
            pending = None
            i = end
        elif lines[i].strip():
            pending = None if not lines[i].startswith("<!--") else pending
        i += 1
    return blocks


@dataclass
class Command:
    """One ``$ command`` of a console block: the command as run, its lines as written in the
    README (with ``\\`` continuations) and the output lines shown after it."""

    command: str
    written: list[str]
    shown: list[str]


def commands(block: Block) -> list[Command]:
    """The commands of a console block, in order."""
    found: list[Command] = []
    lines = iter(block.lines)
    for line in lines:
        if line.startswith("$ "):
            written = [line]
            command = line[2:]
            while command.endswith("\\"):
                written.append(next(lines))
                command = command[:-1].rstrip() + " " + written[-1].strip()
            found.append(Command(command, written, []))
        elif found:
            found[-1].shown.append(line)
    return found


def masked(lines: list[str], masks: list[str]) -> list[str]:
    out = []
    for line in lines:
        for pattern in masks:
            line = re.sub(pattern, MASK_TEXT, line)
        out.append(line.rstrip())
    while out and not out[-1]:
        out.pop()
    return out


def run_command(command: str, cwd: Path, env: dict[str, str]) -> list[str]:
    """stdout then stderr of a shell command, as lines (the exit status is not compared: the
    README shows failing commands too, with their one-line error)."""
    done = subprocess.run(
        command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800
    )
    return (done.stdout + done.stderr).splitlines()


def command_env() -> dict[str, str]:
    """The environment of a README command: ``reawaken`` from this interpreter's folder first on
    PATH (as after ``source .venv/bin/activate``), no progress bars, no colour."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "100"
    return env


def run_python(source: str, namespace: dict, cwd: Path) -> list[str]:
    buffer = io.StringIO()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(source, "<README python block>", "exec"), namespace)
    finally:
        os.chdir(previous)
    return buffer.getvalue().splitlines()


def replace_lines(text: str, first: int, last: int, new: list[str]) -> str:
    """``text`` with lines ``first..last-1`` (0-based) replaced by ``new``."""
    lines = text.splitlines()
    return "\n".join(lines[:first] + new + lines[last:]) + "\n"
