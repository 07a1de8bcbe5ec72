"""What the benchmarks share: bounds that decide the exit code, the sandbox in its own process, the tool's lanes,
and `clumio-org plan` run as a process of its own (wall, CPU, peak RSS, calls)."""
