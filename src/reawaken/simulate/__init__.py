"""Cohort simulator: hazards, exposure process, effect profiles, cohort assembly."""
