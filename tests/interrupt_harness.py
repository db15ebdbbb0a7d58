"""The reawaken command line, paused at known points of a process pool's start-up.

tests/test_processes.py runs ``python tests/interrupt_harness.py <reawaken arguments>`` to send
SIGINT at a known moment. ``REAWAKEN_TEST_PAUSES`` lists the points to pause at (comma
separated) and ``REAWAKEN_TEST_PIPES`` gives two inherited file descriptors, ``ready,go``: at a
listed point the process writes ``<point>\\n`` to ``ready`` and waits until a line arrives on
``go`` (or the test closes it). Each point pauses once:

``forkserver-starting``
    inside :func:`reawaken.processes.launching`, just before the fork server is started;
``forkserver-started``
    first statement of the ``launching()`` block: fork server spawned, no task submitted;
``submitted``
    last statement of the ``launching()`` block: every first task submitted, workers starting;
``cleanup``
    :func:`reawaken.processes.process_pool` cleaning up after an exception, before it kills
    the workers.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing.forkserver
import os
import sys


def _pauser():
    wanted = set(filter(None, os.environ.get("REAWAKEN_TEST_PAUSES", "").split(",")))
    ready, go = (int(fd) for fd in os.environ["REAWAKEN_TEST_PIPES"].split(","))
    for fd in (ready, go):  # not passed on to the fork server or the workers
        os.set_inheritable(fd, False)
    done: set[str] = set()

    def pause(point: str) -> None:
        if point not in wanted or point in done:
            return
        done.add(point)
        os.write(ready, f"{point}\n".encode())
        while not os.read(go, 1).endswith(b"\n"):  # b"" (closed) also ends the pause
            pass

    return pause


def _install(pause) -> None:
    """Wrap the functions the points sit in; every module's reference to ``launching``."""
    for name in ("reawaken.cli", "reawaken.evaluate"):  # the modules that call launching()
        importlib.import_module(name)
    from reawaken import processes

    real_launching = processes.launching

    @contextlib.contextmanager
    def launching():
        with real_launching():
            pause("forkserver-started")
            yield
            pause("submitted")

    modules = list(sys.modules.values())
    users = [m for m in modules if getattr(m, "launching", None) is real_launching]
    for module in users:
        module.launching = launching
    if len(users) < 2:  # reawaken.processes and at least one caller
        sys.exit(f"interrupt_harness: launching() is used by {len(users)} module(s) only")

    real_ensure = multiprocessing.forkserver.ensure_running

    def ensure_running() -> None:
        pause("forkserver-starting")
        real_ensure()

    multiprocessing.forkserver.ensure_running = ensure_running
    real_kill = processes.kill_workers

    def kill_workers(pool) -> None:
        pause("cleanup")
        real_kill(pool)

    processes.kill_workers = kill_workers


if __name__ == "__main__":
    _install(_pauser())
    from reawaken.cli import main

    sys.exit(main(sys.argv[1:]))
