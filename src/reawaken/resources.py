"""Memory guards: estimate what a step will allocate and refuse, in one line, what cannot fit.

A step that would allocate more than the memory available to this process fails *before* it
starts with an :class:`~reawaken.errors.AnalysisError` (exit status 2 on the command line)
naming the step, the estimate, what is available and a fix, instead of growing for minutes and
dying with a ``MemoryError`` or the kernel's OOM killer.

Available memory is ``MemAvailable`` of ``/proc/meminfo`` (Linux's estimate of memory usable
without swapping, proc(5)), capped by the cgroup v2 limit ``memory.max - memory.current``
when one is set; elsewhere ``sysconf(_SC_AVPHYS_PAGES) * sysconf(_SC_PAGE_SIZE)``. The
estimates are peak working sets in bytes (8 bytes per float64/int64 cell, times the copies a
step keeps at once) measured on the shipped presets; they are deliberately generous, since
refusing a step that would have fitted costs a rerun with smaller inputs while running out of
memory can take the machine down.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import AnalysisError

__all__ = [
    "available_memory",
    "check_memory",
    "design_simulation_bytes",
    "format_bytes",
    "matched_analysis_bytes",
    "simulation_bytes",
]

_CELL = 8  # bytes of a float64 / int64 cell
#: Needs below this many bytes (64 MiB) are not checked.
SMALL = 1 << 26


def _meminfo_available(path: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    try:
        limit = (root / "memory.max").read_text().strip()
        used = int((root / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return None if limit == "max" else max(int(limit) - used, 0)


def available_memory() -> int | None:
    """Bytes this process can still allocate without swapping (see module docstring), or
    None when the system does not say."""
    found = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    if not found:
        try:
            found = [os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")]
        except (ValueError, OSError, AttributeError):
            return None
    return min(found)


def format_bytes(size: float) -> str:
    """``"1.5 GB"``: decimal units, three significant digits."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(size) < 1000 or unit == "PB":
            return f"{size:.3g} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def check_memory(need: float, what: str, fix: str, *, available: int | None = None) -> None:
    """Raise :class:`AnalysisError` when ``need`` bytes exceed the available memory.

    ``available`` defaults to :func:`available_memory` (no check when it is unknown; needs
    below :data:`SMALL` bytes are never checked, so per-replicate steps cost nothing); the
    message is ``"<what> needs about <need> of memory but <available> is available; fix:
    <fix>"``.
    """
    if need < SMALL:
        return
    available = available_memory() if available is None else available
    if available is not None and need > available:
        raise AnalysisError(
            f"{what} needs about {format_bytes(need)} of memory but {format_bytes(available)} "
            f"is available; fix: {fix}"
        )


def simulation_bytes(persons: int, covariates: int, chunk_persons: int) -> int:
    """Peak bytes of simulating ``persons``: the finished chunks and their concatenation (two
    copies of about ``12 + covariates`` columns) plus one chunk's temporaries (~40 arrays)."""
    row = _CELL * (12 + covariates)
    return 2 * persons * row + 40 * _CELL * min(persons, chunk_persons)


def design_simulation_bytes(n_sims: int) -> int:
    """Peak bytes of the simulated type-M check: about five float64 arrays of ``n_sims``
    draws alive at once (draws, scaled, absolute value, significant subset, deviations)."""
    return 5 * _CELL * n_sims


def matched_analysis_bytes(exposed: int, controls: int, persons: int, columns: int) -> int:
    """Peak bytes of an exposure-density matched analysis: the matched rows (``exposed *
    (controls + 1)``, each with the cohort's ``columns`` and ~8 design columns) held about
    three times (sets, the analysis table, model matrices), plus the cohort's risk-set index
    (~6 arrays of ``persons``)."""
    rows = exposed * (controls + 1)
    return 3 * rows * _CELL * (columns + 8) + 6 * _CELL * persons
