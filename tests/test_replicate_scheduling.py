"""How run_replicates feeds a pool (issue 12): shrinking chunks, throttled checkpoint writes
that keep everything done when interrupted, and worker memory kept for the next replicate."""

from __future__ import annotations

import contextlib
import math
import os
from concurrent.futures import Executor, Future

import pandas as pd
import pytest

from reawaken import evaluate
from reawaken.evaluate import run_replicates
from reawaken.scenario import parse_scenario_text
from reawaken.study.analyses import time_varying_cox_hr

SMALL = """
name = "sched_toy"
n = 1500
[followup]
end_day = 800
time_resolution = "day"
[[covariates]]
name = "x"
kind = "binary"
p = 0.4
[outcome]
baseline = { family = "exponential", rate_per_year = 0.08 }
log_hr = { x = 0.5 }
[effect]
hazard_ratio = [1.5]
[infection]
monthly_rate_per_year = [0.4]
[death]
baseline = { family = "exponential", rate_per_year = 0.02 }
"""


@pytest.mark.parametrize(
    ("n", "size", "slots"), [(1000, 50, 2), (200, 50, 2), (7, 50, 4), (1000, 3, 1)]
)
def test_guided_chunks_cover_the_jobs_in_order_and_shrink_to_one(n, size, slots):
    chunks = list(evaluate._guided_chunks(list(range(n)), size, slots))
    assert [j for c in chunks for j in c] == list(range(n))
    sizes = [len(c) for c in chunks]
    assert max(sizes) <= size and sizes == sorted(sizes, reverse=True)
    for i, s in enumerate(sizes):  # a quarter of a worker's share of what is left
        left = n - sum(sizes[:i])
        assert s == max(1, min(size, math.ceil(left / (4 * slots))))
    if n >= 4 * slots:
        assert sizes[-1] == 1


class Interrupting:
    """The study analysis, with Ctrl-C arriving during replicate ``at``."""

    def __init__(self, at: int) -> None:
        self.at, self.calls = at, 0

    def __call__(self, cohort, scenario, rng):
        self.calls += 1
        if self.calls > self.at:
            raise KeyboardInterrupt
        return time_varying_cox_hr(cohort, scenario, rng)


def test_checkpoint_written_at_most_every_interval_at_the_end_and_when_interrupted(
    tmp_path, monkeypatch
):
    scenario = parse_scenario_text(SMALL)
    writes = []
    real = evaluate.write_table
    monkeypatch.setattr(evaluate, "write_table", lambda t, p: writes.append(len(t)) or real(t, p))
    monkeypatch.setattr(evaluate, "CHECKPOINT_SECONDS", 3600.0)
    out = tmp_path / "run.parquet"
    table = run_replicates(scenario, reps=6, seed=3, executor="serial", chunk_size=1, out=out)
    assert writes == [6]  # six chunks, one write: at the end
    pd.testing.assert_frame_equal(pd.read_parquet(out), table.data, check_exact=True)

    writes.clear()
    out = tmp_path / "interrupted.parquet"
    analysis = Interrupting(at=4)
    with pytest.raises(KeyboardInterrupt):
        run_replicates(scenario, analysis, reps=6, seed=3, executor="serial", chunk_size=1, out=out)
    assert writes == [4] and len(pd.read_parquet(out)) == 4  # the four done are kept
    monkeypatch.setattr(evaluate, "CHECKPOINT_SECONDS", 0.0)
    writes.clear()
    resumed = run_replicates(
        scenario,
        analysis.__class__(at=99),
        reps=6,
        seed=3,
        executor="serial",
        chunk_size=1,
        out=out,
    )
    assert resumed.computed == 2 and writes == [5, 6]  # every chunk once the interval is 0
    pd.testing.assert_frame_equal(
        resumed.data.drop(columns="true_log_effect"),
        table.data.drop(columns="true_log_effect"),
        check_exact=True,
    )


@pytest.mark.skipif(os.uname().sysname != "Linux", reason="glibc mallopt")
def test_worker_memory_setting_is_accepted_by_glibc():
    assert evaluate.keep_freed_memory() is True


class _Recording(Executor):
    """An executor that runs nothing: it keeps the futures it hands out (pending)."""

    def __init__(self) -> None:
        self.futures: list[Future] = []

    def submit(self, fn, /, *args, **kwargs) -> Future:
        self.futures.append(Future())
        return self.futures[-1]


@pytest.mark.parametrize("where", ["exit", "submit"])
def test_an_interrupt_while_submitting_cancels_what_was_submitted(monkeypatch, where):
    """Ctrl-C held back by launching() surfaces when it exits, after the submissions (or a
    submission fails): the chunks already handed to a caller's executor are cancelled."""
    pool = _Recording()
    if where == "exit":

        @contextlib.contextmanager
        def launching():
            yield
            raise KeyboardInterrupt  # as sigint_deferred re-raises a deferred Ctrl-C

        monkeypatch.setattr(evaluate, "launching", launching)
    else:
        real = pool.submit

        def submit(fn, /, *args, **kwargs):
            if len(pool.futures) == 3:
                raise KeyboardInterrupt
            return real(fn, *args, **kwargs)

        monkeypatch.setattr(pool, "submit", submit)
    scenario = parse_scenario_text(SMALL)
    with pytest.raises(KeyboardInterrupt):
        run_replicates(scenario, reps=40, seed=1, executor=pool, workers=2, chunk_size=5)
    assert len(pool.futures) == (18 if where == "exit" else 3)  # 40 jobs: 18 guided chunks
    assert all(f.cancelled() for f in pool.futures)
