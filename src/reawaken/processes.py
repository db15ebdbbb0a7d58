"""Worker process pools that die with their parent, ignore Ctrl-C and run one BLAS thread.

:func:`process_pool` is the one way reawaken starts worker processes (replicates, the stress
battery, bootstraps). Its guarantees:

* **Workers die with the main process**, even after ``kill -9``: each worker sets the Linux
  parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGKILL)``, prctl(2)) and watches the main
  process through a pidfd (pidfd_open(2), Linux >= 5.3; elsewhere by polling ``kill(pid, 0)``)
  from a daemon thread, because under ``forkserver`` a worker's parent is the fork server, not
  the main process. The fork server itself exits when the main process closes its end of the
  "alive" pipe (which the kernel does on any death); the resource tracker exits when the last
  process holding its pipe is gone.
* **Ctrl-C reaches the main process only, and is never lost**: while :func:`launching` starts
  processes, SIGINT is *blocked* in the launching thread (``pthread_sigmask(2)``); a signal
  mask is inherited across fork and exec (signal(7)), so the fork server is born with SIGINT
  blocked, then ignores it (CPython's ``multiprocessing.forkserver.main``; it never unblocks
  it) and forks every worker with it blocked; workers then ignore it too (:func:`worker_init`)
  and the resource tracker protects itself the same way, so none prints a
  ``KeyboardInterrupt`` traceback. The main process meanwhile keeps a *deferring* handler
  (:func:`sigint_deferred`): CPython's C-level
  handler only sets a flag, whichever thread the kernel hands the signal to (an OpenBLAS
  thread, when the main thread blocks it), and the Python handler, run in the main thread,
  records it; the signal is raised again the moment the window closes. An interrupted (or
  SIGTERM-ed) main process kills its workers at once instead of waiting for their running
  tasks, cancels what is pending and shuts the pool down (so no semaphore is leaked), with a
  second Ctrl-C held back until that clean-up is done.
* **One BLAS/OpenMP thread per worker** (no oversubscription of the cores the pool already
  fills): the thread-count variables of OpenBLAS, MKL, BLIS, OpenMP and numexpr are set to 1 in
  the environment the workers (and the fork server) start with; the parent's environment is
  restored at once.
* **Workers start with reawaken imported**: the fork server imports :data:`PRELOAD` (and with
  it numpy, pandas, scipy and statsmodels) once, before it forks any worker
  (``set_forkserver_preload``), so a worker costs a fork instead of an import of ~1.7 s of CPU;
  the fork server lives as long as the main process, so later pools start at once.
* **Workers keep freed memory for the next task** (:func:`keep_freed_memory`, glibc
  ``mallopt``): replicates allocate and free the same large arrays.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import select
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

__all__ = [
    "PRELOAD",
    "THREAD_VARIABLES",
    "cores",
    "keep_freed_memory",
    "kill_workers",
    "launching",
    "mp_context",
    "process_pool",
    "sigint_deferred",
    "worker_init",
]

#: Environment variables limiting BLAS/OpenMP/numexpr threads, set to 1 in workers.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
#: Modules the fork server imports before it forks workers: the user's main script (as
#: multiprocessing does by default, unless :func:`reawaken.evaluate.main_module_hidden` hides
#: it) and the modules whose functions reawaken's pools run (replicates, bootstraps, the stress
#: battery), which import numpy, pandas, scipy, statsmodels and pyarrow. A module that cannot
#: be imported is skipped (``multiprocessing.forkserver.main``).
PRELOAD: tuple[str, ...] = (
    "__main__",
    "reawaken.evaluate",
    "reawaken.bootstrap",
    "reawaken.sensitivity.stress",
)
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_POLL_SECONDS = 0.5  # parent check interval where pidfds are unavailable
#: glibc ``mallopt`` parameters (malloc.h) and the values a worker sets: arrays up to 32 MB
#: (glibc's largest mmap threshold) come from the heap, and up to 64 MB freed at its top stay.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_WORKER_MALLOPT = ((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 64 << 20))


def cores() -> int:
    """CPU cores this process may run on (its affinity mask on Linux)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def mp_context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where available (safe in multi-threaded parents), else ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _libc() -> ctypes.CDLL | None:
    """The C library's functions on Linux (the symbols the interpreter is linked with: no
    ``ctypes.util.find_library``, which runs ``ldconfig`` in a subprocess); None elsewhere."""
    if os.uname().sysname != "Linux":
        return None
    return ctypes.CDLL(None, use_errno=True)


