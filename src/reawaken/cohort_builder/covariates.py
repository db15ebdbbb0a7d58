"""Covariate columns of a built cohort: numeric columns as they are, nominal ones dummy-coded.

A nominal column with levels ``L0, L1, ..., Lk`` (``L0`` the reference) becomes ``k`` columns
``<name>_<Lj> = 1[x = Lj]`` (treatment coding, as R's ``contr.treatment``); a missing value
stays missing in every dummy.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import CohortError

__all__ = ["covariate_frame", "dummy_code"]


def covariate_frame(
    persons: pd.DataFrame,
    covariates: Sequence[str] | None,
    categorical: Mapping[str, Sequence[Hashable] | None] | None,
    *,
    exclude: set,
) -> tuple[pd.DataFrame, list[str]]:
    """Covariates of the persons table: numeric kept, ``categorical`` ones dummy-coded.

    Parameters
    ----------
    persons : pandas.DataFrame
        The persons table.
    covariates : sequence of str, optional
        Columns to keep; by default every numeric/boolean column not in ``exclude``, plus the
        categorical ones.
    categorical : mapping, optional
        Column -> levels (first = reference), or ``None`` for the sorted distinct values.
    exclude : set
        Columns that are not covariates (id, dates).

    Returns
    -------
    tuple of (pandas.DataFrame, list of str)
        The covariate columns (float) with the persons' index, and notes about columns left out.

    Raises
    ------
    CohortError
        If a named covariate is missing or non-numeric without being categorical, or a
        categorical column holds values outside its levels.
    """
    categorical = dict(categorical or {})
    notes: list[str] = []
    if covariates is None:
        names = [c for c in persons.columns if c not in exclude]
        skipped = [c for c in names if c not in categorical and not _numeric(persons[c])]
        if skipped:
            notes.append(
                f"not used as covariates (not numeric): {', '.join(map(str, skipped))}; list "
                "nominal ones under categorical to dummy-code them"
            )
        names = [c for c in names if c not in skipped]
    else:
        names = [covariates] if isinstance(covariates, str) else list(covariates)
        names += [c for c in categorical if c not in names]
    _check_names(persons, names, categorical)
    cols: dict[str, np.ndarray] = {}
    for name in names:
        if name in categorical:
            cols.update(dummy_code(persons[name], name, categorical[name]))
        else:
            cols[str(name)] = persons[name].to_numpy(dtype="float64", na_value=np.nan)
    return pd.DataFrame(cols, index=persons.index), notes


def _numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)


def _check_names(persons: pd.DataFrame, names: list, categorical: dict) -> None:
    missing = [c for c in names if c not in persons.columns]
    if missing:
        raise CohortError(
            f"covariate column(s) {', '.join(map(repr, missing))} not in the persons table "
            f"(columns: {', '.join(map(str, persons.columns))}); fix: correct the names"
        )
    text = [c for c in names if c not in categorical and not _numeric(persons[c])]
    if text:
        raise CohortError(
            f"covariate(s) {', '.join(map(repr, text))} are not numeric; fix: list nominal ones "
            "under categorical (dummy coding), or convert them to numbers"
        )


def dummy_code(
    values: pd.Series, name: str, levels: Sequence[Hashable] | None
) -> dict[str, np.ndarray]:
    """Treatment (dummy) coding against the first level: ``<name>_<level> = 1[x = level]``.

    Parameters
    ----------
    values : pandas.Series
        The nominal column.
    name : str
        Column name, the prefix of the dummies.
    levels : sequence, optional
        All levels, reference first; ``None``: the sorted distinct non-missing values.

    Returns
    -------
    dict of str to numpy.ndarray
        One float 0/1 column per non-reference level; NaN where the value is missing.

    Raises
    ------
    CohortError
        If there are fewer than two levels, or values outside ``levels``.
    """
    present = values.dropna()
    if levels is None:
        levels = sorted(pd.unique(present), key=str)
    levels = list(levels)
    unknown = pd.unique(present[~present.isin(levels)])
    if len(unknown):
        raise CohortError(
            f"categorical {name!r} has values outside its levels {levels}: "
            f"{', '.join(map(repr, unknown[:5]))}; fix: add them to the levels or recode them"
        )
    if len(levels) < 2:
        raise CohortError(
            f"categorical {name!r} has fewer than two levels ({levels}); fix: drop it from the "
            "covariates"
        )
    missing = values.isna().to_numpy()
    out = {}
    for level in levels[1:]:
        column = (values == level).to_numpy(dtype="float64")
        column[missing] = np.nan
        out[f"{name}_{level}"] = column
    return out
