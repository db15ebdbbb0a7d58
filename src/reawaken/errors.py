"""Exception hierarchy for reawaken.

Every error raised on purpose by reawaken derives from :class:`ReawakenError`, so callers can
catch the whole family with one ``except`` clause. The concrete classes also derive from
:class:`ValueError`, because each one reports a bad *value* (a bad table, file, scenario or data
set for an analysis), so code written against plain ``ValueError`` keeps working.

::

    ReawakenError(Exception)
    ├── CohortError(ReawakenError, ValueError)      bad cohort content (columns, times, codes)
    ├── InputFileError(ReawakenError, ValueError)   file missing, unreadable, malformed, wrong type
    ├── ScenarioError(ReawakenError, ValueError)    invalid scenario specification
    └── AnalysisError(ReawakenError, ValueError)    data cannot support the analysis
                                                    (no events, one arm empty, ...)

House rule for messages: every message says **what is wrong** and **how to fix it**, in the form
``"<what is wrong>; fix: <what to do>"``. :class:`CohortError` carries one such line per problem
in :attr:`CohortError.problems`, so that a user sees every problem of a table at once instead of
fixing them one run at a time.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AnalysisError",
    "CohortError",
    "InputFileError",
    "ReawakenError",
    "ScenarioError",
]


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
