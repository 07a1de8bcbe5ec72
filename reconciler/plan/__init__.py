"""Plan: from the desired state and one live snapshot to the changes and the ordered waves that make them (expand,
coverage, targets, diff, schedule), and the plan file that carries them to apply. Pure: no I/O, no I/O libraries."""
