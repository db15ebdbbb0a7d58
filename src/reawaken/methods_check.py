"""Methods check: an ADEMP simulation study of every study analysis against its defined truth.

Following Morris, White & Crowther, "Using simulation studies to evaluate statistical
methods", Stat Med 2019;38:2074-2102:

* **Aims**: do the study analyses give valid inference (coverage, type I error) for what they
  estimate in the scenarios the package ships?
* **Data-generating mechanisms**: each preset under its own effect and under the null (every
  window of the effect at HR 1), at the preset size; or, for a quick check, the reduced
  versions (a smaller cohort with the outcome hazard scaled up, :func:`reawaken.truth.
  reduced_scenario`).
* **Estimands**: the defined truth of each analysis in each scenario version, its probability
  limit including any design bias (:mod:`reawaken.truth`, stored with its MCSE).
* **Methods**: every study analysis that applies to the preset
  (:func:`reawaken.truth.applicable_analyses`), with every variance its replicate table carries
  (``se``, the analysis' own, labelled by its kind; ``se_model``; ``se_robust``).
* **Performance measures** (Table 6, each with its MCSE): bias against the truth (MCSE includes
  the truth's own), empirical SE, model SE (root mean squared SE), SE ratio = model SE /
  empirical SE, coverage of the 95% Wald CI of the truth, and the rejection rate of ratio = 1
  (type I error under the null, power under the preset effect).

Verdict (:func:`verdict`): a row is valid when its coverage lies within ``0.95 ± z MCSE`` and,
under the null, its rejection rate within ``0.05 ± z MCSE``, with the MCSE at the nominal value
(``sqrt(0.95 × 0.05 / n)``, the SE of the estimate if the method were exact) and ``z = 2.5`` by
default (the tests use 3.9: a correct method fails with probability < 1e-4). The published-style
matched OR and the unmatched test-negative OR (:data:`EXEMPT`) are reported, with their verdict
in parentheses, but exempt: they are not null-preserving (their truth under the null is not 0).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .checks import checked
from .errors import AnalysisError
from .evaluate import ReplicateTable, replicate_pool, run_replicates
from .performance import performance
from .scenario import list_presets, load_scenario
from .study.analyses import STUDY_ANALYSES
from .truth import (
    Truth,
    applicable_analyses,
    recompute_command,
    scenario_version,
    stored_truth,
)

#: Analyses reported but exempt from the verdict (not null-preserving: under the null their
#: defined truth is not 0, so they reject ratio = 1 too often), with the reason.
EXEMPT: dict[str, str] = {
    "matched_or": "published-style OR, not null-preserving: controls censored at a later "
    "positive test, lost or followed for less time count as 'no outcome'",
    "test_negative_logistic": "unmatched test-negative OR, not null-preserving: the outcome is "
    "counted over unequal follow-up after the index test, and deaths from other causes soon "
    "after infection remove test-positive persons",
}
#: Replicate-table columns holding a variance of the log estimate.
VARIANCE_COLUMNS: tuple[str, ...] = ("se", "se_model", "se_robust")
#: Default number of MCSEs around the nominal values in the verdict.
VERDICT_Z = 2.5
NOMINAL_COVERAGE = 0.95
ALPHA = 0.05
#: Columns of :attr:`MethodsCheck.table`, in order.
COLUMNS: tuple[str, ...] = tuple(
    "preset version effect analysis measure variance reps failed log_truth truth_mcse "
    "causal_effect bias bias_mcse empirical_se empirical_se_mcse model_se model_se_mcse "
    "se_ratio se_ratio_mcse coverage coverage_mcse rejection rejection_mcse valid problems".split()
)


# -------------------------------------------------------------------------------- computation


def variance_columns(data: pd.DataFrame) -> list[tuple[str, str]]:
    """``(column, label)`` of each variance a replicate table carries: ``se`` (labelled
    ``se (<kind>)`` by its ``variance`` column), then ``se_model`` and ``se_robust`` where they
    hold values that differ from ``se``."""
    ok = data["error"].isna()
    kinds = sorted(set(data.loc[ok, "variance"].dropna()))
    out = [("se", f"se ({'/'.join(kinds) or 'model'})")]
    for col in VARIANCE_COLUMNS[1:]:
        values = data.loc[ok, col].to_numpy(float)
        if np.isfinite(values).sum() >= 2 and not np.allclose(
            values, data.loc[ok, "se"].to_numpy(float), equal_nan=True
        ):
            out.append((col, col))
    return out


def cell_measures(table: ReplicateTable, truth: Truth, column: str) -> dict[str, float]:
    """The performance measures of one variance column against the defined truth."""
    perf = performance(
        table.data,
        true_log_effect=truth.log_truth,
        true_log_effect_mcse=truth.mcse,
        se_column=column,
        alpha=ALPHA,
    )
    est, mc = perf.estimate, perf.mcse
    return {
        "reps": perf.n_reps + perf.n_failed,
        "failed": perf.n_failed,
        "bias": est("bias"),
        "bias_mcse": mc("bias"),
        "empirical_se": est("empirical_se"),
        "empirical_se_mcse": mc("empirical_se"),
        "model_se": est("model_se"),
        "model_se_mcse": mc("model_se"),
        "se_ratio": perf.se_ratio[0],
        "se_ratio_mcse": perf.se_ratio[1],
        "coverage": est("coverage"),
        "coverage_mcse": mc("coverage"),
        "rejection": est("rejection_rate"),
        "rejection_mcse": mc("rejection_rate"),
    }


def _truth_for(scenario_name: str, sc: Any, analysis: str) -> Truth:
    truth = stored_truth(sc, analysis)
    if truth is None:
        raise AnalysisError(
            f"no stored truth of {analysis} in {sc.name} (missing, or the preset changed since "
            f"it was computed); fix: run `{recompute_command(scenario_name)}`"
        )
    return truth


@checked
def methods_check(
    presets: Sequence[str] | None = None,
    *,
    reps: int = 1000,
    seed: int,
    reduced: bool = False,
    executor: str = "processes",
    workers: int | None = None,
    progress: bool = False,
    z: float = VERDICT_Z,
) -> MethodsCheck:
    """Run the methods check (see module docstring) on ``presets`` (default: all shipped).

    Each cell (preset version × analysis) runs ``reps`` replicates from the root ``seed``
    through :func:`reawaken.evaluate.run_replicates`; the analyses of a version share their
    cohorts (common random numbers). ``reduced`` checks the reduced versions instead.

    Raises
    ------
    AnalysisError
        When a cell has no stored truth (a preset changed since ``reawaken truth --write``).

    Examples
    --------
    >>> import reawaken as rw
    >>> check = rw.methods_check(["flatiron_lung_mets"], reps=3, seed=1, reduced=True,
    ...                          executor="serial")
    >>> type(check).__name__
    'MethodsCheck'
    """
    names = list(list_presets() if presets is None else presets)
    if reps < 2:
        raise AnalysisError(f"the methods check needs reps >= 2, got {reps}; fix: --reps 1000")
    versions = ("reduced", "reduced-null") if reduced else ("preset", "null")
    cells = []
    for name in names:
        preset = load_scenario(name)
        for version in versions:
            sc = scenario_version(preset, version)
            for analysis in applicable_analyses(preset):
                cells.append((name, version, sc, analysis, _truth_for(name, sc, analysis)))
    rows = []
    with replicate_pool(executor, workers) as pool:
        for name, version, sc, analysis, truth in cells:
            table = run_replicates(
                replace(sc, name=f"{sc.name} {analysis}"),  # the progress bar's label
                STUDY_ANALYSES[analysis],
                reps=reps,
                seed=seed,
                executor=pool,
                workers=workers,
                progress=progress,
            )
            rows += _cell_rows(name, version, analysis, table, truth, z)
    return MethodsCheck(pd.DataFrame(rows, columns=list(COLUMNS)), reps, seed, reduced, z)


def _cell_rows(
    name: str, version: str, analysis: str, table: ReplicateTable, truth: Truth, z: float
) -> list[dict[str, Any]]:
    null = version.endswith("null")
    rows = []
    for column, label in variance_columns(table.data):
        m = cell_measures(table, truth, column)
        valid, problems = verdict(m["coverage"], m["rejection"], m["reps"] - m["failed"], null, z)
        if analysis in EXEMPT:
            valid = f"exempt ({valid})"
        rows.append(
            {
                "preset": name,
                "version": version,
                "effect": "null" if null else "preset",
                "analysis": analysis,
                "measure": truth.measure,
                "variance": label,
                "log_truth": truth.log_truth,
                "truth_mcse": truth.mcse,
                "causal_effect": truth.causal_effect,
                **m,
                "valid": valid,
                "problems": problems,
            }
        )
    return rows


# -------------------------------------------------------------------------------------- rules


def verdict(coverage: float, rejection: float, n: int, null: bool, z: float) -> tuple[str, str]:
    """``("yes" | "no", problems)``: coverage within ``0.95 ± z sqrt(0.95 × 0.05 / n)`` and,
    under the null, rejection within ``0.05 ± z sqrt(0.05 × 0.95 / n)`` (nominal MCSEs)."""
    problems = []
    checks = [("coverage", coverage, NOMINAL_COVERAGE)]
    if null:
        checks.append(("null rejection", rejection, ALPHA))
    for what, value, nominal in checks:
        half = z * math.sqrt(nominal * (1 - nominal) / max(n, 1))
        if not abs(value - nominal) <= half:
            problems.append(f"{what} {value:.3f} outside {nominal:.2f} ± {half:.3f}")
    return ("no" if problems else "yes"), "; ".join(problems)


# ---------------------------------------------------------------------------------- formatting


def _pm(value: float, mcse: float, digits: int = 3) -> str:
    return f"{value:.{digits}f} ({mcse:.{digits}f})"


def _display(row: dict[str, Any]) -> dict[str, str]:
    """The displayed cells of one row: each measure with its MCSE in parentheses."""
    return {
        "preset": row["preset"],
        "effect": row["effect"],
        "analysis": row["analysis"],
        "variance": row["variance"],
        "truth": f"{row['measure']} {math.exp(row['log_truth']):.3f}",
        "log truth (MCSE)": _pm(row["log_truth"], row["truth_mcse"], 4),
        "bias": _pm(row["bias"], row["bias_mcse"], 4),
        "emp SE": _pm(row["empirical_se"], row["empirical_se_mcse"]),
        "model SE": _pm(row["model_se"], row["model_se_mcse"]),
        "SE ratio": _pm(row["se_ratio"], row["se_ratio_mcse"]),
        "coverage": _pm(row["coverage"], row["coverage_mcse"]),
        "rejection": _pm(row["rejection"], row["rejection_mcse"]),
        "reps (failed)": f"{row['reps']} ({row['failed']})",
        "valid": row["valid"],
    }


@dataclass(frozen=True, eq=False)
class MethodsCheck:
    """The methods-check table (columns :data:`COLUMNS`) and its settings."""

    table: pd.DataFrame
    reps: int
    seed: int
    reduced: bool
    z: float

    @property
    def primary(self) -> pd.DataFrame:
        """The rows of each analysis' own SE (``se``), the ones the verdict is about; the rows
        of its other variances show what they would give."""
        return self.table[self.table["variance"].str.startswith("se (")]

    @property
    def passed(self) -> bool:
        """Every non-exempt analysis is valid with its own SE (exempt rows show their verdict
        in parentheses)."""
        return bool((self.primary["valid"] != "no").all())

    def header(self) -> str:
        size = "reduced cohorts" if self.reduced else "preset sizes"
        return (
            f"methods check ({size}, {self.reps} replicates per cell, seed {self.seed}): "
            f"measures (MCSE) against each analysis' defined truth; valid = coverage within "
            f"0.95 ± {self.z:g} MCSE and, under the null, rejection of ratio = 1 within "
            f"0.05 ± {self.z:g} MCSE; passed = valid with each analysis' own SE (se): "
            f"{'yes' if self.passed else 'no'}"
        )

    def summary(self) -> str:
        """Aligned text table with a header line and the problems of each invalid row."""
        cells = pd.DataFrame([_display(r) for r in self.table.to_dict("records")])
        return "\n".join([self.header(), cells.to_string(index=False), *self.notes()])

    def to_markdown(self) -> str:
        """A Markdown table (for the README), then the exemptions and problems as a list."""
        cells = [_display(r) for r in self.table.to_dict("records")]
        head = list(cells[0]) if cells else []
        lines = [self.header() + ".", "", "| " + " | ".join(head) + " |"]
        lines.append("|" + "---|" * len(head))
        lines += ["| " + " | ".join(c.values()) + " |" for c in cells]
        return "\n".join([*lines, "", *self.notes()]) + "\n"

    def notes(self) -> list[str]:
        """Causal effects, exemptions and the problems of each row, as Markdown list items."""
        t = self.table
        notes = [
            f"- causal effect, {p} {e}: {c}"
            for p, e, c in t[["preset", "effect", "causal_effect"]]
            .drop_duplicates()
            .itertuples(index=False)
        ]
        notes += [f"- exempt: {a}: {why}" for a, why in EXEMPT.items() if a in set(t["analysis"])]
        notes += [
            f"- {r.preset}, {r.effect}, {r.analysis}, {r.variance}: {r.problems}"
            for r in t.itertuples()
            if r.problems
        ]
        return notes

    def to_records(self) -> list[dict[str, Any]]:
        """The table as JSON-ready records (NaN as None)."""
        return self.table.astype(object).where(self.table.notna(), None).to_dict("records")
