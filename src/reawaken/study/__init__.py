"""Study designs: the registry of names (:mod:`reawaken.study.registry`, import-light) and the
study analyses that run a design on a cohort (:mod:`reawaken.study.analyses`).

The study layer sits above the analyses: it combines the design step (matching, splitting at
exposure) with an estimator and returns an :class:`reawaken.estimate.Estimate`.
"""
