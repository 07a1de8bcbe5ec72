"""Write a plan file atomically and read one back; the JSON itself is reconciler.plan.planfile's (pure)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.plan.planfile import PlanFileError, plan_from_bytes, stream_plan

if TYPE_CHECKING:
    from reconciler.core.plan import Plan


def write_plan(plan: Plan, path: Path | str) -> None:
    """Write the plan file atomically (temp file in the same folder, then rename): a crash never leaves half a plan
    for apply to read."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            stream_plan(plan, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_plan(path: Path | str) -> Plan:
    """Read a plan file written by :func:`write_plan`, refusing one whose content no longer matches its plan id
    (an edited id, or an edit of anything the id covers)."""
    source = Path(path)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise PlanFileError(f"cannot read plan file {source}: {exc.strerror}",
                            hint="pass the file `clumio-org plan --out` wrote") from exc
    return plan_from_bytes(raw, f"plan file {source}")
