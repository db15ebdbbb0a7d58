"""Start-up: ``import reawaken`` and building the command-line parser load no heavy library.

The checks are structural (which modules a fresh interpreter imports, read from
``python -X importtime``), not timings; tests/benchmarks/test_bench_startup.py prints the
wall times. Also checked here: the lazy public API behaves like the eager one did (every name,
``dir``, names shared with their own submodule), the version comes from the package metadata,
no matplotlib backend is switched, and the light copies of library defaults the parser shows
equal their owners.
"""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import reawaken
from reawaken.cli import defaults

#: Libraries a start-up must not import (each costs 0.1-1 s).
HEAVY = ("numpy", "pandas", "scipy", "lifelines", "statsmodels", "matplotlib", "pyarrow")
INIT = Path(reawaken.__file__)


def _imported(code: str) -> set[str]:
    """Top-level names of every module a fresh interpreter imports to run ``code``."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    names = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "reawaken" in names  # the parse found the import lines
    return names


@pytest.mark.parametrize(
    "code",
    [
        "import reawaken",
        "import reawaken; reawaken.ReawakenError; dir(reawaken)",
        # the console script's work for `reawaken --help` and every subcommand's help
        "from reawaken.cli import build_parser; build_parser().format_help()",
        "import sys; from reawaken.cli import main; sys.argv = ['reawaken', '--help']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0",
        "import sys; from reawaken.cli import main; sys.argv = ['reawaken', 'power', 'simulate',"
        " '--help']\ntry:\n    main()\nexcept SystemExit as e:\n    assert e.code == 0",
    ],
)
def test_start_up_imports_no_heavy_library(code):
    heavy = set(HEAVY) & _imported(code)
    assert not heavy, f"{code!r} imported {sorted(heavy)}"


def test_a_public_name_loads_what_it_needs():
    assert {"numpy", "pandas"} <= _imported("import reawaken; reawaken.simulate_cohort")


def test_version_comes_from_the_package_metadata(capsys):
    from reawaken.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    installed = importlib.metadata.version("reawaken")
    assert capsys.readouterr().out == f"reawaken {installed}\n"
    assert reawaken.__version__ == installed


def _type_checking_imports() -> dict[str, tuple[str, ...]]:
    """``module -> names`` of the ``if TYPE_CHECKING:`` block of reawaken/__init__.py."""
    tree = ast.parse(INIT.read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.dump(n))
    return {
        "." + node.module: tuple(a.name for a in node.names)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
    }


def test_lazy_table_matches_the_type_checking_imports_and_all():
    assert _type_checking_imports() == reawaken._EXPORTS
    names = [n for names in reawaken._EXPORTS.values() for n in names]
    assert sorted([*names, "__version__"]) == sorted(reawaken.__all__)
    assert set(reawaken.__all__) <= set(dir(reawaken))


def test_every_public_name_resolves_to_its_home_module():
    for module, names in reawaken._EXPORTS.items():
        for name in names:
            value = getattr(reawaken, name)
            home = sys.modules[f"reawaken{module}"]
            assert value is getattr(home, name), name
    with pytest.raises(AttributeError, match="no_such_name"):
        reawaken.no_such_name  # noqa: B018


def test_names_shared_with_their_submodule_stay_functions():
    # Importing reawaken.performance binds the submodule on the package: the public name
    # must stay the function, as when __init__ imported it eagerly.
    code = (
        "import types, reawaken.performance, reawaken.methods_check, reawaken as rw\n"
        "from reawaken import performance\n"
        "assert not isinstance(rw.performance, types.ModuleType), rw.performance\n"
        "assert not isinstance(rw.methods_check, types.ModuleType), rw.methods_check\n"
        "assert performance is rw.performance and callable(rw.methods_check)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_checked_functions_still_check_after_lazy_loading():
    from reawaken.errors import ArgumentError

    with pytest.raises(ArgumentError, match="'rng'"):
        reawaken.simulate_cohort(reawaken.load_scenario("flatiron_lung_mets"), rng=3)


def test_no_matplotlib_backend_is_switched():
    code = (
        "import matplotlib; matplotlib.use('svg')\n"
        "import reawaken.report.figures, reawaken.report.power_plots\n"
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_help_defaults_equal_their_owners():
    from reawaken import calibration, schema, truth
    from reawaken.sensitivity.stress import MECHANISMS
    from reawaken.simulate.cohort import DEFAULT_SEED

    assert defaults.DEFAULT_SEED == DEFAULT_SEED
    assert defaults.EVENT == schema.EVENT
    assert defaults.TRUTH_SEED == truth.TRUTH_SEED
    assert defaults.TRUTH_COHORTS == truth.DEFAULT_COHORTS
    assert defaults.TRUTH_MULTIPLIER == truth.DEFAULT_MULTIPLIER
    assert defaults.TRUTH_VERSIONS == truth.VERSIONS
    assert defaults.SE_TARGETS == calibration.SE_TARGETS
    assert defaults.DEFAULT_SE_TARGET == calibration.DEFAULT_SE_TARGET
    assert defaults.DEFAULT_TEMPLATE == calibration.DEFAULT_TEMPLATE
    assert defaults.MECHANISMS == tuple(MECHANISMS)
