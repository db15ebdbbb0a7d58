"""Checked argument types for the command line: a bad value is a status-2 usage error.

Each factory returns a function for ``argparse``'s ``type=``; it raises
:class:`argparse.ArgumentTypeError` with what is wrong and how to fix it, which argparse turns
into ``reawaken CMD: error: argument --x: ...`` and exit status 2. One function per kind of
value, shared by every command, instead of checks copied into each command.
"""

from __future__ import annotations

import argparse
import math
import re
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


SEED = integer(0, MAX_SEED, example="--seed 2025", bound=">= 0 (and below 2^63)")
REPS = integer(1, example="--reps 200")
WORKERS = integer(1, 1024, example="--workers 2")
PERSONS = integer(1, example="--n 5000")
CHECKPOINT_HELP = (
    "folder of replicate checkpoints (one file per replicate run, named from its inputs): a "
    "rerun with the same options after an interruption computes only the missing replicates "
    "and gives the same output"
)
