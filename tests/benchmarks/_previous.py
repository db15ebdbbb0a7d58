"""The Flatiron replicate as it was before issue 12, for the benchmarks' "previous" figures.

The previous simulator, exposure split and Cox engine are verbatim copies kept beside their
identity tests (``tests/simulate/_simulate_legacy.py``, ``tests/engine/_coxph_legacy.py``);
:func:`previous_code` swaps them into the modules that call them, so the study analysis and
``run_replicates``' per-replicate code run the previous implementation. :func:`previous_run`
feeds a pool as ``run_replicates`` did (fixed chunks of ``ceil(reps / 4k)``, at most 50, the
checkpoint rewritten after every chunk, workers returning freed memory to the OS), running
:func:`previous_chunk` in worker processes of its own pool. Not part of the package.
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

from reawaken import evaluate
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


#: (module, name, previous version): where the replicate calls each replaced function.
SWAPS = (
    ("reawaken.evaluate", "simulate_cohort", legacy_simulate),
    ("reawaken.study.analyses", "split_at_exposure", LEGACY_SIM.legacy_split_at_exposure),
    ("reawaken.analysis.cox", "fit_coxph", LEGACY_COX.legacy_fit_coxph),
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
    analysis = evaluate.study_analysis(scenario)
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
