"""Replicate tables: what :func:`reawaken.evaluate.run_replicates` returns, their canonical
columns and dtypes, and the parquet checkpoint files a run resumes from.

A checkpoint is a replicate table written with its run's identity in the parquet metadata
(format, seed, scenario name and the sha256 of its ``repr``, analysis): a rerun with the same
identity computes only the replicates the file lacks; a file of another run is refused.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .errors import InputFileError
from .performance import Performance, performance
from .scenario import Scenario

__all__ = ["COLUMNS", "ReplicateTable", "checkpoint_path"]

Row = dict[str, Any]

#: Columns of a replicate table, in order.
COLUMNS: tuple[str, ...] = tuple(
    "rep seed measure method estimate log_estimate se ci_low ci_high p_value n events "
    "variance se_model se_robust true_log_effect error".split()
)
_FLOATS = (
    "estimate",
    "log_estimate",
    "se",
    "ci_low",
    "ci_high",
    "p_value",
    "se_model",
    "se_robust",
    "true_log_effect",
)
_TEXT = ("seed", "measure", "method", "variance", "error")
#: Key of the run's identity in a checkpoint's parquet metadata (``DataFrame.attrs``).
META_KEY = "reawaken_replicates"
#: Format of the checkpoint files this version writes and reads.
FORMAT = "reawaken-replicates-v3"


def tidy(rows: Sequence[Row] | pd.DataFrame, true_log_effect: float) -> pd.DataFrame:
    """Canonical replicate table: :data:`COLUMNS`, fixed dtypes, sorted by ``rep``."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows.copy()
    df = df.reindex(columns=list(COLUMNS))
    df["true_log_effect"] = true_log_effect
    df["rep"] = df["rep"].astype("int64")
    for c in _FLOATS:
        df[c] = df[c].astype("float64")
    for c in ("n", "events"):
        df[c] = df[c].astype("Int64")
    for c in _TEXT:
        df[c] = df[c].astype("object").where(df[c].notna(), None)
    return df.sort_values("rep", kind="stable").reset_index(drop=True)


def analysis_label(analysis: Callable[..., Any]) -> str:
    """``module.qualname`` of an analysis function (of its class for a callable object)."""
    target = analysis if hasattr(analysis, "__qualname__") else type(analysis)
    return f"{getattr(target, '__module__', '?')}.{target.__qualname__}"


def fingerprint(scenario: Scenario) -> str:
    """sha256 of ``repr(scenario)``: any change to the (frozen) scenario changes it."""
    return hashlib.sha256(repr(scenario).encode("utf-8")).hexdigest()


def checkpoint_path(folder: str | os.PathLike[str], meta: dict[str, Any]) -> Path:
    """``folder/<scenario>-<fingerprint>.parquet``: sha256 of the seed, the scenario and the
    analysis (not ``reps``, which a rerun may grow); the folder is created if missing."""
    keys = ("format", "seed", "scenario", "scenario_sha256", "analysis")
    digest = hashlib.sha256(repr([meta[k] for k in keys]).encode("utf-8")).hexdigest()[:20]
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in meta["scenario"])[:60]
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise InputFileError(f"checkpoint folder {path} is a file; fix: name a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path / f"{name}-{digest}.parquet"


def load_checkpoint(path: Path, meta: dict[str, Any]) -> pd.DataFrame | None:
    """Rows of an earlier run with the same seed, scenario and analysis, or ``None``."""
    if not path.exists():
        return None
    fix = f"fix: delete {path} to start over, or write to another file (--out / out=)"
    try:
        df = pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputFileError(f"cannot read the checkpoint {path} ({exc}); {fix}") from exc
    stored = df.attrs.get(META_KEY)
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        raise InputFileError(f"{path} is not a reawaken replicate checkpoint; {fix}")
    differ = [
        k for k in ("seed", "scenario", "scenario_sha256", "analysis") if stored.get(k) != meta[k]
    ]
    if differ:
        what = ", ".join(f"{k} {stored.get(k)!r} (now {meta[k]!r})" for k in differ)
        raise InputFileError(f"{path} holds replicates of another run: {what}; {fix}")
    missing = set(COLUMNS) - set(df.columns)
    if missing or df["rep"].duplicated().any():
        raise InputFileError(f"{path} is a damaged replicate checkpoint; {fix}")
    return df


@dataclass(frozen=True, eq=False)
class ReplicateTable:
    """Replicates of a study analysis, one row per replicate (columns :data:`COLUMNS`).

    Attributes
    ----------
    data : pandas.DataFrame
        Sorted by ``rep``; ``seed`` is ``"<entropy>/<rep>"``: ``SeedSequence(entropy,
        spawn_key=(rep,))`` re-creates the replicate. Failed replicates have missing estimates
        and their message in ``error``.
    true_log_effect : float
        The true log effect the estimates target: ``log(true_effect)`` when given, else the
        stored defined truth of the study analysis in this scenario (:mod:`reawaken.truth`),
        else NaN.
    scenario : str
        Scenario name.
    seed : int
        Root seed.
    computed : int
        Replicates computed by this call (the rest were read from the checkpoint file).
    true_log_effect_mcse : float
        Monte Carlo SE of a defined truth (0 for a given ``true_effect``, NaN when unknown).
    """

    data: pd.DataFrame
    true_log_effect: float
    scenario: str
    seed: int
    computed: int
    true_log_effect_mcse: float = math.nan

    @property
    def n_failed(self) -> int:
        """Replicates whose analysis raised a ReawakenError."""
        return int(self.data["error"].notna().sum())

    def performance(
        self, *, true_log_effect: float | None = None, level: float = 0.95, alpha: float = 0.05
    ) -> Performance:
        """:func:`performance` against ``true_log_effect`` (default: the table's own truth, with
        its MCSE)."""
        if true_log_effect is None:
            truth, mcse = self.true_log_effect, self.true_log_effect_mcse
        else:
            truth, mcse = true_log_effect, 0.0
        mcse = 0.0 if math.isnan(mcse) else mcse
        return performance(
            self, true_log_effect=truth, level=level, alpha=alpha, true_log_effect_mcse=mcse
        )

    def summary(self) -> str:
        """One line: replicates, failures, geometric-mean estimate with MCSE, mean SE, truth."""
        ok = self.data.loc[self.data["error"].isna()]
        head = f"{self.scenario}: {len(self.data)} replicates (seed {self.seed}), "
        head += f"{self.n_failed} failed"
        if len(ok) == 0:
            return head
        logs = ok["log_estimate"].to_numpy()
        mcse = logs.std(ddof=1) / np.sqrt(len(logs)) if len(logs) > 1 else np.nan
        truth = "unknown" if np.isnan(self.true_log_effect) else f"{self.true_log_effect:.4f}"
        if self.true_log_effect_mcse > 0:
            truth += f" (defined truth, MCSE {self.true_log_effect_mcse:.4f})"
        return (
            f"{head}; geometric-mean {ok['measure'].iloc[0]} {np.exp(logs.mean()):.3f}, "
            f"mean log {logs.mean():.4f} (MCSE {mcse:.4f}), mean SE {ok['se'].mean():.4f}, "
            f"{ok['events'].mean():.1f} events; true log effect {truth}"
        )
