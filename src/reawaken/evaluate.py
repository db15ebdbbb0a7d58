"""Seeded replicate runs of a study analysis and their ADEMP performance measures.

:func:`run_replicates` simulates a cohort from a scenario and analyses it, ``reps`` times.
Replicate ``i`` draws all its randomness from ``default_rng(SeedSequence(seed).spawn(reps)[i])``
(which is ``SeedSequence(seed, spawn_key=(i,))``, independent of ``reps``), so a table does not
depend on the executor (serial, a process pool or a Dask cluster), the worker count or the
chunking, and growing ``reps`` only adds rows. Replicates whose analysis raises a
:class:`~reawaken.errors.ReawakenError` are kept with missing estimates and an ``error``.

:func:`performance` computes the measures of Morris, White & Crowther, "Using simulation studies
to evaluate statistical methods", Stat Med 2019;38:2074-2102 (Table 6), on the log scale, each
with its Monte Carlo SE; :func:`reps_for_mcse` inverts them (their section 5.3).

The process and Dask executors pickle the scenario and the analysis: use a module-level
function (not a lambda) and, in scripts, the ``if __name__ == "__main__":`` guard (worker
processes are started with ``forkserver`` or ``spawn``, which re-import the main module).
Pools get chunks of shrinking size (large first, single replicates last: guided
self-scheduling, Polychronopoulos & Kuck, IEEE Trans Comput 1987), so no worker waits long for
the last one; a checkpoint file is rewritten at most every :data:`CHECKPOINT_SECONDS` (and at
the end, or when the run is interrupted). A worker process keeps the memory it frees for the
next replicate (glibc ``mallopt``: no ``mmap``/``munmap`` and page faults per large array;
:func:`reawaken.processes.keep_freed_memory`, set once per worker).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, as_completed
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .checks import checked
from .errors import InputFileError, ReawakenError
from .io import write_table
from .performance import MEASURES, Performance, performance, reps_for_mcse
from .processes import cores as _cores
from .processes import keep_freed_memory, launching, process_pool
from .replicate_table import (
    COLUMNS,
    FORMAT,
    META_KEY,
    ReplicateTable,
    Row,
    analysis_label,
    checkpoint_path,
    fingerprint,
    load_checkpoint,
    tidy,
)
from .scenario import Scenario
from .simulate.cohort import simulate_cohort
from .study.analyses import Analysis, study_analysis
from .truth import analysis_name, stored_truth

__all__ = [
    "COLUMNS",
    "EXECUTORS",
    "MEASURES",
    "Performance",
    "ReplicateTable",
    "checkpoint_path",
    "keep_freed_memory",
    "performance",
    "reps_for_mcse",
    "run_replicates",
]

EXECUTORS: tuple[str, ...] = ("serial", "processes", "dask")


# ---------------------------------------------------------------------------------- replicates


def _seed_label(child: np.random.SeedSequence) -> str:
    """``"<entropy>/<spawn key>"``, e.g. ``"2025/3"`` for ``SeedSequence(2025, spawn_key=(3,))``."""
    return "/".join(str(v) for v in (child.entropy, *child.spawn_key))


def _one(scenario: Scenario, analysis: Analysis, rep: int, child: np.random.SeedSequence) -> Row:
    """Simulate and analyse one replicate; a ReawakenError becomes a row with an ``error``."""
    row: Row = {"rep": rep, "seed": _seed_label(child)}
    rng = np.random.default_rng(child)
    try:
        est = analysis(simulate_cohort(scenario, rng).data, scenario, rng)
    except ReawakenError as exc:
        return row | {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"}
    return row | est.to_dict() | {"log_estimate": est.log_estimate, "error": None}


def _run_chunk(
    scenario: Scenario, analysis: Analysis, jobs: Sequence[tuple[int, np.random.SeedSequence]]
) -> list[Row]:
    """Run a chunk of replicates (the unit of work sent to a process or Dask worker)."""
    return [_one(scenario, analysis, rep, child) for rep, child in jobs]


#: Least seconds between two rewrites of a checkpoint file (it is always written at the end).
CHECKPOINT_SECONDS = 2.0


def _chunks(jobs: list, size: int) -> Iterator[list]:
    for i in range(0, len(jobs), size):
        yield jobs[i : i + size]


def _guided_chunks(jobs: list, chunk_size: int, slots: int) -> Iterator[list]:
    """Chunks for a pool of ``slots`` workers: each at most ``chunk_size`` and a quarter of a
    worker's share of the jobs left, so sizes shrink to 1 at the end (guided self-scheduling)
    and every worker finishes within about one replicate of the others."""
    i = 0
    while i < len(jobs):
        size = max(1, min(chunk_size, math.ceil((len(jobs) - i) / (4 * max(slots, 1)))))
        yield jobs[i : i + size]
        i += size


@contextlib.contextmanager
def main_module_hidden(*objects: object) -> Iterator[None]:
    """Keep worker processes from re-running the user's main script.

    ``spawn``/``forkserver`` workers import ``__main__`` from its file so that functions defined
    there can be unpickled; a script without an ``if __name__ == "__main__":`` guard (a
    tutorial, a notebook exported to .py) would then run again in every worker. When none of
    ``objects`` (the scenario, the analysis) comes from ``__main__``, the file is hidden while
    the pool runs, so workers skip it.
    """
    main = sys.modules.get("__main__")
    uses_main = any(
        getattr(o, "__module__", None) == "__main__"
        or getattr(type(o), "__module__", None) == "__main__"
        for o in objects
    )
    path = None
    if main is not None and not uses_main and getattr(main, "__spec__", None) is None:
        path = main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        if path is not None:
            main.__file__ = path


@contextlib.contextmanager
def replicate_pool(executor: str, workers: int | None = None) -> Iterator[str | Executor]:
    """One process pool for several :func:`run_replicates` calls (``executor="processes"``),
    saving a pool start-up (~1.5 s on 2 cores) per call; other executors pass through. Its
    workers die with this process and leave Ctrl-C to it (:mod:`reawaken.processes`)."""
    if executor != "processes":
        yield executor
        return
    with process_pool(workers) as pool:
        yield pool


def _run_on_pool(
    pool: Executor,
    task: tuple[Scenario, Analysis],
    jobs: list[tuple[int, np.random.SeedSequence]],
    slots: int,
    chunk_size: int,
    on_chunk: Callable[[list[Row]], None],
) -> None:
    """Submit ``jobs`` to ``pool`` in guided chunks and hand each finished chunk's rows to
    ``on_chunk``; on any exception (Ctrl-C included: :func:`launching` raises a deferred one
    when it ends, after every chunk was submitted) the pending chunks are cancelled."""
    futures: list[Future] = []
    try:
        with main_module_hidden(*task), launching():  # workers start on the first submissions
            for chunk in _guided_chunks(jobs, chunk_size, slots):
                futures.append(pool.submit(_run_chunk, *task, chunk))
        for future in as_completed(futures):
            on_chunk(future.result())
    except BaseException:
        for future in futures:
            future.cancel()
        raise


def _execute(
    executor: str | Executor,
    task: tuple[Scenario, Analysis],
    jobs: list[tuple[int, np.random.SeedSequence]],
    *,
    workers: int | None,
    scheduler: str | None,
    chunk_size: int,
    on_chunk: Callable[[list[Row]], None],
) -> None:
    """Run ``jobs`` on ``executor``, calling ``on_chunk`` with each finished chunk's rows."""
    if executor == "serial":
        for chunk in _chunks(jobs, chunk_size):
            on_chunk(_run_chunk(*task, chunk))
        return
    if isinstance(executor, Executor):
        _run_on_pool(executor, task, jobs, workers or _cores(), chunk_size, on_chunk)
        return
    if executor == "processes":
        with replicate_pool(executor, workers) as pool:
            _run_on_pool(pool, task, jobs, workers or _cores(), chunk_size, on_chunk)
        return
    try:
        import distributed
    except ImportError as exc:
        raise ReawakenError(
            "executor='dask' needs dask.distributed, which is not installed; fix: "
            "pip install 'reawaken[dask]', or use executor='processes'"
        ) from exc
    with ExitStack() as stack:
        if scheduler is not None:
            client = stack.enter_context(distributed.Client(scheduler))
        else:
            # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in workers, which makes glibc hand
            # every large temporary back to the OS: measured 2x slower replicates here.
            import dask

            environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
            environ.pop("MALLOC_TRIM_THRESHOLD_", None)
            stack.enter_context(dask.config.set({"distributed.nanny.pre-spawn-environ": environ}))
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=workers or _cores(),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address="127.0.0.1:0",  # local only, never all interfaces
                    silence_logs=logging.ERROR,
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        client.run(keep_freed_memory)  # as reawaken's own pool workers do (worker_init)
        slots = sum(client.nthreads().values())
        chunks = _guided_chunks(jobs, chunk_size, slots)
        futures = [client.submit(_run_chunk, *task, c, pure=False) for c in chunks]
        try:
            for future in distributed.as_completed(futures):
                on_chunk(future.result())
        except BaseException:
            client.cancel(futures)
            raise


