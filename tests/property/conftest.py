"""Hypothesis profiles: a bounded, derandomized run in `make test` (the same examples on every
machine, so CI cannot turn red by chance) and a larger random run in `make test-slow`
(REAWAKEN_HYPOTHESIS_PROFILE=thorough)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "thorough",
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("REAWAKEN_HYPOTHESIS_PROFILE", "default"))
