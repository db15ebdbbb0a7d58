"""Safe output: whole-or-nothing output folders, checked path names and strict JSON.

* :func:`output_directory` builds an output folder whole or not at all. Files are written into
  a temporary sibling folder ``<name>.partial-<random>`` (next to the target, visible, never
  hidden inside the user's folder), which is renamed into place when everything has been
  written and removed on any failure, Ctrl-C or SIGTERM (the command line turns SIGTERM into
  an exception, so the cleanup runs). A non-empty target is refused unless ``overwrite=True``;
  then the old folder is swapped out and deleted only after the new one is in place, so stale
  files of an earlier run never sit beside new ones. The working directory, its ancestors,
  the home directory and the filesystem root are never replaced.
* :func:`check_name` guards every user-supplied name that becomes part of a path: no path
  separators, no ``..`` or ``.``, not absolute, not empty, no control characters.
* :func:`dumps_json` renders strict JSON (RFC 8259 has no NaN or Infinity): NaN and infinities
  become ``null``, NumPy and pandas scalars plain values, and ``json.dumps(allow_nan=False)``
  guards the result.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputFileError

__all__ = ["check_name", "dumps_json", "json_safe", "output_directory"]

_PARTIAL = ".partial-"
_OLD = ".replaced-"


def check_name(name: object, what: str = "name") -> str:
    """Return ``name`` if it is safe as one component of a file name, else raise.

    Parameters
    ----------
    name : object
        A user-supplied name (finding, scenario, figure) that will be joined into a path.
    what : str
        How the name is called in the message, e.g. ``"finding name"``.

    Returns
    -------
    str
        The name, unchanged.

    Raises
    ------
    InputFileError
        If the name is not a string, is empty, is ``.`` or ``..``, is absolute, contains a
        path separator (``/`` or ``\\``), a NUL or another control character.
    """
    if not isinstance(name, str):
        raise InputFileError(
            f"{what} must be a string, got {type(name).__name__}; fix: give a plain name such "
            "as my_finding"
        )
    problem = _name_problem(name)
    if problem:
        raise InputFileError(
            f"{what} {name!r} {problem}, so it cannot name an output file; fix: use letters, "
            "digits, '-', '_' and '.' only, e.g. my_finding"
        )
    return name


def _name_problem(name: str) -> str:
    """What makes ``name`` unsafe as a path component ("" if nothing)."""
    if not name.strip():
        return "is empty"
    if name in (".", ".."):
        return "is a relative folder reference"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains a control character"
    if "/" in name or "\\" in name or (os.altsep and os.altsep in name):
        return "contains a path separator"
    if PurePath(name).is_absolute() or ":" in name[:2]:
        return "is an absolute path"
    return ""


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float as ``None`` and NumPy/pandas scalars as Python
    values, recursively through mappings, lists and tuples (the input is not modified)."""
    if isinstance(value, Mapping):
        return {_json_key(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, PurePath):
        return str(value)
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json_key(key: Any) -> str | int:
    return int(key) if isinstance(key, np.integer) else key


def dumps_json(payload: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text of ``payload`` (see :func:`json_safe`); NaN never reaches the output.

    Parameters
    ----------
    payload : Any
        Mappings, sequences, numbers, strings, ``None``, NumPy/pandas scalars, paths.
    indent : int or None
        Passed to :func:`json.dumps`.

    Returns
    -------
    str
        JSON that any RFC 8259 parser accepts (``json.dumps(..., allow_nan=False)``).
    """
    return json.dumps(json_safe(payload), indent=indent, allow_nan=False)


def _protected(path: Path) -> bool:
    """The filesystem root, the home folder, the working folder and its ancestors."""
    cwd = Path.cwd().resolve()
    return path == Path(path.anchor) or path == Path.home().resolve() or path in (cwd, *cwd.parents)


def _check_target(target: Path, overwrite: bool) -> None:
    if target.exists() and not target.is_dir():
        raise InputFileError(
            f"output folder {target} exists and is not a folder; fix: choose another --out"
        )
    if not target.is_dir() or not any(target.iterdir()):
        return
    if not overwrite:
        count = sum(1 for _ in target.iterdir())
        raise InputFileError(
            f"output folder {target} is not empty ({count} entries); fix: pass --overwrite "
            "(overwrite=True in Python) to replace it, or choose a new folder"
        )
    if _protected(target.resolve()):
        raise InputFileError(
            f"refusing to replace {target} (the working folder, one of its parents, the home "
            "folder or the root); fix: write into a new folder, e.g. --out results"
        )


def _fresh_sibling(target: Path, marker: str) -> Path:
    """Create and return an empty folder ``<target><marker><random>`` next to ``target``."""
    while True:
        candidate = target.with_name(f"{target.name}{marker}{secrets.token_hex(4)}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue


def _swap_into_place(built: Path, target: Path) -> None:
    if not target.exists():
        os.rename(built, target)
        return
    old = _fresh_sibling(target, _OLD)
    old.rmdir()
    os.rename(target, old)
    try:
        os.rename(built, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def output_directory(target: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Build an output folder whole or not at all (see module docstring).

    Parameters
    ----------
    target : str or path-like
        The folder the caller asked for. Its parent folders are created if needed.
    overwrite : bool
        Replace a non-empty ``target``; without it a non-empty target is an error.

    Yields
    ------
    pathlib.Path
        An empty temporary folder next to ``target``; write everything there.

    Raises
    ------
    InputFileError
        Before anything is written: ``target`` is a file, or non-empty without ``overwrite``,
        or a protected folder (root, home, the working folder or one of its parents).
    """
    final = Path(target)
    if not final.name or final.name in (".", ".."):
        final = final.resolve()
    _check_target(final, overwrite)
    created = [d for d in (final.parent, *final.parent.parents) if not d.exists()]
    final.parent.mkdir(parents=True, exist_ok=True)
    built = _fresh_sibling(final, _PARTIAL)
    try:
        yield built
        _swap_into_place(built, final)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        for folder in created:  # innermost first: the parents this call made, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
