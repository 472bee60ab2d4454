"""Scaling plans: scheduled scaling, alert-triggered policies, and their history."""
