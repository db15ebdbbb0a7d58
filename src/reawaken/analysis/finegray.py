"""Fine–Gray subdistribution hazards as a weighted Cox model (Fine & Gray, JASA 1999;
Geskus, Biometrics 2011; R survival's ``finegray``).

Persons with a competing event stay in the risk set after their event with weight
``G(t-)/G(T_i-)``, ``G`` the Kaplan–Meier estimate of the censoring distribution;
:func:`finegray_expand` builds the counting-process rows and :func:`fit_fine_gray` fits them
with :func:`reawaken.analysis.cox.fit_cox` (robust SE clustered on person).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ..checks import checked
from ..errors import AnalysisError
from ..inputs import numeric_column, require_columns
from .competing import _codes_and_times
from .cox import fit_cox
from .matched_variance import clipping_note, matched_coefficient_table, matched_variances
from .results import SE_COLUMNS, ModelResult

EXPANDED_COLUMNS = ("id", "start", "stop", "event", "weight")


def _censoring_survival_before(t: np.ndarray, codes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """G(at-): Kaplan–Meier of the censoring times (code 0) just before ``at``, with events
    at a tied time leaving the risk set before the censorings (R survival's ``finegray``)."""
    cens = np.unique(t[codes == 0])
    if cens.size == 0:
        return np.ones(at.shape)
    st = np.sort(t)
    at_risk = st.size - np.searchsorted(st, cens, side="left")
    ev = np.sort(t[codes > 0])
    events_there = np.searchsorted(ev, cens, side="right") - np.searchsorted(ev, cens, side="left")
    m = np.bincount(np.searchsorted(cens, t[codes == 0]), minlength=cens.size)
    g = np.cumprod(1.0 - m / (at_risk - events_there))
    idx = np.searchsorted(cens, at, side="left")
    return np.r_[1.0, g][idx]


def finegray_expand(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    cause: int,
    covariates: Sequence[str],
) -> pd.DataFrame:
    """Counting-process data whose weighted Cox fit is the Fine–Gray model.

    Every person i keeps a row (0, T_i] with weight 1 and event 1 if the event is ``cause``.
    A person with a competing event keeps being at risk after T_i with weight w_i(t) =
    G(t-)/G(T_i-) (Fine & Gray, JASA 1999; Geskus, Biometrics 2011), G the Kaplan–Meier of the
    censoring distribution (code 0), evaluated left-continuously with events at a tied time
    leaving before the censorings, as R survival's ``finegray``. The extra rows split the time
    after T_i at the distinct event times of ``cause`` (up to the last one); adjacent pieces with
    equal weight (no censoring between their event times) are merged, which changes no risk set.

    Returns
    -------
    DataFrame
        ``id, start, stop, event, weight, <covariates>`` sorted by ``id, start``; ``id`` is the
        person's row position in ``data``. Rows start at 0, or at -1 if some T_i is 0.
    """
    where = "finegray_expand"
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    t, codes = _codes_and_times(data, duration, event, cause, where, covariates)
    clash = [c for c in covariates if c in EXPANDED_COLUMNS]
    if clash:
        raise AnalysisError(
            f"{where}: covariate name(s) {', '.join(map(repr, clash))} clash with the output "
            f"columns {EXPANDED_COLUMNS}; fix: rename them"
        )
    x = {c: numeric_column(data, c, where) for c in covariates}
    n = t.size
    origin = 0.0 if t.min() > 0 else -1.0
    u = np.unique(t[codes == cause])
    gu = _censoring_survival_before(t, codes, u)
    block = np.r_[0, np.cumsum(gu[1:] != gu[:-1])]
    block_end = u[np.r_[np.flatnonzero(np.diff(block)), u.size - 1]]
    block_weight = gu[np.r_[0, np.flatnonzero(np.diff(block)) + 1]]
    competing = np.flatnonzero((codes > 0) & (codes != cause) & (t < u[-1]))
    first = block[np.searchsorted(u, t[competing], side="right")]
    count = block.max() + 1 - first
    who = np.repeat(competing, count)
    b = np.repeat(first, count) + (
        np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    )
    start = np.where(b == np.repeat(first, count), t[who], block_end[np.maximum(b - 1, 0)])
    weight = block_weight[b] / np.repeat(_censoring_survival_before(t, codes, t[competing]), count)
    rows = np.r_[np.arange(n), who]
    out = pd.DataFrame(
        {
            "id": rows,
            "start": np.r_[np.full(n, origin), start],
            "stop": np.r_[t, block_end[b]],
            "event": np.r_[(codes == cause).astype(np.int64), np.zeros(who.size, np.int64)],
            "weight": np.r_[np.ones(n), weight],
        }
    )
    for c, values in x.items():
        out[c] = values[rows]
    return out.sort_values(["id", "start"], kind="stable", ignore_index=True)


@checked(skip=("data",))
def fit_fine_gray(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    cause: int,
    covariates: Sequence[str],
    ties: str = "breslow",
    cluster: str | None = None,
    sets: str | None = None,
) -> ModelResult:
    """Fine–Gray proportional subdistribution hazards model for the incidence of ``cause``.

    gamma_k(t | x) = gamma_k0(t) exp(x'beta), with gamma_k = -d log(1 - F_k) (Fine & Gray, JASA
    1999), fitted as a weighted Cox model on :func:`finegray_expand` data (Geskus, Biometrics
    2011; R ``coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt, data = finegray(...))``)
    with robust SEs clustered on person (Lin & Wei 1989). The robust SE does not account for
    the estimation of G (as R's ``coxph``; cmprsk's ``crr`` adds that term, which is small).

    Parameters
    ----------
    data : DataFrame
        One row per person — or, with ``cluster``, rows of persons who may recur (matched sets).
    duration, event : str
        Follow-up time (>= 0) and event code (0 censored, 1, 2, ...) columns.
    cause : int
        Code of the cause of interest; other non-zero codes are competing events.
    covariates : sequence of str
        Numeric, time-fixed model columns.
    ties : {"breslow", "efron"}
        Breslow (default) is the partial likelihood of Fine & Gray and cmprsk's ``crr``.
    cluster : str, optional
        Person id column: the robust SE clusters the expanded rows on it (default: each row
        of ``data`` is its own person).
    sets : str, optional
        Matched-set column (needs ``cluster``): the table adds the shared-members SE
        (:mod:`reawaken.analysis.matched_variance`: the score residuals summed by set, every
        pair of sets sharing a person dependent) and uses it for CI and p-value.

    Returns
    -------
    ModelResult
        ``hr`` is the subdistribution hazard ratio; ``n`` counts rows of ``data``;
        ``extra["rows"]`` the expanded rows.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> fit = rw.fit_fine_gray(cohort.data, duration="event_day", event="event", cause=2,
    ...                        covariates=["comorbidity"])
    >>> fit.table["term"].tolist()
    ['comorbidity']
    """
    if sets is not None and cluster is None:
        raise AnalysisError(
            "fit_fine_gray: sets= needs cluster= (the person id column); fix: pass both"
        )
    require_columns(data, [cluster, sets], "fit_fine_gray")
    expanded = finegray_expand(
        data, duration=duration, event=event, cause=cause, covariates=covariates
    )
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    source = expanded["id"].to_numpy()
    persons = source if cluster is None else data[cluster].to_numpy()[source]
    # fit_cox wants times >= 0 (rows start at -1 when some T_i = 0); a common shift keeps the
    # risk sets
    shift = max(0.0, -float(expanded["start"].min()))
    result = fit_cox(
        expanded.assign(start=expanded["start"] + shift, stop=expanded["stop"] + shift, id=persons),
        start="start",
        stop="stop",
        event="event",
        covariates=covariates,
        weights="weight",
        cluster="id",
        ties=ties,
    )
    variance = "robust SE clustered on person"
    if sets is not None:
        variances = matched_variances(
            result.extra["model_variance"],
            result.extra["score_residuals"],
            data[sets].to_numpy()[source],
            persons,
        )
        table = matched_coefficient_table(
            covariates, result.table["coef"].to_numpy(), variances, "shared-members"
        )
        result = replace(
            result,
            table=table,
            variance=variances.matrix("shared-members"),
            se_used=SE_COLUMNS["shared-members"],
            extra={**result.extra, "variances": variances},
        )
        variance = "shared-members SE over matched sets" + clipping_note(variances)
    return replace(
        result,
        n=len(data),
        measure="SHR",
        method=f"Fine-Gray subdistribution hazards (cause {cause}), weighted Cox on expanded "
        f"data, {ties}, {variance}",
        extra={**result.extra, "rows": len(expanded)},
    )
