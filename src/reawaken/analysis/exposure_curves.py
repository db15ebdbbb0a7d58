"""Survival curves for an exposure that happens during follow-up: Simon–Makuch and landmark.

Ever-exposed vs never-exposed Kaplan–Meier curves from entry credit the exposed with the
event-free time they had to survive to become exposed (immortal time). Two honest alternatives:

``simon_makuch``
    Simon & Makuch (Stat Med 1984): a product-limit estimate in which a person moves from the
    unexposed to the exposed curve on the exposure day (delayed entry into the exposed curve).
    Each curve is ``prod (1 - d_g(t) / n_g(t))`` over the hazards of the persons *currently*
    in group ``g``: a summary of the hazard by current exposure, **not** the survival function
    of a group of persons followed from entry (the exposed curve mixes persons at different
    times since exposure, and its early part rests on the few exposed early).
``landmark_curves``
    Anderson, Cain & Gelber (J Clin Oncol 1983): exposure status is fixed at a landmark time
    ``L`` (exposed by ``L`` or not), only persons event-free and under follow-up at ``L``
    enter, and follow-up restarts at ``L``. Proper Kaplan–Meier curves, but **conditional on
    survival to L**; exposure after ``L`` stays in the "not exposed by L" group.

Both use time since entry. Simon–Makuch curves are lifelines' ``KaplanMeierFitter(entry=...)``
per group on the episodes split at the exposure day: a row entering at ``t`` is not at risk at
``t`` (R survival's ``survfit(Surv(start, stop, event) ~ g)`` and :mod:`reawaken.engine`'s Cox
model use the same rule), so a person exposed on day ``t`` is in the unexposed risk set at
``t`` and in the exposed one after ``t``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter

from .. import schema
from ..checks import checked
from ..design.episodes import split_at_exposure
from ..errors import AnalysisError
from ..inputs import check_time_grid, default_at_risk_times, require_columns, require_frame
from .km import KaplanMeierResult, _at_risk_from_table, _first_at_or_below, kaplan_meier

UNEXPOSED, EXPOSED = "unexposed", "exposed"
SIMON_MAKUCH_CAPTION = (
    "Simon-Makuch curves: persons move from the unexposed to the exposed curve on the exposure "
    "day; each curve accumulates the hazard of the persons currently in the group and is not "
    "the survival of a group followed from entry"
)


def _product_limit(
    start: np.ndarray, stop: np.ndarray, d: np.ndarray, last: np.ndarray, level: float
) -> pd.DataFrame:
    """Delayed-entry product limit on (start, stop] rows: lifelines' ``KaplanMeierFitter(
    entry=start)``, one row per distinct entry, exit or event time (and time 0).

    n(t) = #{start < t <= stop}; S(t) = prod_{u <= t} (1 - d(u)/n(u)); Greenwood variance
    S^2 sum d / (n (n - d)) (Greenwood 1926); log(-log) CI (Kalbfleisch & Prentice 1980).
    lifelines' ``at_risk`` column lists the entrants at t, who are at risk only after t (its
    estimate excludes them), so n = at_risk - entrance; at time 0 the table shows the persons
    present at the start. ``last`` marks a person's last row: a last row without event is
    censored (a move to the other group is not).
    """
    kmf = KaplanMeierFitter(alpha=1 - level).fit(stop, d, entry=start)
    et = kmf.event_table
    times = et.index.to_numpy(float)
    n = (et["at_risk"] - et["entrance"]).to_numpy(float)
    events = et["observed"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(np.where(events > 0, events / (n * (n - events)), 0.0))
    s = kmf.survival_function_.iloc[:, 0].to_numpy()
    ci = kmf.confidence_interval_.to_numpy(copy=True)
    with np.errstate(invalid="ignore"):
        se = s * np.sqrt(greenwood)
    zero = s <= 0
    se[zero], ci[zero] = np.nan, np.nan
    at_stop = np.searchsorted(times, stop)
    table = pd.DataFrame(
        {
            "time": times,
            "n_at_risk": np.where(times == 0, et["at_risk"], n).astype(int),
            "events": events.astype(int),
            "censored": np.bincount(at_stop[(d == 0) & last], minlength=times.size),
            "entered": et["entrance"].to_numpy(int),
            "survival": s,
            "se": se,
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
        }
    )
    if times[0] > 0:  # nobody in the group at time 0 (e.g. nobody exposed at entry)
        origin = {c: 0 for c in ("n_at_risk", "events", "censored", "entered")}
        origin.update(time=0.0, survival=1.0, se=0.0, ci_low=1.0, ci_high=1.0)
        table = pd.concat([pd.DataFrame([origin]), table], ignore_index=True)
    return table


def _check_cohort(cohort: pd.DataFrame, where: str, level: float) -> None:
    require_frame(cohort, where)
    require_columns(cohort, schema.REQUIRED_COLUMNS, where)
    if not 0 < level < 1:
        raise AnalysisError(f"{where}: level must be in (0, 1), got {level!r}; fix: level=0.95")


@checked(skip=("data",))
def simon_makuch(
    data: pd.DataFrame,
    *,
    cause: int = 1,
    times: Iterable[float] | None = None,
    level: float = 0.95,
) -> KaplanMeierResult:
    """Simon–Makuch curves (Simon & Makuch, Stat Med 1984) of a Cohort table.

    S_g(t) = prod_{u <= t} (1 - d_g(u) / n_g(u)), with n_g(u) the persons in group g (exposed
    or not *at* u) at risk at u: follow-up is split at the exposure day
    (:func:`reawaken.design.episodes.split_at_exposure`) and the exposed rows enter late.
    Time is days since entry; events of other codes than ``cause`` are censored. Greenwood SE
    and log(-log) CI as :func:`reawaken.analysis.km.kaplan_meier` (they treat the curve as a
    product limit; see the module docstring for what it estimates: ``caption``).

    Returns
    -------
    KaplanMeierResult
        Groups ``"unexposed"`` and ``"exposed"``; ``table`` has a row at every entry, exit and
        event time (``entered`` counts persons joining the group then), so ``n_at_risk`` and
        :meth:`~reawaken.analysis.km.KaplanMeierResult.survival_at` count the persons in the
        group at a time.

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> curves = rw.simon_makuch(cohort.data, times=[0, 365, 730])
    >>> sorted(curves.groups)
    ['exposed', 'unexposed']
    """
    where = "simon_makuch"
    _check_cohort(data, where, level)
    episodes = split_at_exposure(data, cause=cause)
    entry = pd.Series(data[schema.ENTRY_DAY].to_numpy(float), index=data[schema.ID])
    shift = entry.loc[episodes[schema.ID]].to_numpy()
    start = episodes["start"].to_numpy(float) - shift
    stop = episodes["stop"].to_numpy(float) - shift
    d = episodes[schema.EVENT].to_numpy(float)
    if d.sum() == 0:
        raise AnalysisError(f"{where}: no events of cause {cause}; fix: check the event codes")
    last = np.r_[episodes[schema.ID].to_numpy()[1:] != episodes[schema.ID].to_numpy()[:-1], True]
    group = episodes["exposed"].to_numpy()
    grid = (
        default_at_risk_times(float(stop.max())) if times is None else check_time_grid(times, where)
    )
    tables, risks, medians = [], [], []
    for code, label in ((0, UNEXPOSED), (1, EXPOSED)):
        rows = group == code
        if not rows.any():
            continue
        tab = _product_limit(start[rows], stop[rows], d[rows], last[rows], level)
        tab.insert(0, "group", label)
        tables.append(tab)
        risks.append(
            pd.DataFrame(
                {"group": label, "time": grid, "n_at_risk": _at_risk_from_table(tab, grid)}
            )
        )
        curves = (tab["survival"], tab["ci_low"].fillna(0), tab["ci_high"].fillna(0))
        medians.append((label, *(_first_at_or_below(tab["time"], c.to_numpy()) for c in curves)))
    return KaplanMeierResult(
        table=pd.concat(tables, ignore_index=True),
        at_risk=pd.concat(risks, ignore_index=True),
        medians=pd.DataFrame(medians, columns=["group", "median", "ci_low", "ci_high"]),
        level=level,
        cause=cause,
        method=f"Simon-Makuch (cause {cause}, other codes censored), Greenwood SE, log(-log) CI",
        caption=SIMON_MAKUCH_CAPTION,
    )


@checked(skip=("data",))
def landmark_curves(
    data: pd.DataFrame,
    *,
    landmark: float,
    cause: int = 1,
    times: Iterable[float] | None = None,
    level: float = 0.95,
) -> KaplanMeierResult:
    """Landmark Kaplan–Meier curves (Anderson, Cain & Gelber, J Clin Oncol 1983).

    Persons with follow-up t = event_day - entry_day > ``landmark`` (event-free and observed
    just after the landmark) are grouped by exposure by the landmark (exposure_day -
    entry_day <= ``landmark``) and followed for t - ``landmark``; then
    :func:`reawaken.analysis.km.kaplan_meier` with ``cause``. The curves condition on survival
    to the landmark (``caption``).

    Examples
    --------
    >>> import numpy as np
    >>> import reawaken as rw
    >>> scenario = rw.load_scenario("flatiron_lung_mets").with_n(4000)
    >>> cohort = rw.simulate_cohort(scenario, np.random.default_rng(1))
    >>> curves = rw.landmark_curves(cohort.data, landmark=180, times=[180, 545])
    >>> sorted(curves.groups)
    ['exposed by day 180', 'not exposed by day 180']
    """
    where = "landmark_curves"
    _check_cohort(data, where, level)
    if (
        not isinstance(landmark, int | float | np.number)
        or not np.isfinite(landmark)
        or landmark < 0
        or isinstance(landmark, bool)
    ):
        raise AnalysisError(
            f"{where}: landmark must be a time >= 0 (days since entry), got {landmark!r}; "
            "fix: e.g. landmark=180"
        )
    entry = data[schema.ENTRY_DAY].to_numpy(float)
    t = data[schema.EVENT_DAY].to_numpy(float) - entry
    keep = t > landmark
    if not keep.any():
        raise AnalysisError(
            f"{where}: nobody is followed beyond the landmark {landmark:g}; fix: choose an "
            "earlier landmark"
        )
    with np.errstate(invalid="ignore"):
        by = (data[schema.EXPOSURE_DAY].to_numpy(float) - entry) <= landmark
    lab = f"{landmark:g}"
    frame = pd.DataFrame(
        {
            "time": t[keep] - landmark,
            "event": data[schema.EVENT].to_numpy()[keep],
            "group": np.where(by[keep], f"exposed by day {lab}", f"not exposed by day {lab}"),
        }
    )
    frame["group"] = pd.Categorical(
        frame["group"], [f"not exposed by day {lab}", f"exposed by day {lab}"]
    )
    km = kaplan_meier(
        frame, duration="time", event="event", group="group", times=times, cause=cause, level=level
    )
    caption = (
        f"Landmark curves at day {lab}: only the {int(keep.sum()):,} persons event-free and "
        f"followed at day {lab}, grouped by exposure by then and followed from then on; they "
        f"condition on survival to day {lab}, and exposure after it counts as unexposed"
    )
    return KaplanMeierResult(
        table=km.table,
        at_risk=km.at_risk,
        medians=km.medians,
        level=level,
        cause=km.cause,
        method=f"landmark Kaplan-Meier at day {lab} ({km.method})",
        caption=caption,
    )
