"""The ``reawaken`` command: subcommands over the public API, for a first-time user.

Every command has ``--help`` with what it does, every option with its default, and examples;
every command that prints results takes ``--json`` (strict JSON: NaN is ``null``). Bad input
exits with status 2 and one line on stderr saying what is wrong and how to fix it (with
``--json``: ``{"error": ..., "fix": ...}`` on stdout); the exit statuses are
:data:`reawaken.errors.EXIT_CODES`, shown by ``reawaken --help`` (see :mod:`reawaken.cli.run`).
Output folders are written whole or not at all (:func:`reawaken.outputs.output_directory`).

Layout: :mod:`~reawaken.cli.parser` builds the parser (without importing NumPy and the
analysis stack, so start-up is quick), :mod:`~reawaken.cli.args` holds the checked argument
types and shared options, :mod:`~reawaken.cli.run` maps outcomes to exit statuses, and one
module per command group holds its ``cmd_*`` handler and ``add_*_parser``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .parser import build_parser
from .run import UsageError, report_bad_input, run_command

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``reawaken`` console script; returns the exit status
    (:data:`reawaken.errors.EXIT_CODES`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        command = next((a for a in argv if not a.startswith("-")), "")
        return report_bad_input(command, exc, as_json)
    sub = [str(v) for k, v in vars(args).items() if k.endswith("_command") and v]
    return run_command(" ".join([args.command, *sub]), lambda: args.func(args), as_json)
