"""Reporting: figures (KM/CIF with at-risk tables, Love plots, ...) and tables."""
