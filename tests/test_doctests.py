"""Every public function of ``reawaken.__all__`` has a numpydoc ``Examples`` section, and its
examples run as doctests (ELLIPSIS and NORMALIZE_WHITESPACE on).

Each example is self-contained (it imports what it uses), cheap (small cohorts, few replicates,
fixed seeds) and prints stable output: closed forms (power formulas, design analysis), published
data (lifelines' Rossi recidivism data) or the structure of a result. The examples of the two
slowest functions (a calibration and a sample-size search, about 10 and 4 s) run under
``make test-slow``.
"""

from __future__ import annotations

import doctest
import inspect
import io

import pytest

import reawaken

SLOW = {"calibrate_to_finding", "sample_size_for_power"}
FUNCTIONS = sorted(n for n in reawaken.__all__ if inspect.isfunction(getattr(reawaken, n)))


def _doctests(name: str) -> list[doctest.DocTest]:
    obj = getattr(reawaken, name)
    finder = doctest.DocTestFinder(recurse=False)
    return [t for t in finder.find(obj, f"reawaken.{name}", globs={}) if t.examples]


def test_public_functions_are_found():
    assert len(FUNCTIONS) > 40 and "fit_cox" in FUNCTIONS


@pytest.mark.parametrize("name", FUNCTIONS)
def test_public_function_has_an_examples_section(name: str):
    doc = inspect.getdoc(getattr(reawaken, name)) or ""
    assert "\nExamples\n--------\n" in doc, f"rw.{name} has no numpydoc Examples section"
    assert _doctests(name), f"rw.{name}: its Examples section has no >>> example"


def test_a_wrong_example_fails():
    def broken():
        """Examples
        --------
        >>> 1 + 1
        3
        """

    test = doctest.DocTestFinder().find(broken, "broken", globs={})[0]
    runner = doctest.DocTestRunner()
    runner.run(test, out=io.StringIO().write)
    assert runner.failures == 1


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in FUNCTIONS]
)
def test_examples_run(name: str, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing an example writes lands in the repository
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in _doctests(name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, f"rw.{name}: failing examples\n{report.getvalue()}"
