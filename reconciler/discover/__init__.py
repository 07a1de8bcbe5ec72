"""Discover: the reads through the ports (the org walk, the StackSets, Clumio, guardrails, preflight) into one Live
snapshot. Read only; the only package besides the providers that drives ports and threads on the read path."""
