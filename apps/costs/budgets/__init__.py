"""Budgets: per-cluster (or per-pool) spend limits, their forecast, alerts and the scale-out guard."""
