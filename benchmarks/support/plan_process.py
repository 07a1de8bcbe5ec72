"""Run the real `clumio-org` CLI in this process, and at exit write the API calls it made to a JSON file.

    python benchmarks/support/plan_process.py CALLS.json plan -c clumio-org.yaml --detailed-exitcode

The benchmarks start this as a subprocess of their own, so its wall time, CPU and peak RSS are those of a whole
`clumio-org plan` process: interpreter start-up, imports, discovery, the plan and its rendering. Two read-only hooks
are added, nothing else: every ``ApiCallCounter`` the providers make is kept so its counts can be written out, and
each ListStackInstances call's ``StackInstanceRegion`` is noted, so the benchmark can say which per-region split
the tool chose.
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

_COUNTERS: list[Any] = []
_CHAINS: Counter[str] = Counter()
_LOCK = threading.Lock()


def _install_hooks() -> None:
    import botocore.client

    from reconciler.providers.aws.session import ApiCallCounter

    original_init = ApiCallCounter.__init__

    def keep(self: Any) -> None:
        original_init(self)
        _COUNTERS.append(self)

    ApiCallCounter.__init__ = keep  # type: ignore[method-assign]
    original_call = botocore.client.BaseClient._make_api_call

    def note(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if operation_name == "ListStackInstances":
            with _LOCK:
                _CHAINS[str(api_params.get("StackInstanceRegion", "*"))] += 1
        return original_call(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = note  # type: ignore[method-assign]


def _write(path: Path) -> None:
    calls: Counter[str] = Counter()
    for counter in _COUNTERS:
        calls.update(counter.snapshot())
    path.write_text(json.dumps({"calls": dict(calls), "list_stack_instances_pages": dict(_CHAINS)}))


def main() -> None:
    out = Path(sys.argv[1])
    _install_hooks()
    atexit.register(_write, out)
    from reconciler.cli import main as cli_main

    sys.argv = ["clumio-org", *sys.argv[2:]]
    raise SystemExit(cli_main())  # what the console script does


if __name__ == "__main__":
    main()
