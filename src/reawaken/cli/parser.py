"""The ``reawaken`` argument parser: the top-level help, its formatter and the commands.

Building the parser imports no NumPy, pandas, SciPy, lifelines, statsmodels or matplotlib
(each command imports what it needs when it runs), so ``reawaken --help`` answers at once; a
test checks this with ``python -X importtime``. The exit statuses in the top-level help are
:data:`reawaken.errors.EXIT_CODES`, their one definition.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from ..errors import EXIT_CODES
from .analyze import add_analyze_parser
from .build_cohort import add_build_cohort_parser
from .calibrate import add_calibrate_parser
from .cohort import add_scenarios_parser, add_simulate_parser, add_validate_parser
from .methods import add_methods_check_parser, add_truth_parser
from .omop import add_omop_parser
from .power import add_power_parser
from .reproduce import add_reproduce_parser
from .run import UsageError
from .stress import add_stress_parser

DESCRIPTION = """\
reawaken simulates cohorts that mirror two published findings that a SARS-CoV-2 infection
awakens dormant cancer (UK Biobank: matched OR 1.85 for cancer death after a positive test;
Flatiron Health: HR 1.44 for lung metastasis after COVID-19), analyses simulated or your own
cohorts with matched-control Cox, conditional-logistic and Kaplan-Meier methods, and shows
what study size and which biases do to such findings.

New here? List the scenarios, simulate one, analyze it; `reawaken reproduce` checks both
findings end to end. Every command has --help with examples; `--json` prints strict JSON."""

START_HERE = (
    "reawaken scenarios",
    "reawaken simulate --scenario flatiron_lung_mets --n 5000 --out cohort.parquet",
    "reawaken analyze cohort.parquet --design time_varying_cox --out results",
)

#: The commands in the order ``reawaken --help`` lists them.
COMMANDS = (
    add_scenarios_parser,
    add_simulate_parser,
    add_validate_parser,
    add_analyze_parser,
    add_power_parser,
    add_stress_parser,
    add_calibrate_parser,
    add_reproduce_parser,
    add_build_cohort_parser,
    add_omop_parser,
    add_truth_parser,
    add_methods_check_parser,
)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the line breaks of descriptions and epilogs (examples, exit statuses) and appends
    ``(default: X)`` to an option's help unless the default is ``None``/``False`` or the help
    already states it."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        kwargs.setdefault("max_help_position", 32)  # room for `methods-check` and its help
        super().__init__(prog, **kwargs)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        """Wrap prose paragraphs; keep indented blocks (examples, exit statuses) as written."""
        blocks = []
        for block in text.split("\n\n"):
            lines = block.splitlines()
            if any(line.startswith(" ") for line in lines) or block.rstrip().endswith(":"):
                blocks.append("\n".join(indent + line for line in lines))
            else:
                blocks.append(
                    textwrap.fill(
                        " ".join(block.split()),
                        width,
                        initial_indent=indent,
                        subsequent_indent=indent,
                    )
                )
        return "\n\n".join(blocks)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default is None or action.default is False or "(default" in text:
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse whose errors raise :class:`~reawaken.cli.run.UsageError` (exit status 2,
    one line, or JSON with ``--json``) and whose help uses :class:`HelpFormatter`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, self.prog)


class _Version(argparse.Action):
    """``--version``: reads the installed version only when asked (package metadata)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "print the version and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from .. import __version__

        print(f"reawaken {__version__}")
        parser.exit()


def epilog() -> str:
    """The top-level epilog: first commands to try and the exit statuses."""
    start = "\n".join(f"  {line}" for line in START_HERE)
    codes = "\n".join(
        textwrap.fill(f"{code:>3}  {meaning}", 78, initial_indent="  ", subsequent_indent=" " * 7)
        for code, meaning in EXIT_CODES.items()
    )
    return f"start here:\n{start}\n\nexit status:\n{codes}"


def build_parser() -> argparse.ArgumentParser:
    """The full ``reawaken`` parser: every command and option, with help and examples."""
    parser = Parser(prog="reawaken", description=DESCRIPTION, epilog=epilog())
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser, title="commands", metavar="COMMAND"
    )
    for add in COMMANDS:
        add(sub)
    return parser
