"""The real AWS CLI (awscli from PyPI), run in-process against a sandbox: the same driver ``aws`` runs, without the
second of interpreter start-up a subprocess costs, so a battery of commands fits the fast suite."""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from dataclasses import dataclass
from typing import Any

_cli_lock = threading.Lock()  # the driver reads os.environ and writes sys.stdout: one command at a time


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout) if self.stdout.strip() else None


def aws_cli(sandbox: Any, *args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run ``aws ARGS --output json`` against ``sandbox`` (the user's AWS config hidden, retries off)."""
    from awscli.clidriver import create_clidriver

    wanted = {**sandbox.env(), "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
              "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1", "AWS_EC2_METADATA_DISABLED": "true", **(env or {})}
    with _cli_lock:
        saved = dict(os.environ)
        try:
            for name in [n for n in os.environ if n.startswith("AWS_") and n != "AWS_DATA_PATH"]:
                del os.environ[name]
            os.environ.update(wanted)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = create_clidriver().main([*args, "--output", "json"])
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return CliResult(int(code or 0), out.getvalue(), err.getvalue())