def _set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """``prctl(PR_SET_PDEATHSIG, sig)`` on Linux; False where unavailable."""
    libc = _libc()
    return libc is not None and libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for the next task instead of returning every large array
    to the OS: ``mallopt(M_MMAP_THRESHOLD, 32 MB)``, ``mallopt(M_TRIM_THRESHOLD, 64 MB)``
    (malloc.h, mallopt(3)). Replicates allocate and free the same large arrays, and each fresh
    ``mmap`` costs page faults (measured ~8 ms of system time per Flatiron replicate). Set by
    :func:`worker_init` in every worker; returns False where glibc is unavailable (the peak
    memory is unchanged)."""
    libc = _libc()
    try:
        glibc = libc is not None and os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):  # no such name: not glibc
        glibc = False
    return glibc and all(libc.mallopt(param, value) == 1 for param, value in _WORKER_MALLOPT)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (pid reused)
        return False
    return True


def _watch(pid: int) -> None:
    """Block until process ``pid`` exits, then end this process at once (no cleanup: the
    results would have nowhere to go)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        while _alive(pid):
            time.sleep(_POLL_SECONDS)
    else:
        select.select([fd], [], [])
    os._exit(1)


def worker_init(main_pid: int) -> None:
    """Initializer of every worker: die with the main process ``main_pid``, ignore SIGINT
    (the main process handles Ctrl-C and kills its workers) and keep freed memory
    (:func:`keep_freed_memory`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    keep_freed_memory()
    _progress_bars_lock_threads_only()
    parent = os.getppid()
    _set_parent_death_signal()
    if os.getppid() != parent or not _alive(main_pid):  # died before the signal was set
        os._exit(1)
    if parent != main_pid:  # forkserver: the parent is the fork server
        threading.Thread(
            target=_watch, args=(main_pid,), daemon=True, name="reawaken-watch"
        ).start()


def _progress_bars_lock_threads_only() -> None:
    """Give tqdm a thread lock in a worker. Its default, made with the first bar (even a
    disabled one), is a multiprocessing RLock: a named semaphore registered with the resource
    tracker, which a killed worker never unregisters (the tracker then warns of a leaked
    semaphore at exit). Workers draw no bars, so they need no lock across processes."""
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


class _Recorder:
    """A SIGINT handler that only counts the signals it is given."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: object) -> None:
        self.count += 1


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C back while the block runs and deliver it the moment the block ends.

    In the main thread the SIGINT handler is replaced by one that records the signal (the
    C-level handler of CPython only sets a flag, in whichever thread the kernel picks; the
    Python handler runs in the main thread, signal module docs). On exit the previous handler
    is restored and a recorded signal is raised again with ``signal.raise_signal``: under
    Python's default handler a ``KeyboardInterrupt`` there, nothing if SIGINT was ignored. In
    other threads (which cannot set handlers) the block runs unchanged.
    """
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    if previous is None:  # not the main thread, or a handler not installed from Python
        yield
        return
    recorder = _Recorder()
    signal.signal(signal.SIGINT, recorder)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)  # runs a handler still pending first
        if recorder.count:
            signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def _sigint_blocked() -> Iterator[None]:
    """SIGINT blocked in the calling thread (``pthread_sigmask``) while the block runs, so the
    processes it starts inherit it blocked; the previous mask is restored on exit (a pending
    SIGINT is then delivered)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextlib.contextmanager
def _worker_environment() -> Iterator[None]:
    """The BLAS/OpenMP thread variables set to 1 while the block runs, restored after."""
    saved = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def launching() -> Iterator[None]:
    """Submit a pool's first tasks (which start its workers) inside this block.

    While it runs, Ctrl-C is deferred (:func:`sigint_deferred`: a ``KeyboardInterrupt`` is
    raised when the block ends, never lost), SIGINT is blocked in the calling thread and the
    BLAS/OpenMP thread variables are 1, so processes started here inherit both the blocked
    signal and the variables; the fork server (started here if it is not running, importing
    :data:`PRELOAD` before it forks) passes them on to every worker it forks. The resource
    tracker is started first, unblocked: it blocks SIGINT around its own start and unblocks
    it afterwards (CPython bpo-33613), which would undo the block here. The parent's handler,
    mask and environment are restored on exit.
    """
    context = mp_context()
    forkserver = context.get_start_method() == "forkserver"
    with sigint_deferred(), _worker_environment():
        if os.name == "posix":
            multiprocessing.resource_tracker.ensure_running()
        with _sigint_blocked():
            if forkserver:
                context.set_forkserver_preload(list(PRELOAD))  # used when it starts here
                multiprocessing.forkserver.ensure_running()
            yield


def kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL the pool's worker processes (an interrupted run does not wait for them)."""
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(Exception):
            process.kill()


@contextlib.contextmanager
def process_pool(workers: int | None = None) -> Iterator[ProcessPoolExecutor]:
    """A ``ProcessPoolExecutor`` of ``workers`` (default: all cores) processes with the
    guarantees of the module docstring. Submit the first tasks inside :func:`launching`
    (workers start on demand); on any exception, including Ctrl-C and SIGTERM (and one
    during the final shutdown), the workers are killed, pending tasks cancelled and the pool
    shut down, with Ctrl-C deferred, before the exception propagates."""
    pool = ProcessPoolExecutor(
        max_workers=workers or cores(),
        mp_context=mp_context(),
        initializer=worker_init,
        initargs=(os.getpid(),),
    )
    try:
        yield pool
        pool.shutdown(wait=True)
    except BaseException:
        with sigint_deferred():  # a second Ctrl-C waits for the clean-up
            kill_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)
        raise
