"""Sensitivity analysis for unmeasured confounding.

:mod:`.evalue` has the E-value of VanderWeele & Ding (Ann Intern Med 2017): the minimum strength
of association, on the risk-ratio scale, that an unmeasured confounder would need with both the
exposure and the outcome, above the measured confounders, to explain away an estimate (or move its
CI to include the null); with the conversions of odds and hazard ratios to the risk-ratio scale
and the Ding & VanderWeele (Epidemiology 2016) joint bounding factor.
"""
