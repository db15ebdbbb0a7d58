"""Bias mechanisms: how each arises in the real studies, and how it is simulated.

Data-generating mechanisms (``[biases]`` of a scenario, applied by :mod:`.cohort`):

* **Detection (surveillance) bias** — a COVID-19 episode brings chest imaging, which finds lung
  metastases that already exist but would have surfaced only later. With probability
  ``detection_probability`` a documented infection leads to imaging at a uniform delay of up
  to ``detection_delay_days``; an outcome that would otherwise have been detected within
  ``detection_lead_days`` after the imaging is detected at the imaging day. With a null true
  effect this alone makes exposed persons look at higher risk shortly after infection.
* **Cause-of-death misattribution** — COVID-19 deaths certified as cancer deaths (UK Biobank's
  outcome is cancer-specific death) and the reverse: a competing death within
  ``misattribution_window_days`` after infection becomes an outcome with probability
  ``death_to_outcome``, and an outcome death in that window becomes a competing death with
  ``outcome_to_death``.
* **Informative censoring** — patients leaving the EHR network after a COVID-19 episode:
  the loss-to-follow-up hazard is multiplied by ``loss_hr_after_infection`` after infection.
* **Unmeasured confounding** — a covariate with ``observed = false`` (e.g. frailty) that raises
  both infection and outcome hazards; it is written as ``true_<name>`` and never adjusted for.
* **Test-negative selection** — testing that depends on health status: give the testing
  process a log-HR on an unmeasured health covariate that also affects the outcome.
* **Exposure misclassification** — only ``infection.documented_probability`` of infections are
  documented; the rest are analysed as unexposed.

Analysis-side mechanism (applied to the Cohort table before analysis):

* **Immortal time** — :func:`credit_immortal_time` moves each exposure date towards the start of
  follow-up by a share ``s`` of the pre-exposure time (``s = 1`` is the naive "ever exposed"
  classification from entry, Suissa 2008).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import schema
from ..errors import AnalysisError
from ..scenario import BiasSpec


def detect_early(
    t_outcome: np.ndarray,
    t_infection: np.ndarray,
    documented: np.ndarray,
    spec: BiasSpec,
    rng: np.random.Generator,
) -> np.ndarray:
    """Outcome times after imaging-triggered early detection (see module docstring).

    Draws two uniforms per person from ``rng`` whatever the settings (stable streams).
    """
    u_imaging = rng.random(t_outcome.size)
    u_delay = rng.random(t_outcome.size)
    if spec.detection_probability <= 0 or spec.detection_lead_days <= 0:
        return t_outcome
    with np.errstate(invalid="ignore"):
        imaging_day = t_infection + u_delay * spec.detection_delay_days
        found = (
            documented
            & (u_imaging < spec.detection_probability)
            & (t_outcome > imaging_day)
            & (t_outcome <= imaging_day + spec.detection_lead_days)
        )
    return np.where(found, imaging_day, t_outcome)


def misattribute_deaths(
    event: np.ndarray,
    t_end: np.ndarray,
    t_infection: np.ndarray,
    spec: BiasSpec,
    rng: np.random.Generator,
) -> np.ndarray:
    """Event codes after cause-of-death misattribution in the window after infection."""
    u = rng.random(event.size)
    window = spec.misattribution_window_days
    with np.errstate(invalid="ignore"):
        near = (t_end > t_infection) & (t_end <= t_infection + window)
    out = event.copy()
    out[near & (event == 2) & (u < spec.death_to_outcome)] = 1
    out[near & (event == 1) & (u < spec.outcome_to_death)] = 2
    return out


def credit_immortal_time(cohort: pd.DataFrame, share: float) -> pd.DataFrame:
    """Move exposure dates back towards entry by ``share`` of the pre-exposure time.

    ``exposure_day' = exposure_day - share * (exposure_day - entry_day)``: ``share = 0`` is the
    correct time-varying classification, ``share = 1`` the naive ever-exposed one.
    """
    if not 0 <= share <= 1:
        raise AnalysisError(f"immortal-time share must be in [0, 1], got {share}")
    out = cohort.copy()
    expo = out[schema.EXPOSURE_DAY]
    out[schema.EXPOSURE_DAY] = expo - share * (expo - out[schema.ENTRY_DAY])
    return out
