"""The state file's JSON form: stable, sorted, secret-free, versioned, with forward migration of older formats.

Format 1 (current, schemas/state.schema.json)::

    {"format_version": 1, "lineage": "<uuid>", "serial": 7,
     "stack_sets": {"clumio-org": {"template_version", "template_sha256", "parameters", "secret_fingerprints",
                                   "permission_model", "updated_at"}},
     "instances": [{"stack_set", "account", "region", "status", "last_operation_id", "template_version",
                    "connected", "updated_at"}, ...],          # sorted by (stack_set, account, region)
     "journal": [{"plan_id", "operation_id", "index", "kind", "stack_set", "wave", "status", "submitted_at",
                  "finished_at", "failures": [{"account", "region", "reason"}]}, ...],   # in submission order
     "last_apply": {"plan_id", "started_at", "finished_at", "outcome"} | null,
     "offboarding": [["<account>", "<region>"], ...]}         # only while a destroy is under way

Format 0 (before the tool kept a journal; what people wrote by hand or with early scripts)::

    {"version": 0, "serial": 3, "lineage": "<optional>",
     "instances": [{"stack_set": "clumio-org", "account": "111111111111", "region": "us-east-1",
                    "status": "CURRENT"}, ...]}

A format-0 file is upgraded in memory on read (no StackSet records, empty journal). When it carries no lineage, one
is derived from its content (a UUID5), so every read of the same file agrees on it until a command that writes stores
the state in format 1. Files with a newer format than this tool knows are refused, never half-read.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from functools import cache
from importlib import resources
from typing import Any

from reconciler.core.errors import StateError
from reconciler.core.keys import InstanceKey
from reconciler.core.secrets import Secret
from reconciler.state.model import (
    FORMAT_VERSION,
    InstanceRecord,
    JournalEntry,
    JournalFailure,
    StackSetRecord,
    State,
)

_RESTORE_HINT = "restore a good copy (an older S3 object version, a `state pull` backup) with " \
                "`clumio-org state push --force GOOD.json`"
_V0_LINEAGE_NAMESPACE = uuid.UUID("6f1d3c1e-8a43-4f5e-9b0e-3f6c2a9d7e10")


def state_to_json(state: State) -> dict[str, Any]:
    """The JSON-ready dict of ``state`` in the current format; raises StateError if a Secret slipped in anywhere."""
    data = _head_to_json(state)
    data["instances"] = [_instance_to_json(key, state.instances[key]) for key in _sorted_keys(state)]
    for row in data["instances"]:
        for value in row.values():
            if isinstance(value, Secret):
                _refuse_secrets(value, f"instances.{row['stack_set']}/{row['account']}/{row['region']}")
    return data


def state_to_text(state: State) -> str:
    """The state file's text: sorted keys, one line per instance and per journal entry (so a review diff shows
    exactly the rows that changed), trailing newline. Apply writes the state after every step, so instance lines
    are cached per (key, record): a write re-encodes only the instances that changed."""
    data: dict[str, Any] = _head_to_json(state)
    data["instances"] = None  # placeholder: written from the line cache below
    lines = ["{"]
    keys = sorted(data)
    for position, key in enumerate(keys):
        value = data[key]
        comma = "," if position < len(keys) - 1 else ""
        if key == "instances":
            rows = [_instance_line(k, state.instances[k]) for k in _sorted_keys(state)]
        elif isinstance(value, list):
            rows = [_compact(item) for item in value]
        else:
            pretty = json.dumps(value, indent=2, sort_keys=True, default=_not_serialisable).replace("\n", "\n  ")
            lines.append(f"  {json.dumps(key)}: {pretty}{comma}")
            continue
        if rows:
            lines.append(f"  {json.dumps(key)}: [")
            lines.append(",\n".join(f"    {row}" for row in rows))
            lines.append(f"  ]{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: []{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _head_to_json(state: State) -> dict[str, Any]:
    """Everything but the instance rows, checked for secrets (it is small)."""
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "lineage": state.lineage,
        "serial": state.serial,
        "stack_sets": {name: _stack_set_to_json(state.stack_sets[name]) for name in sorted(state.stack_sets)},
        "journal": [_journal_to_json(entry) for entry in state.journal],
        "last_apply": dict(state.last_apply) if state.last_apply is not None else None,
    }
    for name in ("stack_sets", "journal", "last_apply"):
        _refuse_secrets(data[name], name)
    if state.offboarding:
        data["offboarding"] = [list(pair) for pair in sorted(set(state.offboarding))]
    return data


def _sorted_keys(state: State) -> list[InstanceKey]:
    return sorted(state.instances, key=_order)


_LINE_CACHE: dict[tuple[InstanceKey, InstanceRecord], str] = {}
_LINE_CACHE_LIMIT = 200_000


def _instance_line(key: InstanceKey, record: InstanceRecord) -> str:
    cache_key = (key, record)
    line = _LINE_CACHE.get(cache_key)
    if line is None:
        row = _instance_to_json(key, record)
        for value in row.values():
            if isinstance(value, Secret):
                _refuse_secrets(value, f"instances.{key}")
        line = _compact(row)
        if len(_LINE_CACHE) >= _LINE_CACHE_LIMIT:
            _LINE_CACHE.clear()
        _LINE_CACHE[cache_key] = line
    return line


_WRITTEN_HEAD = re.compile(rb'\A\{\n  "format_version": 1,\n')
_WRITTEN_IDENTITY = re.compile(rb'\n  "lineage": ("(?:[^"\\\n]|\\.)*"),\n  "serial": (\d+),\n')


def state_identity(text: str | bytes, *, source: str = "state") -> tuple[str, int]:
    """(lineage, serial) of a stored state, without building the whole State: what a write checks against.

    A file this module wrote is recognised by its layout (top-level keys at two spaces, instances one per deeper
    line) and its two fields are read directly; anything else is parsed in full."""
    raw = text.encode() if isinstance(text, str) else text
    if _WRITTEN_HEAD.match(raw):
        found = _WRITTEN_IDENTITY.search(raw)
        if found:
            return json.loads(found.group(1)), int(found.group(2))
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        return state_from_text(text, source=source).lineage, 0  # raises the full, explained error
    if data.get("format_version", data.get("version")) == 0:
        data = migrate_v0(data)
    lineage, serial = data.get("lineage"), data.get("serial")
    if not isinstance(lineage, str) or not isinstance(serial, int) or isinstance(serial, bool):
        state = state_from_text(text, source=source)
        return state.lineage, state.serial
    return lineage, serial


def state_from_json(data: Any, *, source: str = "state") -> State:
    """A State from a parsed state file of any known format (older formats are migrated, not rewritten)."""
    if not isinstance(data, dict):
        raise StateError(f"{source} is not a JSON object", hint="restore it from a backup or `state pull` output")
    version = read_version = data.get("format_version", data.get("version"))
    if version == 0:
        data = migrate_v0(data)
        version = FORMAT_VERSION
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateError(f"{source} has no format_version", hint="is this a clumio-org state file?")
    if version > FORMAT_VERSION:
        raise StateError(
            f"{source} has format_version {version}; this clumio-org understands up to {FORMAT_VERSION}",
            hint="upgrade clumio-org to the version that wrote it",
        )
    _validate(data, source)
    return State(
        format_version=read_version if isinstance(read_version, int) else FORMAT_VERSION,
        lineage=data["lineage"],
        serial=data["serial"],
        stack_sets={name: StackSetRecord(**record) for name, record in data.get("stack_sets", {}).items()},
        instances={
            InstanceKey(row["stack_set"], row["account"], row["region"]): InstanceRecord(
                status=row["status"],
                last_operation_id=row.get("last_operation_id"),
                template_version=row.get("template_version"),
                connected=row.get("connected"),
                updated_at=row.get("updated_at"),
            )
            for row in data.get("instances", [])
        },
        journal=[_journal_from_json(entry) for entry in data.get("journal", [])],
        last_apply=data.get("last_apply"),
        offboarding=tuple((account, region) for account, region in data.get("offboarding", [])),
    )


def state_from_text(text: str | bytes, *, source: str = "state") -> State:
    """Parse a state file's content; a clear StateError (never a traceback) when it is not valid."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"{source} is not valid JSON: {exc}",
                         hint=_RESTORE_HINT) from None
    return state_from_json(data, source=source)


