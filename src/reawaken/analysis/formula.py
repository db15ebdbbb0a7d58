"""Model formulas as epidemiologists write them: ``"exposed + age + C(stage) + her2"``.

A right-hand-side Wilkinson–Rogers formula (Wilkinson & Rogers, Appl Stat 1973), parsed and
materialized by formulaic (the library lifelines' ``CoxPHFitter(formula=...)`` uses), so the
design matrix is lifelines' and, for the same contrasts and knots, R's ``model.matrix``:

- ``C(stage)`` or a text column: treatment (dummy) coding against the first level; another
  reference by ``C(stage, contr.treatment("II"))``;
- ``a:b`` interaction, ``a*b`` = ``a + b + a:b``; ``I(age / 10)`` arithmetic; ``np.log(x)``;
- splines: ``bs(age, df=4)`` (B-spline, knots at quantiles, R ``splines::bs``),
  ``cr(age, df=4, constraints="center")`` (natural cubic regression spline, mgcv's ``cr``;
  without ``constraints="center"`` its columns sum to 1 and a Cox model cannot tell them from
  the baseline hazard, which is refused below).

A Cox model has no intercept (the baseline hazard absorbs it): the matrix is built *with* an
intercept, so that categorical terms get reduced-rank (dummy) coding as in R's ``coxph``, and
the intercept column is dropped — lifelines does the same. Missing values in a variable the
formula uses are an error, not silently dropped rows.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np
import pandas as pd
from formulaic import Formula, ModelSpec
from formulaic.errors import FormulaicError

from ..checks import checked
from ..errors import AnalysisError
from ..inputs import require_columns, require_frame

INTERCEPT = "Intercept"


@dataclass(frozen=True)
class DesignMatrix:
    """A materialized formula: ``frame`` (float columns named as formulaic names them, e.g.
    ``C(stage)[T.II]``, row index of the data), the ``formula`` text and formulaic's ``spec``
    (knots, levels: reuse it on new data with ``spec.get_model_matrix``)."""

    frame: pd.DataFrame
    formula: str
    spec: ModelSpec

    @property
    def terms(self) -> list[str]:
        return [str(c) for c in self.frame.columns]


def parse_formula(formula: object, where: str) -> Formula:
    """A right-hand-side formula, checked: a non-empty string without a left-hand side.

    ``"~ a + b"`` is accepted as ``"a + b"`` (lifelines' and statsmodels' habit).
    """
    if not isinstance(formula, str) or not formula.strip():
        raise AnalysisError(
            f"{where}: formula must be a non-empty string, got {formula!r}; fix: pass e.g. "
            "formula='exposed + age + C(stage)'"
        )
    text = formula.strip()
    text = text[1:].strip() if text.startswith("~") else text
    if "~" in text:
        raise AnalysisError(
            f"{where}: formula {formula!r} has a left-hand side; fix: give only the right-hand "
            "side (the outcome is given by duration/event), e.g. 'exposed + age'"
        )
    try:
        return Formula(text)
    except (FormulaicError, SyntaxError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise AnalysisError(
            f"{where}: cannot parse formula {formula!r} ({first}); fix: write terms joined by "
            "'+', e.g. 'exposed + age + C(stage) + exposed:her2'"
        ) from None


def formula_variables(formula: str, where: str = "formula") -> list[str]:
    """Data columns a formula uses (sorted), e.g. ``["age", "exposed", "stage"]``: the names
    read (not called) in each factor; formulaic's ``required_variables`` misses the arguments
    of stateful transforms such as ``bs(age)``."""
    names: set[str] = set()
    for term in parse_formula(formula, where):
        for factor in term.factors:
            if factor.eval_method.value == "lookup":
                names.add(str(factor.expr))
            elif factor.eval_method.value == "python":
                names |= _read_names(str(factor.expr))
    return sorted(names)


def _read_names(expr: str) -> set[str]:
    """Names loaded in a Python expression, minus called functions and module roots."""
    tree = ast.parse(expr, mode="eval")
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    roots = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return {
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and id(n) not in called and id(n) not in roots
    }


@checked(skip=("data",))
def design_matrix(data: pd.DataFrame, formula: str, where: str) -> DesignMatrix:
    """Design matrix of ``formula`` on ``data`` for a model without intercept (see module
    docstring); formula columns are ``X`` of ``h(t | x) = h0(t) exp(x'beta)`` (Cox 1972).

    Raises
    ------
    AnalysisError
        Unparseable formula, unknown or missing-valued variables, a formula without intercept
        (``0 +`` / ``- 1``: dummies for every level would duplicate the baseline), constant or
        collinear columns.

    Examples
    --------
    >>> import reawaken as rw
    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi()
    >>> dm = rw.design_matrix(rossi, "fin + age + C(race)", "example")
    >>> dm.frame.columns.tolist()
    ['fin', 'age', 'C(race)[T.1]']
    """
    require_frame(data, where)
    parsed = parse_formula(formula, where)
    variables = formula_variables(formula, where)
    require_columns(data, variables, where)
    for name in variables:
        missing = data[name].isna().to_numpy()
        if missing.any():
            raise AnalysisError(
                f"{where}: column {name!r} (in the formula) has {int(missing.sum())} missing "
                f"value(s) (e.g. row {int(np.flatnonzero(missing)[0])}); fix: drop or impute "
                "those rows"
            )
    try:
        mm = parsed.get_model_matrix(data, ensure_full_rank=True, na_action="raise")
    except (FormulaicError, ValueError, TypeError, NameError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0]
        raise AnalysisError(
            f"{where}: cannot build formula {formula!r} on the data ({first}); fix: drop or "
            "impute missing values and check the variable names and transforms"
        ) from None
    if INTERCEPT not in mm.columns:
        raise AnalysisError(
            f"{where}: formula {formula!r} removes the intercept; fix: drop '0 +' / '- 1' (a "
            "Cox model's baseline hazard is the intercept; dummies still get reference coding)"
        )
    frame = pd.DataFrame(np.asarray(mm, dtype=float), columns=mm.columns, index=data.index)
    frame = frame.drop(columns=INTERCEPT)
    if frame.shape[1] == 0:
        raise AnalysisError(
            f"{where}: formula {formula!r} has no terms; fix: name at least one variable"
        )
    _check_identifiable(frame, formula, where)
    return DesignMatrix(frame=frame, formula=formula, spec=mm.model_spec)


def _check_identifiable(frame: pd.DataFrame, formula: str, where: str) -> None:
    """Columns must vary and, with a constant (the baseline), be linearly independent."""
    x = frame.to_numpy()
    constant = [c for c, col in zip(frame.columns, x.T, strict=True) if np.ptp(col) == 0]
    if constant:
        raise AnalysisError(
            f"{where}: formula column(s) {', '.join(map(repr, constant))} take a single value "
            "(e.g. a level absent from the data, or an empty arm); fix: drop the term"
        )
    centred = x - x.mean(axis=0)
    scale = np.sqrt((centred**2).sum(axis=0))
    rank = np.linalg.matrix_rank(centred / scale, tol=1e-9 * np.sqrt(len(x)))
    if rank < x.shape[1]:
        raise AnalysisError(
            f"{where}: formula {formula!r} gives {x.shape[1]} columns of rank {rank} with the "
            "baseline hazard (collinear terms); fix: drop a duplicated term, or centre a spline "
            "whose basis sums to 1, e.g. cr(age, df=4, constraints='center')"
        )


def drop_variable(
    formula: str, variable: str, where: str = "formula"
) -> tuple[str | None, list[str]]:
    """The formula without the terms that involve ``variable`` (its main effect and
    interactions), and the dropped terms; ``None`` when nothing is left. E.g. the adjustment
    part of ``"exposed + age + exposed:her2"`` is ``"age"`` (dropped: ``exposed``,
    ``exposed:her2``)."""
    kept, dropped = [], []
    for term in parse_formula(formula, where):
        factors = [str(f.expr) for f in term.factors]
        if factors == ["1"]:
            continue
        uses = set()
        for f in term.factors:
            uses |= {str(f.expr)} if f.eval_method.value == "lookup" else _read_names(str(f.expr))
        (dropped if variable in uses else kept).append(str(term))
    return (" + ".join(kept) or None), dropped
