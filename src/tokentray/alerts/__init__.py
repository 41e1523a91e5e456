"""Spend alerts: rules, their evaluation and firing state, and where alerts are sent."""
