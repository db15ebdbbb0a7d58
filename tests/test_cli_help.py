"""The command line's help is fit for a first-time user, and its examples work.

Every command and subcommand has a description and 1-2 examples; every option has a help text
and shows its default; the top-level help lists every exit status of
:data:`reawaken.errors.EXIT_CODES` (their one definition). Every example line is parsed by the
real parser under the command it documents; the cheap ones are run (in a scratch folder, in the
order the help lists them, so `validate` and `analyze` find the files `simulate` wrote), the
medium ones with small sizes under ``@pytest.mark.slow``, and the long runs (`calibrate`,
`reproduce`, `methods-check`: minutes each at any size that converges) are parsed only.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
from pathlib import Path

import pytest

from reawaken.cli import build_parser, main
from reawaken.cli.parser import HelpFormatter
from reawaken.errors import EXIT_CODES

REPO = Path(__file__).resolve().parents[1]

#: Commands whose examples the default suite runs as written (a few seconds each).
RUN = (
    "scenarios",
    "simulate",
    "validate",
    "analyze",
    "power events",
    "power n",
    "power hr",
    "power achieved",
    "power design",
    "build-cohort",
)
#: Commands whose examples run under ``make test-slow``, with these options appended (the last
#: value of an option wins) to keep each run under a minute.
SMALL = {
    "power simulate": ["--reps", "3", "--n", "3000,4000", "--executor", "serial", "--no-progress"],
    "stress": ["--reps", "2", "--n", "3000", "--executor", "serial", "--no-progress"],
    "truth": ["--cohorts", "2", "--executor", "serial", "--no-progress"],
    "omop write": ["--n", "1500"],
    "omop extract": [],
}
#: ``power simulate --target`` fits a probit curve whose slope must be positive: two far-apart
#: sizes and 30 replicates (power about 0.06 and 0.5: a flat curve has probability < 1e-4).
TARGET_SMALL = ["--reps", "30", "--n", "2000,40000", "--executor", "serial", "--no-progress"]
#: Long runs: parsed only.
PARSE_ONLY = ("calibrate", "reproduce", "methods-check")
#: Command groups: their examples are their subcommands' (run there).
GROUPS = ("power", "omop")


def _parsers(parser: argparse.ArgumentParser, path: str = ""):
    """``(command path, parser)`` of every command and subcommand, in help order."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if path:
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from _parsers(child, f"{path} {name}".strip())


PARSERS = dict(_parsers(build_parser()))


def examples(parser: argparse.ArgumentParser) -> list[str]:
    """The example command lines of a parser's epilog (``\\`` continuations joined)."""
    text = (parser.epilog or "").split("examples:\n", 1)
    lines = text[1].split("\n\n", 1)[0] if len(text) == 2 else ""
    return [" ".join(line.split()) for line in lines.replace("\\\n", " ").splitlines()]


def test_every_command_is_covered_by_one_list():
    assert set(PARSERS) == {*RUN, *SMALL, *PARSE_ONLY, *GROUPS}


@pytest.mark.parametrize("path", PARSERS)
def test_every_command_has_a_description_and_one_or_two_examples(path):
    parser = PARSERS[path]
    assert parser.description and len(parser.description) > 40, path
    lines = examples(parser)
    assert 1 <= len(lines) <= 2, (path, lines)
    for line in lines:
        assert line.startswith(f"reawaken {path} ") or line == f"reawaken {path}", line


@pytest.mark.parametrize("path", PARSERS)
def test_every_option_has_help_and_shows_its_default(path):
    parser = PARSERS[path]
    formatter = HelpFormatter(prog=parser.prog)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            assert all(a.help for a in action._choices_actions), path
            continue
        assert action.help and len(action.help) > 5, (path, action.dest)
        if action.default is not None and action.default is not False:
            text = formatter._expand_help(action)
            assert action.default == argparse.SUPPRESS or "default" in text, (path, text)
    parser.format_help()  # every help string formats (no stray % signs)


def test_every_power_subcommand_says_what_it_solves_for():
    solves = {
        "events": "number of events",
        "n": "number of persons",
        "hr": "minimum detectable hazard ratio",
        "achieved": "power achieved",
    }
    for name, what in solves.items():
        parser = PARSERS[f"power {name}"]
        assert parser.description.startswith(f"Solve for the {what}"), name
    sub = next(a for a in PARSERS["power"]._actions if isinstance(a, argparse._SubParsersAction))
    helps = [a.help for a in sub._choices_actions]
    assert len(set(helps)) == len(helps) == 6  # no two subcommands share a help line


def test_top_level_help_lists_every_exit_status(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {' '.join(meaning.split())}" in out
    for path in PARSERS:
        if " " not in path:
            assert f" {path} " in out, path
    assert "thin subcommands" not in out


def test_reproduce_offers_every_executor_of_the_other_commands():
    def choices(path):
        return next(a.choices for a in PARSERS[path]._actions if a.dest == "executor")

    assert set(choices("reproduce")) == set(choices("stress")) == set(choices("power simulate"))


@pytest.mark.parametrize("path", PARSERS)
def test_every_example_parses_as_the_command_it_documents(path):
    for line in examples(PARSERS[path]):
        args = build_parser().parse_args(shlex.split(line)[1:])
        words = [args.command, *(v for k, v in vars(args).items() if k.endswith("_command"))]
        assert f"{' '.join(words)} ".startswith(f"{path} "), line


def _run(line: str, extra: list[str]) -> int:
    argv = shlex.split(line.replace(" examples/", f" {REPO / 'examples'}/"))[1:]
    return main([*argv, *extra])


def test_cheap_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for path in RUN:
        for line in examples(PARSERS[path]):
            assert _run(line, []) == 0, (line, capsys.readouterr().err[-2000:])
    capsys.readouterr()


@pytest.mark.slow
def test_medium_examples_run_with_small_sizes(tmp_path, monkeypatch, capsys):
    if importlib.util.find_spec("duckdb") is None:
        pytest.skip("omop examples need pip install 'reawaken[omop]'")
    monkeypatch.chdir(tmp_path)
    for path, extra in SMALL.items():
        for line in examples(PARSERS[path]):
            small = TARGET_SMALL if "--target" in line else extra
            assert _run(line, small) == 0, (line, capsys.readouterr().err[-2000:])
