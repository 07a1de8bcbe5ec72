"""What each command does, given one run's Context: plan, apply, drift and state.

The CLI parses arguments, builds one :class:`~reconciler.usecases.context.Context` (ports, state backend, settings,
clock, where notes go), calls a use case and prints what it returns. The use cases wire discover → plan → apply /
drift; they print nothing themselves except through the context.
"""
