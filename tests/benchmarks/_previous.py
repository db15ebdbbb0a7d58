"""The Flatiron replicate as it was before issue 12, for the benchmarks' "previous" figures.

The previous simulator, exposure split and Cox engine are verbatim copies kept beside their
identity tests (``tests/simulate/_simulate_legacy.py``, ``tests/engine/_coxph_legacy.py``);
:func:`previous_code` swaps them into the modules that call them, so ``run_replicates``'
per-replicate code runs the previous implementation; the previous study analysis (design table,
concatenation, full Cox fit with its coefficient table) is :func:`legacy_time_varying_cox_hr`.
:func:`previous_run` feeds a pool as ``run_replicates`` did (fixed chunks of ``ceil(reps /
4k)``, at most 50, the checkpoint rewritten after every chunk), running :func:`previous_chunk`
in worker processes of the pool it is given (whose workers, started by
:func:`reawaken.processes.process_pool`, now keep freed memory and fork with reawaken
imported: the previous figures include those gains). Not part of the package.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import sys
from collections.abc import Iterator
from concurrent.futures import Executor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd

from reawaken import evaluate, schema
from reawaken.analysis.cox import fit_time_varying_cox
from reawaken.design.episodes import EXPOSED
from reawaken.errors import AnalysisError
from reawaken.estimate import Estimate
from reawaken.io import write_table
from reawaken.replicate_table import tidy
from reawaken.simulate.cohort import Cohort

TESTS = Path(__file__).resolve().parents[1]


def _load(path: Path):
    if path.stem in sys.modules:
        return sys.modules[path.stem]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


LEGACY_SIM = _load(TESTS / "simulate" / "_simulate_legacy.py")
LEGACY_COX = _load(TESTS / "engine" / "_coxph_legacy.py")


def legacy_simulate(scenario, rng: np.random.Generator) -> Cohort:
    """``simulate_cohort`` before issue 12 (positional: as ``run_replicates`` calls it)."""
    return Cohort(LEGACY_SIM.legacy_simulate_cohort(scenario, rng), scenario)


def legacy_covariate_design(cohort: pd.DataFrame, scenario) -> pd.DataFrame:
    """``covariate_design`` before issue 12: a table, constant columns dropped by pandas'
    ``std``."""
    cols: dict[str, np.ndarray] = {}
    for spec in scenario.observed_covariates:
        x = cohort[spec.name].to_numpy()
        if spec.kind == "categorical":
            for level in spec.levels[1:]:
                cols[f"{spec.name}_{level}"] = (x == level).astype(float)
        else:
            cols[spec.name] = x.astype(float)
    design = pd.DataFrame(cols, index=cohort.index)
    keep = [c for c in design if design[c].std() > 0]
    return design[keep]


def legacy_time_varying_cox_hr(data: pd.DataFrame, scenario, rng=None) -> Estimate:
    """The Flatiron study analysis before issue 12: the design table concatenated to the
    Cohort columns, the previous split, and the full ``fit_time_varying_cox`` (coefficient
    table; the previous engine inside :func:`previous_code`). No first-test indexing: the
    benchmark's scenario selects nobody."""
    design = legacy_covariate_design(data, scenario)
    frame = pd.concat(
        [
            data[list(schema.REQUIRED_COLUMNS)].reset_index(drop=True),
            design.reset_index(drop=True),
        ],
        axis=1,
    )
    episodes = LEGACY_SIM.legacy_split_at_exposure(frame, covariates=list(design.columns))
    events = int(episodes[schema.EVENT].sum())
    exposed_events = int(episodes.loc[episodes[EXPOSED] == 1, schema.EVENT].sum())
    if events == 0 or episodes[EXPOSED].sum() == 0 or exposed_events == 0:
        raise AnalysisError(
            f"cannot fit a time-varying Cox model: {events} outcome events, "
            f"{exposed_events} among exposed; simulate a larger cohort"
        )
    fit = fit_time_varying_cox(episodes, covariates=[EXPOSED, *design.columns])
    method = "time-varying Cox (Efron), adjusted"
    return Estimate.from_log(
        "HR", method, fit.coef(EXPOSED), fit.se(EXPOSED), n=len(data), events=events
    )


#: (module, name, previous version): where the replicate calls each replaced function.
SWAPS = (
    ("reawaken.evaluate", "simulate_cohort", legacy_simulate),
    ("reawaken.analysis.cox_inputs", "fit_coxph", LEGACY_COX.legacy_fit_coxph),
)


@contextlib.contextmanager
def previous_code() -> Iterator[None]:
    """Run the previous simulator, split and engine inside this block (this process only)."""
    saved = []
    for module_name, name, previous in SWAPS:
        module = importlib.import_module(module_name)
        if not hasattr(module, name):
            raise AssertionError(f"{module_name}.{name} moved: update tests/benchmarks/_previous")
        saved.append((module, name, getattr(module, name)))
        setattr(module, name, previous)
    try:
        yield
    finally:
        for module, name, current in saved:
            setattr(module, name, current)


def previous_chunk(scenario, analysis, jobs) -> list[dict]:
    """A chunk of replicates with the previous code (the unit sent to a worker)."""
    with previous_code():
        return [evaluate._one(scenario, analysis, rep, child) for rep, child in jobs]


def previous_run(
    pool: Executor, scenario, *, reps: int, seed: int, workers: int, out: Path
) -> pd.DataFrame:
    """``run_replicates(scenario, reps=, seed=, executor=pool, workers=, out=)`` before issue
    12: its replicate table (``true_log_effect`` left NaN)."""
    analysis = legacy_time_varying_cox_hr
    children = np.random.SeedSequence(seed).spawn(reps)
    jobs = [(i, children[i]) for i in range(reps)]
    size = max(1, min(50, math.ceil(reps / (4 * workers))))
    futures = [
        pool.submit(previous_chunk, scenario, analysis, jobs[i : i + size])
        for i in range(0, reps, size)
    ]
    done: dict[int, dict] = {}
    for future in as_completed(futures):
        done.update((row["rep"], row) for row in future.result())
        write_table(tidy(list(done.values()), np.nan), out)  # after every chunk
    return tidy([done[i] for i in range(reps)], np.nan)