def migrate_v0(data: dict[str, Any]) -> dict[str, Any]:
    """Format 0 → format 1 (see the module docstring); the input is not modified."""
    lineage = data.get("lineage")
    if not isinstance(lineage, str) or not lineage:
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        lineage = str(uuid.uuid5(_V0_LINEAGE_NAMESPACE, hashlib.sha256(canonical.encode()).hexdigest()))
    instances = []
    for row in data.get("instances", []) or []:
        if not isinstance(row, dict):
            raise StateError("format-0 state: every instance must be an object with stack_set, account, region")
        instances.append({name: row.get(name) for name in ("stack_set", "account", "region", "status")})
        if instances[-1]["status"] is None:
            instances[-1]["status"] = "UNKNOWN"
    return {
        "format_version": FORMAT_VERSION,
        "lineage": lineage,
        "serial": data.get("serial", 0),
        "stack_sets": {},
        "instances": instances,
        "journal": [],
        "last_apply": None,
    }


@cache
def state_schema() -> dict[str, Any]:
    """schemas/state.schema.json (shipped in the package as reconciler.schemas)."""
    text = resources.files("reconciler.schemas").joinpath("state.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(state_schema())


def _validate(data: dict[str, Any], source: str) -> None:
    """Schema-validate everything but the instance rows, which are checked by hand: jsonschema takes seconds on
    the tens of thousands of rows a large organization has, and every command reads the state."""
    instances = data.get("instances")
    head = {**data, "instances": []} if isinstance(instances, list) else data
    errors = sorted(_validator().iter_errors(head), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        _invalid(source, where, f"{first.message}{more}")
    if isinstance(instances, list):
        for index, row in enumerate(instances):
            _check_instance_row(row, index, source)


_ROW_TYPES: dict[str, tuple[type, ...]] = {
    "stack_set": (str,), "account": (str,), "region": (str,), "status": (str,),
    "last_operation_id": (str, type(None)), "template_version": (str, type(None)),
    "connected": (bool, type(None)), "updated_at": (str, type(None)),
}
_ROW_REQUIRED = ("stack_set", "account", "region", "status")


def _check_instance_row(row: Any, index: int, source: str) -> None:
    """The schema's ``instance`` definition, applied by hand (kept in step with schemas/state.schema.json)."""
    if not isinstance(row, dict):
        _invalid(source, f"instances/{index}", "not an object")
    for name in _ROW_REQUIRED:
        if not row.get(name):
            _invalid(source, f"instances/{index}", f"{name!r} is a required non-empty string")
    for name, value in row.items():
        allowed = _ROW_TYPES.get(name)
        if allowed is None:
            _invalid(source, f"instances/{index}", f"unexpected property {name!r}")
        elif not isinstance(value, allowed):
            _invalid(source, f"instances/{index}/{name}", f"{value!r} is not of type "
                     + " or ".join("null" if t is type(None) else t.__name__ for t in allowed))


def _invalid(source: str, where: str, message: str) -> None:
    raise StateError(f"{source} is not a valid state file at {where}: {message}",
                     hint=_RESTORE_HINT)


def _order(key: InstanceKey) -> tuple[str, str, str]:
    return key.stack_set, key.account, key.region


def _compact(item: Any) -> str:
    return _ROW_ENCODER.encode(item)


def _stack_set_to_json(record: StackSetRecord) -> dict[str, Any]:
    return {
        "template_version": record.template_version,
        "template_sha256": record.template_sha256,
        "parameters": dict(sorted(record.parameters.items())),
        "secret_fingerprints": dict(sorted(record.secret_fingerprints.items())),
        "permission_model": record.permission_model,
        "updated_at": record.updated_at,
    }


def _instance_to_json(key: InstanceKey, record: InstanceRecord) -> dict[str, Any]:
    return {
        "stack_set": key.stack_set,
        "account": key.account,
        "region": key.region,
        "status": record.status,
        "last_operation_id": record.last_operation_id,
        "template_version": record.template_version,
        "connected": record.connected,
        "updated_at": record.updated_at,
    }


def _journal_to_json(entry: JournalEntry) -> dict[str, Any]:
    return {
        "plan_id": entry.plan_id,
        "operation_id": entry.operation_id,
        "index": entry.index,
        "kind": entry.kind,
        "stack_set": entry.stack_set,
        "wave": entry.wave,
        "status": entry.status.value,
        "submitted_at": entry.submitted_at,
        "finished_at": entry.finished_at,
        "failures": [{"account": f.account, "region": f.region, "reason": f.reason} for f in entry.failures],
    }


def _journal_from_json(data: dict[str, Any]) -> JournalEntry:
    return JournalEntry(
        plan_id=data["plan_id"],
        operation_id=data["operation_id"],
        index=data["index"],
        kind=data["kind"],
        stack_set=data["stack_set"],
        wave=data.get("wave"),
        status=data["status"],
        submitted_at=data.get("submitted_at"),
        finished_at=data.get("finished_at"),
        failures=[JournalFailure(**failure) for failure in data.get("failures", [])],
    )


def _refuse_secrets(value: Any, path: str) -> None:
    """State must never hold a secret: a Secret anywhere is a bug in the caller, stopped before any byte is written."""
    if isinstance(value, Secret):
        raise StateError(f"refusing to store a secret in the state ({path})",
                         hint="this is a bug in clumio-org: state keeps Secret.fingerprint() only")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_secrets(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _refuse_secrets(item, f"{path}[{index}]")


def _not_serialisable(value: Any) -> Any:
    _refuse_secrets(value, "state")
    raise StateError(f"refusing to store a {type(value).__name__} in the state",
                     hint="this is a bug in clumio-org: state holds JSON values only")


# One encoder for every row (no indent, so the C encoder does the work).
_ROW_ENCODER = json.JSONEncoder(sort_keys=True, separators=(", ", ": "), default=_not_serialisable)
