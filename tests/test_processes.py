"""Worker processes die with the main process and leave Ctrl-C to it (reawaken.processes).

Each test runs a real ``reawaken power simulate --workers 2`` in a subprocess, waits (bounded)
until its two workers run, then kills or interrupts it and checks that every process it had
started is gone within a bounded time. Whatever happens, every process found is SIGKILLed at
the end, so a failing test leaves no orphan.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reawaken import processes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")

COMMAND = [
    sys.executable,
    "-m",
    "reawaken.cli",
    "power",
    "simulate",
    "--scenario",
    "flatiron_lung_mets",
    "--n",
    "20000",
    "--reps",
    "2000",
    "--workers",
    "2",
    "--no-progress",
]
START_TIMEOUT = 90.0  # seconds for the workers to start (imports on a loaded machine)
EXIT_TIMEOUT = 15.0  # seconds for every process to be gone after the kill


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a live process, None if gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return None if fields[0] in "ZX" else (int(fields[1]), fields[19])


def _descendants(root: int) -> dict[int, str]:
    """Live descendants of ``root``: pid -> start time (to never kill a reused pid)."""
    parents: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents[int(entry)] = stat
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child, (ppid, started) in parents.items():
            if ppid == pid and child not in found:
                found[child] = started
                frontier.append(child)
    return found


def _alive(procs: dict[int, str]) -> list[int]:
    return [pid for pid, started in procs.items() if (s := _stat(pid)) and s[1] == started]


def _kill_all(procs: dict[int, str]) -> None:
    for pid in _alive(procs):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _start() -> tuple[subprocess.Popen, dict[int, str]]:
    """The command running with both workers (descendants: fork server, resource tracker,
    workers), or a failed test."""
    proc = subprocess.Popen(
        COMMAND, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    seen: dict[int, str] = {}
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        seen |= _descendants(proc.pid)
        workers = [p for p in _alive(seen) if _stat(p) and _stat(p)[0] != proc.pid]
        if len(workers) >= 2:
            time.sleep(1.0)  # let them get into their first chunk
            return proc, seen | _descendants(proc.pid)
        time.sleep(0.1)
    proc.kill()
    _kill_all(seen)
    _, err = proc.communicate(timeout=30)
    pytest.fail(f"workers never started (status {proc.returncode}): {err.decode()[-2000:]}")


def _wait_gone(procs: dict[int, str]) -> list[int]:
    deadline = time.monotonic() + EXIT_TIMEOUT
    while (left := _alive(procs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_sigkill_of_the_main_process_leaves_no_process_behind():
    proc, procs = _start()
    try:
        assert len(procs) >= 3  # fork server and two workers at least
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=EXIT_TIMEOUT)
        left = _wait_gone(procs)
        assert left == [], f"still running {EXIT_TIMEOUT:g} s after kill -9: {left}"
    finally:
        proc.kill()
        _kill_all(procs)
        proc.communicate(timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_prints_one_line_and_stops_the_workers(sig):
    proc, procs = _start()
    try:
        os.killpg(proc.pid, sig)  # as a terminal's Ctrl-C: the whole process group
        _, err = proc.communicate(timeout=60)
        left = _wait_gone(procs)
    finally:
        proc.kill()
        _kill_all(procs)
    lines = err.decode().strip().splitlines()
    expected = {signal.SIGINT: 130, signal.SIGTERM: 143}[sig]
    assert proc.returncode == expected, err.decode()
    assert len(lines) == 1 and lines[0].startswith("reawaken power simulate: "), lines
    assert left == []


HARNESS = Path(__file__).with_name("interrupt_harness.py")
POINTS = ("forkserver-starting", "forkserver-started", "submitted", "cleanup")


def _interrupted(sigints: dict[str, int]) -> tuple[subprocess.Popen, str, list[str], list[int]]:
    """Run the command through the harness, pausing at every point of :data:`POINTS`; at
    point ``p`` send ``sigints[p]`` SIGINTs to the process group (as a terminal's Ctrl-C)
    before letting it go on. Returns the finished process, its stderr, the points reached in
    order and the processes it had started still alive :data:`EXIT_TIMEOUT` s after its exit.
    """
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    env = {
        **os.environ,
        "REAWAKEN_TEST_PAUSES": ",".join(POINTS),
        "REAWAKEN_TEST_PIPES": f"{ready_w},{go_r}",
    }
    proc = subprocess.Popen(
        [sys.executable, str(HARNESS), *COMMAND[3:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        pass_fds=(ready_w, go_r),
        env=env,
    )
    os.close(ready_w)
    os.close(go_r)
    seen: dict[int, str] = {}
    reached: list[str] = []
    try:
        with open(ready_r, "rb", buffering=0) as ready, open(go_w, "wb", buffering=0) as go:
            deadline = time.monotonic() + START_TIMEOUT
            while (line := _next_line(ready, deadline, proc, seen)) is not None:
                reached.append(line)
                seen |= _descendants(proc.pid)
                for _ in range(sigints.get(line, 0)):
                    os.killpg(proc.pid, signal.SIGINT)
                    time.sleep(0.05)
                go.write(b"go\n")
        _, err = proc.communicate(timeout=60)
        seen |= _descendants(proc.pid)
        left = _wait_gone(seen)
    finally:
        proc.kill()
        _kill_all(seen)
    return proc, err.decode(), reached, left


def _next_line(ready, deadline: float, proc: subprocess.Popen, seen: dict[int, str]):
    """The next point the harness paused at, None once it closed the pipe (exited); a failed
    test after ``deadline``. Collects the command's descendants while it waits."""
    buffer = b""
    while time.monotonic() < deadline:
        seen |= _descendants(proc.pid)
        if select.select([ready], [], [], 0.05)[0]:
            byte = ready.read(1)
            if not byte:
                return None
            if byte == b"\n":
                return buffer.decode()
            buffer += byte
    proc.kill()
    _kill_all(seen)
    pytest.fail(f"no pause or exit within {START_TIMEOUT:g} s (after {buffer!r})")


@pytest.mark.parametrize(
    "sigints",
    [
        {"forkserver-starting": 1},  # main thread blocks SIGINT: another thread takes it
        {"forkserver-started": 1},  # the fork server is starting up: it gets SIGINT too
        {"submitted": 1},  # the workers are starting up: they get SIGINT too
        {"forkserver-starting": 2},  # two Ctrl-C inside the launch window
        {"submitted": 1, "cleanup": 1},  # a second Ctrl-C while the pool is cleaned up
    ],
    ids=["before-fork-server", "fork-server-starting", "workers-starting", "twice", "again"],
)
def test_interrupt_during_worker_start_up_prints_one_line(sigints):
    """A Ctrl-C anywhere in launching() is held back until the window closes, then stops the
    run (issue 11: it used to be lost while SIGINT was ignored): the run goes on to the end
    of the window and straight into the pool's clean-up, prints one line (no traceback from
    any process, no resource-tracker warning about leaked semaphores), exits with status 130
    and leaves no process behind."""
    proc, err, reached, left = _interrupted(sigints)
    lines = err.strip().splitlines()
    assert proc.returncode == 130, err
    assert lines == ["reawaken power simulate: interrupted; partial output removed"], lines
    assert reached == list(POINTS), reached
    assert left == [], f"still running {EXIT_TIMEOUT:g} s after the exit: {left}"


def _blocked() -> set[int]:
    return set(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def test_launching_restores_the_environment_the_handler_and_the_mask(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    before, mask = signal.getsignal(signal.SIGINT), _blocked()
    assert signal.SIGINT not in mask
    with processes.launching():
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler) and handler is not before
        assert signal.SIGINT in _blocked()
        assert all(os.environ[k] == "1" for k in processes.THREAD_VARIABLES)
    assert signal.getsignal(signal.SIGINT) is before
    assert _blocked() == mask
    assert os.environ["OMP_NUM_THREADS"] == "3"
    assert "OPENBLAS_NUM_THREADS" not in os.environ


@pytest.mark.parametrize("send", ["thread", "process"])
def test_a_sigint_inside_launching_is_raised_when_the_block_ends(send):
    """raise_signal targets the calling thread (pending while blocked); os.kill targets the
    process (taken by any thread not blocking it, or pending)."""
    after = []
    with pytest.raises(KeyboardInterrupt):
        with processes.launching():
            if send == "thread":
                signal.raise_signal(signal.SIGINT)
            else:
                os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            after.append("the block ran to its end")
    assert after == ["the block ran to its end"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_deferred_raises_once_at_the_end_and_respects_an_ignored_sigint():
    with pytest.raises(KeyboardInterrupt) as info:
        with processes.sigint_deferred():
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
    assert info.value.__context__ is None  # raised once, not while handling another
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with processes.sigint_deferred():
            signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sigint_deferred_outside_the_main_thread_changes_nothing():
    seen = []

    def run():
        with processes.sigint_deferred():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


def test_an_interrupted_pool_kills_its_workers_and_shuts_down():
    with pytest.raises(KeyboardInterrupt):
        with processes.process_pool(1) as pool:
            with processes.launching():
                future = pool.submit(time.sleep, 60)
                signal.raise_signal(signal.SIGINT)
    assert future.done()
    assert multiprocessing.active_children() == []  # the worker is killed and reaped


def test_workers_run_one_blas_thread_and_ignore_sigint():
    with processes.process_pool(1) as pool:
        with processes.launching():
            future = pool.submit(_worker_state)
        env, handler = future.result(timeout=120)
    assert all(env[k] == "1" for k in processes.THREAD_VARIABLES)
    assert handler == int(signal.SIG_IGN)


def _worker_state() -> tuple[dict[str, str | None], int]:
    env = {k: os.environ.get(k) for k in processes.THREAD_VARIABLES}
    return env, int(signal.getsignal(signal.SIGINT))


def test_workers_start_with_reawaken_imported_by_the_fork_server():
    """The fork server imports PRELOAD before it forks: a worker's first task finds
    reawaken.evaluate and pandas imported (this test module, which the worker imports to run
    the task, imports neither), its memory setting made and tqdm's lock a thread lock."""
    with processes.process_pool(1) as pool:
        with processes.launching():
            future = pool.submit(_imported, ("reawaken.evaluate", "pandas", "statsmodels.api"))
        imported, lock = future.result(timeout=120)
    assert imported == ["reawaken.evaluate", "pandas", "statsmodels.api"]
    assert lock == _name(type(threading.RLock()))  # not tqdm's multiprocessing lock


def _imported(names: tuple[str, ...]) -> tuple[list[str], str]:
    from tqdm import tqdm

    return [n for n in names if n in sys.modules], _name(type(tqdm.get_lock()))


def _name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"
