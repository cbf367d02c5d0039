"""Maintenance scripts run from the repository root: the README writer and the scikit-learn cross-check."""
