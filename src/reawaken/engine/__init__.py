"""Fast Cox partial-likelihood engine (vectorized NumPy), validated against lifelines and
statsmodels; used by :mod:`reawaken.analysis.cox` and by replicate loops."""

from .coxph import CoxEngineFit, fit_coxph, score_residuals

__all__ = ["CoxEngineFit", "fit_coxph", "score_residuals"]
