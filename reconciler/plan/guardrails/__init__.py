"""Guardrails: evaluate the SCPs and Control Tower controls read by discovery against the calls a plan will make,
so a denial is named before wave 1. Pure."""