@checked
def run_replicates(
    scenario: Scenario,
    analysis: Analysis | None = None,
    *,
    reps: int,
    seed: int,
    executor: str | Executor = "processes",
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int = 50,
    out: str | os.PathLike[str] | None = None,
    progress: bool = False,
    n: int | None = None,
    true_effect: float | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
) -> ReplicateTable:
    """Simulate and analyse ``reps`` seeded replicates of a scenario.

    Replicate ``i`` uses ``rng = default_rng(SeedSequence(seed).spawn(reps)[i])`` to simulate
    ``simulate_cohort(scenario, rng)`` and then to run ``analysis(cohort.data, scenario, rng)``
    (the same generator drives control sampling in matched designs). The table is identical,
    bit for bit, for every executor, worker count and chunk size.

    Parameters
    ----------
    scenario : Scenario
        The scenario to simulate.
    analysis : callable, optional
        ``(cohort, scenario, rng) -> Estimate``; default ``study_analysis(scenario)``. Must be
        picklable (a module-level function) for the process and Dask executors.
    reps : int
        Number of replicates (>= 1).
    seed : int
        Root seed (>= 0) of the ``SeedSequence``.
    executor : {"processes", "serial", "dask"} or concurrent.futures.Executor
        Where replicates run: a ``ProcessPoolExecutor``, this process, or a Dask cluster; or
        an open pool from :func:`replicate_pool`, shared by several calls.
    workers : int, optional
        Worker processes (default: all cores) for ``"processes"`` and a local Dask cluster.
    scheduler : str, optional
        Address of a running Dask scheduler (``"tcp://host:8786"``); without it
        ``executor="dask"`` starts a ``LocalCluster`` with one thread per worker.
    chunk_size : int, default 50
        Most replicates per task; pools use smaller chunks, shrinking to one replicate at the
        end so that workers finish together.
    out : str or path-like, optional
        A ``.parquet`` checkpoint, rewritten atomically at most every
        :data:`CHECKPOINT_SECONDS`, at the end and when interrupted. A rerun with the same
        seed, scenario, ``n`` and analysis computes only the replicates it lacks (``reps`` may
        grow); a file from another run is refused.
    progress : bool, default False
        Show a progress bar over replicates (on a terminal only), labelled with the scenario.
    n : int, optional
        Cohort size, replacing ``scenario.n``.
    true_effect : float, optional
        True effect on the ratio scale; ``true_log_effect = log(true_effect)``. Without it, a
        study analysis of a scenario with a stored defined truth (a preset, its null or reduced
        version: :func:`reawaken.truth.stored_truth`) gets that truth, so an OR design is
        judged against its own OR, never against the simulator's HR; otherwise NaN.
    checkpoint : str or path-like, optional
        A folder of checkpoints (created if missing): ``out`` becomes the file
        :func:`checkpoint_path` names from a fingerprint of this call's inputs, so the calls
        of a long command each resume their own file. Excludes ``out``.

    Returns
    -------
    ReplicateTable

    Raises
    ------
    ReawakenError
        For invalid arguments (``reps``, ``seed``, ``executor``, ...) or a missing Dask.
    InputFileError
        If ``out`` is not ``.parquet``, or holds replicates of another run.

    Examples
    --------
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets")
    >>> table = rw.run_replicates(scenario, reps=2, seed=1, executor="serial", n=3000)
    >>> len(table.data), table.n_failed
    (2, 0)
    """
    _check_arguments(reps, seed, executor, workers, chunk_size, scheduler, true_effect)
    scenario = scenario if n is None else scenario.with_n(n)
    analysis = study_analysis(scenario) if analysis is None else analysis
    truth, truth_mcse = _truth(scenario, analysis, true_effect)
    seed, reps = int(seed), int(reps)
    store = _Checkpoint.open(scenario, analysis, seed, reps, truth, out=out, folder=checkpoint)
    children = np.random.SeedSequence(seed).spawn(reps)
    jobs = [(i, children[i]) for i in range(reps) if i not in store.done]

    show = None if progress else True  # None: only on a terminal
    bar = tqdm(total=reps, initial=reps - len(jobs), disable=show, unit="rep", desc=scenario.name)

    def on_chunk(rows: list[Row]) -> None:
        store.add(rows)
        bar.update(len(rows))

    with bar:
        if jobs:
            opts = {"workers": workers, "scheduler": scheduler, "chunk_size": chunk_size}
            try:
                _execute(executor, (scenario, analysis), jobs, on_chunk=on_chunk, **opts)
            finally:  # what is done is kept, also when interrupted
                store.save(force=True)
    data = tidy([store.done[i] for i in range(reps)], truth)
    return ReplicateTable(data, truth, scenario.name, seed, len(jobs), truth_mcse)


