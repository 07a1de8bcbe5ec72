"""Core: the typed vocabulary every package shares — the desired state, the live snapshot, keys, the plan, the ports
(protocols the providers implement), errors, template facts and the clock. Pure: no I/O, no I/O libraries."""
