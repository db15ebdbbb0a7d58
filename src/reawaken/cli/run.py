"""Running one command: exit statuses, error messages, crash logs and SIGTERM.

The statuses are :data:`reawaken.errors.EXIT_CODES`. A :class:`~reawaken.errors.ReawakenError`
or an :class:`OSError` is bad input: one line on stderr, or with ``--json`` a strict JSON object
``{"error": ..., "fix": ...}`` on stdout. Any other exception is a bug: its traceback goes to a
fresh log file (``reawaken-crash-*.log`` in the temporary folder, or ``$REAWAKEN_LOG_DIR``)
whose path the one-line message gives; ``REAWAKEN_DEBUG=1`` also prints it. SIGTERM is turned
into :class:`Terminated` while a command runs, so the cleanup of partial output
(:func:`reawaken.outputs.output_directory`, atomic file writes) happens as for Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    CohortError,
    ReawakenError,
    split_fix,
)


class Terminated(BaseException):
    """SIGTERM arrived while a command ran (a BaseException, like KeyboardInterrupt)."""


class UsageError(ReawakenError):
    """A command-line usage error found by argparse (bad option, missing argument).

    ``prog`` is the (sub)command's usage name, e.g. ``"reawaken simulate"``."""

    def __init__(self, message: str, prog: str = "reawaken") -> None:
        super().__init__(message)
        self.prog = prog


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_exception() -> Iterator[None]:
    """While the block runs, SIGTERM raises :class:`Terminated` (main thread only); the
    previous handler is restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def error_payload(exc: BaseException, command: str) -> dict[str, object]:
    """``{"error": what, "fix": how}`` (plus ``problems`` for a cohort's problem list); a
    message without a fix part gets a pointer to the command's help."""
    if isinstance(exc, CohortError) and len(exc.problems) > 1:
        what, fix = split_fix(exc.problems[0])
        return {"error": what, "fix": fix, "problems": list(exc.problems[1:])}
    what, fix = split_fix(" ".join(str(exc).split()) or type(exc).__name__)
    prog = exc.prog if isinstance(exc, UsageError) else f"reawaken {command}".strip()
    return {"error": what, "fix": fix or f"see `{prog} --help`"}


def _os_message(exc: OSError) -> str:
    where = f" {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}:{where}; fix: check the path and its permissions"


def write_crash_log(command: str, exc: BaseException) -> Path | None:
    """Write the traceback of ``exc`` to a new log file; None if no file could be written."""
    folder = os.environ.get("REAWAKEN_LOG_DIR") or tempfile.gettempdir()
    text = "".join(traceback.format_exception(exc))
    try:
        fd, name = tempfile.mkstemp(prefix="reawaken-crash-", suffix=".log", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"reawaken {command} {' '.join(sys.argv[1:])}\n{text}")
    except OSError:
        return None
    return Path(name)


def report_bad_input(command: str, exc: BaseException, as_json: bool) -> int:
    """Print a bad-input error (text on stderr, or JSON on stdout) and return status 2."""
    if isinstance(exc, OSError):
        exc = ReawakenError(_os_message(exc))
    if as_json:
        from ..outputs import dumps_json

        print(dumps_json(error_payload(exc, command)))
        return EXIT_BAD_INPUT
    lines = str(exc).splitlines() or [type(exc).__name__]
    if isinstance(exc, UsageError):
        print(f"{exc.prog}: error: {lines[0]} (see --help)", file=sys.stderr)
    else:
        print(f"reawaken {command}: error: {lines[0]}", file=sys.stderr)
    for line in lines[1:]:
        print(f"  {line}", file=sys.stderr)
    return EXIT_BAD_INPUT


def report_internal(command: str, exc: BaseException, as_json: bool) -> int:
    """Log the traceback of a bug, print one line pointing at the log, return status 70."""
    log = write_crash_log(command, exc)
    if os.environ.get("REAWAKEN_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    where = f"the traceback is in {log}" if log else "no log file could be written"
    what = f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}"
    fix = f"{where}; please report it with that file (REAWAKEN_DEBUG=1 prints the traceback)"
    if as_json:
        from ..outputs import dumps_json

        print(dumps_json({"error": what, "fix": fix, "log": str(log) if log else None}))
    else:
        print(f"reawaken {command}: {what}; {fix}", file=sys.stderr)
    return EXIT_INTERNAL


def run_command(command: str, func: Callable[[], int], as_json: bool) -> int:
    """Run ``func`` and map its outcome to an exit status (see module docstring)."""
    try:
        with sigterm_as_exception():
            return int(func())
    except (ReawakenError, OSError) as exc:
        return report_bad_input(command, exc, as_json)
    except KeyboardInterrupt:
        print(f"reawaken {command}: interrupted; partial output removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print(f"reawaken {command}: terminated; partial output removed", file=sys.stderr)
        return EXIT_TERMINATED
    except Exception as exc:
        return report_internal(command, exc, as_json)
