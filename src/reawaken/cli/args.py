"""Checked argument types and shared options for the command line.

Each type factory returns a function for ``argparse``'s ``type=``; it raises
:class:`argparse.ArgumentTypeError` with what is wrong and how to fix it, which argparse turns
into ``reawaken CMD: error: argument --x: ...`` and exit status 2. One function per kind of
value, shared by every command, instead of checks copied into each command. The ``add_*``
functions add the options several commands share (``--json``, ``--seed``, ``--executor``, ...)
with one wording; :func:`examples` formats a command's examples for its help epilog.

Nothing here imports NumPy, pandas or the analysis modules: the parser is built at every
start-up, and ``reawaken --help`` must stay quick.
"""

from __future__ import annotations

import argparse
import math
import re
import textwrap
from collections.abc import Callable

#: Largest seed accepted: NumPy's SeedSequence takes any non-negative integer, but seeds are
#: written to tables and TOML files, whose integers are 64-bit.
MAX_SEED = 2**63 - 1
#: A Dask scheduler address: ``protocol://host:port`` (tcp, tls, ucx, ws, wss, inproc).
_SCHEDULER = re.compile(r"^(tcp|tls|ucx|ws|wss|inproc)://[^\s/:]+(:\d{1,5})?/?$")


def _whole(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value != int(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
    return int(value)


def integer(
    lo: int, hi: int | None = None, *, example: str, bound: str | None = None
) -> Callable[[str], int]:
    """A whole number in ``[lo, hi]`` (``1e3`` is accepted as 1000, ``1.5`` is not); ``bound``
    replaces the range in the message."""

    def parse(text: str) -> int:
        try:
            value = _whole(text)
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{exc}; fix: pass e.g. {example}") from None
        if value < lo or (hi is not None and value > hi):
            between = f"between {lo} and {hi:,}" if hi is not None else f">= {lo}"
            raise argparse.ArgumentTypeError(
                f"must be a whole number {bound or between}, got {text}; fix: pass e.g. {example}"
            )
        return value

    return parse


def number(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    example: str,
) -> Callable[[str], float]:
    """A finite number in the given (closed or open) interval."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a number; fix: pass e.g. {example}"
            ) from None
        too_low = lo is not None and (value < lo or (lo_open and value == lo))
        too_high = hi is not None and (value > hi or (hi_open and value == hi))
        if not math.isfinite(value) or too_low or too_high:
            raise argparse.ArgumentTypeError(
                f"must be a finite number{_interval(lo, hi, lo_open, hi_open)}, got {text}; "
                f"fix: pass e.g. {example}"
            )
        return value

    return parse


def _interval(lo, hi, lo_open, hi_open) -> str:
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" {'>' if lo_open else '>='} {lo:g}"
    if lo is None:
        return f" {'<' if hi_open else '<='} {hi:g}"
    return f" in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"


def number_list(item: Callable[[str], float | int], example: str) -> Callable[[str], list]:
    """Comma-separated values, each checked by ``item``; at least one."""

    def parse(text: str) -> list:
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise argparse.ArgumentTypeError(f"no values in {text!r}; fix: pass e.g. {example}")
        out = []
        for part in parts:
            try:
                out.append(item(part))
            except argparse.ArgumentTypeError as exc:
                raise argparse.ArgumentTypeError(f"value {part!r}: {exc}") from None
        return out

    return parse


def scheduler(text: str) -> str:
    """A Dask scheduler address such as ``tcp://10.0.0.5:8786``."""
    if not _SCHEDULER.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a Dask scheduler address; fix: pass protocol://host:port, "
            "e.g. tcp://127.0.0.1:8786"
        )
    return text


def text_line(what: str) -> Callable[[str], str]:
    """A non-empty string without control characters (newlines, tabs, NUL, ...)."""

    def parse(text: str) -> str:
        if not text.strip() or any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise argparse.ArgumentTypeError(
                f"{what} {text!r} is empty or contains a control character (newline, tab, ...); "
                "fix: pass one line of plain text"
            )
        return text

    return parse


#: The type of ``parser.add_subparsers()``, which each command's ``add_*_parser`` extends.
Subparsers = argparse._SubParsersAction

SEED = integer(0, MAX_SEED, example="--seed 2025", bound=">= 0 (and below 2^63)")
REPS = integer(1, example="--reps 200")
WORKERS = integer(1, 1024, example="--workers 2")
PERSONS = integer(1, example="--n 5000")
CHECKPOINT_HELP = (
    "folder of replicate checkpoints (one file per replicate run, named from its inputs): a "
    "rerun with the same options after an interruption computes only the missing replicates "
    "and gives the same output"
)


#: What each executor is; ``dask`` needs ``pip install 'reawaken[dask]'``.
EXECUTORS = {
    "processes": "worker processes on this machine",
    "serial": "one process, for debugging",
    "dask": "a Dask cluster: --scheduler ADDRESS, or a local one",
}


def add_json(p: argparse.ArgumentParser) -> None:
    """``--json``: strict JSON on stdout instead of text."""
    p.add_argument(
        "--json", action="store_true", help="print JSON instead of text (strict: NaN is null)"
    )


def add_overwrite(p: argparse.ArgumentParser) -> None:
    """``--overwrite`` of the commands that write an output folder."""
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out folder (default: refuse)",
    )


def add_progress(p: argparse.ArgumentParser) -> None:
    """``--no-progress``: no progress bars on stderr."""
    p.add_argument("--no-progress", action="store_true", help="never show progress bars")


def add_seed(p: argparse.ArgumentParser, default: int, what: str = "root random seed") -> None:
    """``--seed``: a non-negative integer below 2^63; the same seed gives the same output."""
    p.add_argument("--seed", type=SEED, default=default, help=f"{what}; same seed, same output")


def add_checkpoint(p: argparse.ArgumentParser) -> None:
    """``--checkpoint DIR``: resume an interrupted replicate run."""
    p.add_argument("--checkpoint", metavar="DIR", help=CHECKPOINT_HELP)


def add_executor(
    p: argparse.ArgumentParser,
    choices: tuple[str, ...] = ("processes", "serial", "dask"),
    *,
    workers: bool = True,
    dask_scheduler: bool = False,
) -> None:
    """``--executor`` (and ``--workers``, ``--scheduler``) of the commands that run replicates."""
    each = [f"{name} ({EXECUTORS[name]})" for name in choices]
    text = f"where replicates run: {', '.join(each[:-1])} or {each[-1]}"
    p.add_argument("--executor", choices=choices, default="processes", help=text)
    if workers:
        p.add_argument(
            "--workers",
            type=WORKERS,
            help="worker processes of --executor processes (default: all cores)",
        )
    if dask_scheduler:
        p.add_argument(
            "--scheduler",
            type=scheduler,
            help="address of a running Dask scheduler, e.g. tcp://HOST:8786 (needs --executor "
            "dask; default: start a local cluster)",
        )


def examples(*lines: str) -> str:
    """A help epilog listing example command lines (each is run or parsed by a test); a long
    line continues on the next with a shell ``\\``, so it can still be pasted whole."""
    shown = [
        " \\\n  ".join(textwrap.wrap(line, 72, subsequent_indent="    ", break_on_hyphens=False))
        for line in lines
    ]
    return "examples:\n" + "\n".join(f"  {line}" for line in shown)
