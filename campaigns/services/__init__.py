"""Writes for campaigns, tasks, messages and greetings: one module per area
(`messaging.py`, `campaigns.py`, ...); callers import from the module."""
