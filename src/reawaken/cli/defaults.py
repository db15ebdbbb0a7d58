"""Defaults and names the command line shows in its help, copied from the modules that own them.

The owners (the cohort simulator, the cohort contract, the truth runs, the calibration and the
bias battery) import NumPy, pandas or SciPy; the parser is built at every start-up and must
not, so it reads these copies. ``tests/test_cli_startup.py`` pins every copy to its owner, so a
change there fails a test instead of drifting silently.
"""

from __future__ import annotations

#: :data:`reawaken.simulate.cohort.DEFAULT_SEED` (publication date of Chia et al., 2025).
DEFAULT_SEED = 20250730
#: :data:`reawaken.schema.EVENT`, the event column of the cohort contract.
EVENT = "event"
#: :data:`reawaken.truth.TRUTH_SEED`, :data:`~reawaken.truth.DEFAULT_COHORTS`,
#: :data:`~reawaken.truth.DEFAULT_MULTIPLIER` and :data:`~reawaken.truth.VERSIONS`.
TRUTH_SEED = 424242
TRUTH_COHORTS = 400
TRUTH_MULTIPLIER = 4
TRUTH_VERSIONS: tuple[str, ...] = ("preset", "null", "reduced", "reduced-null")
#: :data:`reawaken.calibration.SE_TARGETS`, :data:`~reawaken.calibration.DEFAULT_SE_TARGET`
#: and :data:`~reawaken.calibration.DEFAULT_TEMPLATE`.
SE_TARGETS: tuple[str, ...] = ("model", "empirical")
DEFAULT_SE_TARGET = "model"
DEFAULT_TEMPLATE = {"HR": "time_varying_cohort", "OR": "matched_test_negative"}
#: The keys of :data:`reawaken.sensitivity.stress.MECHANISMS`, in order.
MECHANISMS: tuple[str, ...] = (
    "immortal_time",
    "misclassification",
    "unmeasured_confounding",
    "detection",
    "test_negative_selection",
    "death_misattribution",
    "informative_censoring",
    "effect_shape",
)