def _check_arguments(
    reps: object,
    seed: object,
    executor: object,
    workers: int | None,
    chunk_size: int,
    scheduler: str | None,
    true_effect: float | None,
) -> None:
    """:func:`run_replicates`' argument rules: a ReawakenError for the first one broken."""
    if isinstance(reps, bool) or not isinstance(reps, int | np.integer) or reps < 1:
        raise ReawakenError(f"reps must be a positive integer, got {reps!r}; fix: pass reps=100")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ReawakenError(f"seed must be a non-negative integer, got {seed!r}; fix: seed=2025")
    if not isinstance(executor, Executor) and executor not in EXECUTORS:
        raise ReawakenError(f"unknown executor {executor!r}; fix: use one of {EXECUTORS}")
    if workers is not None and workers < 1:
        raise ReawakenError(f"workers must be >= 1, got {workers}; fix: omit it for all cores")
    if chunk_size < 1:
        raise ReawakenError(f"chunk_size must be >= 1, got {chunk_size}")
    if scheduler is not None and executor != "dask":
        raise ReawakenError(f"a scheduler address needs executor='dask', not {executor!r}")
    if true_effect is not None and not true_effect > 0:
        raise ReawakenError(f"true_effect is a ratio and must be > 0, got {true_effect}")


class _Checkpoint:
    """The rows done so far (``done``, by replicate) and the checkpoint file they go to (none
    without ``out``): rewritten when rows were added, at most every
    :data:`CHECKPOINT_SECONDS` unless forced."""

    def __init__(self, path: Path | None, meta: dict, truth: float, done: dict[int, Row]):
        self.path, self.meta, self.truth, self.done = path, meta, truth, done
        self.written = (time.monotonic(), len(done))  # time of the last write, rows in it

    @classmethod
    def open(
        cls,
        scenario: Scenario,
        analysis: Analysis,
        seed: int,
        reps: int,
        truth: float,
        *,
        out: str | os.PathLike[str] | None,
        folder: str | os.PathLike[str] | None,
    ) -> _Checkpoint:
        """The run's checkpoint: ``out``, or the file :func:`checkpoint_path` names in
        ``folder``, with the rows an earlier run of the same identity left in it."""
        meta = {"format": FORMAT, "seed": seed, "reps": reps, "scenario": scenario.name}
        meta |= {"scenario_sha256": fingerprint(scenario), "analysis": analysis_label(analysis)}
        if folder is not None:
            if out is not None:
                raise ReawakenError("give out= (one file) or checkpoint= (a folder), not both")
            out = checkpoint_path(folder, meta)
        path = None if out is None else Path(out)
        if path is not None and path.suffix.lower() != ".parquet":
            raise InputFileError(
                f"checkpoint {path} must be a .parquet file; fix: --out run.parquet"
            )
        previous = None if path is None else load_checkpoint(path, meta)
        done: dict[int, Row] = {}
        if previous is not None:
            done = {int(r["rep"]): r for r in previous.to_dict("records")}
            meta["reps"] = max(reps, int(previous.attrs[META_KEY]["reps"]))
        return cls(path, meta, truth, done)

    def add(self, rows: list[Row]) -> None:
        """Record a finished chunk's rows, and write them if the interval has passed."""
        self.done.update((r["rep"], r) for r in rows)
        self.save(force=False)

    def save(self, force: bool) -> None:
        if self.path is None or len(self.done) == self.written[1]:
            return
        if force or time.monotonic() - self.written[0] >= CHECKPOINT_SECONDS:
            table = tidy(list(self.done.values()), self.truth)
            table.attrs[META_KEY] = self.meta
            write_table(table, self.path)
            self.written = (time.monotonic(), len(self.done))


def _truth(
    scenario: Scenario, analysis: Analysis, true_effect: float | None
) -> tuple[float, float]:
    """True log effect and its MCSE: ``log(true_effect)`` (exact) when given, else the stored
    defined truth of this study analysis in this very scenario, else NaN."""
    if true_effect is not None:
        return math.log(true_effect), 0.0
    name = analysis_name(analysis)
    found = None if name is None else stored_truth(scenario, name)
    return (math.nan, math.nan) if found is None else (found.log_truth, found.mcse)
