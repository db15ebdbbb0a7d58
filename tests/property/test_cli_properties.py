"""Property: whatever arguments a user types, a cheap `reawaken` command either succeeds (exit 0,
strict JSON with --json) or fails with exit 2 and a message that says what is wrong; it never
ends in an internal error, never lets an exception escape and never leaves a file behind when
it fails. Arguments are drawn from each command's own parser (so new options are covered), with
values that are valid, out of range, of the wrong type or hostile (paths outside --out)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from reawaken.cli import build_parser, main
from reawaken.scenario import load_scenario
from reawaken.simulate.cohort import simulate_cohort

#: Commands cheap enough to run dozens of times (sizes are kept small below).
COMMANDS = (
    "scenarios",
    "simulate",
    "validate",
    "analyze",
    "power events",
    "power n",
    "power hr",
    "power achieved",
)
INTS = ["-1", "0", "1", "2", "3", "40", "300", "1.5", "nan", "x", ""]
FLOATS = ["-1", "0", "0.05", "0.5", "0.8", "1", "1.44", "2", "14", "1e9", "nan", "inf", "x"]
TEXT = ["", "age", "age:2,stage", "stage,her2", "a,,b", "x\ny", "../../x", "/tmp", "2020-03-01"]
SCENARIOS = ["ukb_cancer_mortality", "flatiron_lung_mets", "no_such", "/bin/ls", "{dir}", ""]
FILES = ["{cohort}", "{bad_csv}", "{missing}", "{dir}", "/bin/ls"]
OUTS = ["{dir}/out", "{dir}/out.csv", "{dir}/out.parquet", "{dir}", "", "{dir}/a/../../x"]


def _leaf(command: str):
    parser = build_parser()
    for word in command.split():
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = sub.choices[word]
    return parser


#: Plausible values per option, drawn more often than the odd ones so that success paths
#: (output written, strict JSON printed) are exercised too.
VALID = {
    "seed": ["1", "20250730"],
    "n": ["300"],
    "events": ["200"],
    "hr": ["1.44", "0.7"],
    "power": ["0.8"],
    "alpha": ["0.05"],
    "exposed_share": ["0.25"],
    "controls": ["2", "4"],
    "event_probability": ["0.01"],
    "match_on": ["age:5,female", "female"],
    "test_window": ["14"],
    "covariates": ["age,female", "age"],
    "cause": ["1"],
    "origin_date": ["2020-03-01"],
    "scenario": ["ukb_cancer_mortality"],
    "out": ["{dir}/out", "{dir}/out.csv"],
    "file": ["{cohort}"],
    "cohort": ["{cohort}"],
}


def _values(action) -> list[str]:
    name = action.dest
    if action.choices:
        return [*map(str, action.choices), "bogus"]
    if "scenario" in name:
        return SCENARIOS
    if name in ("out",):
        return OUTS
    if name in ("file", "cohort", "spec"):
        return FILES
    if action.type is int:
        return INTS
    if action.type is float:
        return FLOATS
    return [*TEXT, *FLOATS[:4]]


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(COMMANDS))
    argv = command.split()
    for action in _leaf(command)._actions:
        optional = not action.required and bool(action.option_strings)
        if action.dest in ("help", "version") or (optional and draw(st.integers(0, 2)) == 0):
            continue
        if action.nargs == 0:
            argv.append(action.option_strings[0])
            continue
        valid = VALID.get(action.dest)
        if valid and draw(st.integers(0, 3)) > 0:
            value = draw(st.sampled_from(valid))
        else:
            value = draw(st.sampled_from(_values(action)))
        argv += [action.option_strings[0], value] if action.option_strings else [value]
    return argv


def _inputs(folder: Path) -> dict[str, str]:
    cohort = simulate_cohort(load_scenario("ukb_cancer_mortality"), np.random.default_rng(3), n=400)
    path = folder / "cohort.csv"
    cohort.data.to_csv(path, index=False)
    bad = folder / "bad.csv"
    bad.write_text("id,entry_day\n1,-3\n2,x\n")
    return {"cohort": str(path), "bad_csv": str(bad), "missing": str(folder / "missing.csv")}


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


@given(command_lines())
def test_cli_succeeds_or_fails_cleanly(argv):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        work = root / "work"
        work.mkdir()
        names = _inputs(root) | {"dir": str(work)}
        argv = [a.format(**names) for a in argv]
        before = _files(root)
        out, err = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        os.chdir(work)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = main(argv)
                except SystemExit as exc:  # argparse: a usage error (2) or --help (0)
                    code = exc.code
        finally:
            os.chdir(cwd)
        stdout, stderr = out.getvalue(), err.getvalue()
        assert code in (0, 2), f"{argv} exited {code}: {stderr[-2000:]}"
        if "--json" in argv and stdout.strip():
            payload = json.loads(stdout, parse_constant=_reject_constant)
            if code == 2:
                assert "error" in payload
        if code == 2:
            assert stderr.strip() or "--json" in argv, f"{argv}: failed silently"
            assert _files(root) == before, f"{argv} failed but left files behind"


def _reject_constant(name: str):
    raise AssertionError(f"--json printed {name}, which is not JSON")
