"""Exception hierarchy for reawaken.

Every error raised on purpose by reawaken derives from :class:`ReawakenError`, so callers can
catch the whole family with one ``except`` clause. The concrete classes also derive from
:class:`ValueError`, because each one reports a bad *value* (a bad table, file, scenario or data
set for an analysis), so code written against plain ``ValueError`` keeps working; the one
exception is :class:`ArgumentError` (a wrong *type*), which derives from :class:`TypeError`.

::

    ReawakenError(Exception)
    ├── CohortError(ReawakenError, ValueError)      bad cohort content (columns, times, codes)
    ├── InputFileError(ReawakenError, ValueError)   file missing, unreadable, malformed, wrong type
    ├── ScenarioError(ReawakenError, ValueError)    invalid scenario specification
    ├── AnalysisError(ReawakenError, ValueError)    data cannot support the analysis
    │                                               (no events, one arm empty, separation, ...)
    └── ArgumentError(ReawakenError, TypeError)     a public function got an argument of the
                                                    wrong type (the message names the argument)

House rule for messages: every message says **what is wrong** and **how to fix it**, in the form
``"<what is wrong>; fix: <what to do>"``. :class:`CohortError` carries one such line per problem
in :attr:`CohortError.problems`, so that a user sees every problem of a table at once instead of
fixing them one run at a time.

Exit statuses of the ``reawaken`` command are defined once, in :data:`EXIT_CODES` (shown by
``reawaken --help``). Bad input (any :class:`ReawakenError`, a bad path or a bad option) exits
with :data:`EXIT_BAD_INPUT` after one line on stderr, or ``{"error": ..., "fix": ...}`` on
stdout with ``--json``. Anything else is a bug: :data:`EXIT_INTERNAL` (``EX_SOFTWARE`` of BSD
``sysexits.h``), with the traceback written to a log file the message names
(``REAWAKEN_DEBUG=1`` also prints it). Status 1 is kept for "ran fine, but a reproduction
certificate is out of tolerance".
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CODES",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_OUT_OF_TOLERANCE",
    "EXIT_TERMINATED",
    "AnalysisError",
    "ArgumentError",
    "CohortError",
    "InputFileError",
    "ReawakenError",
    "ScenarioError",
    "split_fix",
]

EXIT_OK = 0
EXIT_OUT_OF_TOLERANCE = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143
#: Exit status -> meaning; the one list of the command's exit statuses (see the module docstring).
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_OUT_OF_TOLERANCE: "reproduce: a certificate is out of tolerance (the run worked)",
    EXIT_BAD_INPUT: "bad input: one line says what is wrong and how to fix it (with --json: "
    '{"error": ..., "fix": ...} on stdout); nothing is written',
    EXIT_INTERNAL: "internal error (a bug in reawaken): the traceback is written to a log file "
    "named in the message; REAWAKEN_DEBUG=1 also prints it",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); partial output is removed",
    EXIT_TERMINATED: "terminated (SIGTERM); partial output is removed",
}
_FIX = "; fix: "


class ReawakenError(Exception):
    """Base class of every error raised on purpose by reawaken."""


class CohortError(ReawakenError, ValueError):
    """A cohort table breaks the data contract of :mod:`reawaken.schema`.

    Parameters
    ----------
    problems : str or iterable of str
        One line per problem, each saying what is wrong (with a count of the bad rows and example
        ids) and how to fix it. A single string is treated as one problem.

    Attributes
    ----------
    problems : tuple of str
        The problems, in the order they were found. ``str(error)`` is these lines joined by
        newlines.
    """

    problems: tuple[str, ...]

    def __init__(self, problems: str | Iterable[str]) -> None:
        if isinstance(problems, str):
            problems = (problems,)
        self.problems = tuple(str(p) for p in problems)
        super().__init__("\n".join(self.problems))

    def __reduce__(self) -> tuple[type[CohortError], tuple[tuple[str, ...]]]:
        """Pickle support, so the error survives a trip through a process pool."""
        return (type(self), (self.problems,))


class InputFileError(ReawakenError, ValueError):
    """An input or output file is missing, unreadable, malformed or of an unsupported type."""


class ScenarioError(ReawakenError, ValueError):
    """A scenario specification is invalid (unknown key, out-of-range parameter, ...)."""


class AnalysisError(ReawakenError, ValueError):
    """The data cannot support the requested analysis (no events, one arm empty, ...)."""


class ArgumentError(ReawakenError, TypeError):
    """A public function got an argument of the wrong type; the message names the argument.

    Also a :class:`TypeError`, so code written against Python's convention keeps working.
    """


def split_fix(message: str) -> tuple[str, str]:
    """Split a message of the house form ``"<what is wrong>; fix: <what to do>"``.

    Parameters
    ----------
    message : str
        An error message; only its first ``"; fix: "`` separates the two parts.

    Returns
    -------
    tuple of str
        ``(what, fix)``; ``fix`` is ``""`` when the message has no fix part.
    """
    what, sep, fix = message.partition(_FIX)
    return (what, fix) if sep else (message, "")
