"""Load and validate a sandbox world file (YAML checked against schemas/sandbox-world.schema.json)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from reconciler.core.errors import ConfigError

SCHEMA_NAME = "sandbox-world.schema.json"


def default_world_path() -> Path:
    """The packaged demo world (examples/sandbox/demo.yaml)."""
    return Path(str(resources.files("reconciler.examples") / "sandbox" / "demo.yaml"))


def world_schema() -> dict[str, Any]:
    text = (resources.files("reconciler.schemas") / SCHEMA_NAME).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _line_of(node: yaml.Node | None, path: list[str | int]) -> int | None:
    """1-based line of the YAML node at ``path`` (the deepest node found on the way)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            found = node.value[part]
        else:
            found = None
        if found is None:
            break
        node = found
        line = node.start_mark.line + 1
    return line


_ACCOUNT_KEYS = {"id", "name", "email", "state", "roles"}
_ACCOUNT_STATES = ("ACTIVE", "SUSPENDED", "CLOSED", "PENDING_CLOSURE")


def _account_problem(account: Any) -> tuple[list[str | int], str] | None:
    """The schema's ``account`` definition, checked by hand: jsonschema takes seconds on 2,000-account worlds."""
    if not isinstance(account, dict):
        return [], f"{account!r} is not of type 'object'"
    for key in ("id", "name"):
        if key not in account:
            return [], f"'{key}' is a required property"
    extra = sorted(set(account) - _ACCOUNT_KEYS)
    if extra:
        return [extra[0]], f"Additional properties are not allowed ('{extra[0]}' was unexpected)"
    if not isinstance(account["id"], str) or not re.fullmatch(r"[0-9]{12}", account["id"]):
        return ["id"], f"{account['id']!r} does not match '^[0-9]{{12}}$'"
    if not isinstance(account["name"], str) or not account["name"]:
        return ["name"], f"{account['name']!r} should be a non-empty string"
    if "state" in account and account["state"] not in _ACCOUNT_STATES:
        return ["state"], f"{account['state']!r} is not one of {list(_ACCOUNT_STATES)}"
    roles = account.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        return ["roles"], f"{roles!r} should be a list of role names"
    return None


def _split_accounts(spec: Any) -> tuple[Any, list[tuple[list[str | int], Any]]]:
    """A copy of ``spec`` without account entries, plus every account with its path, for two-speed validation."""
    found: list[tuple[list[str | int], Any]] = []

    def strip(node: Any, path: list[str | int]) -> Any:
        if not isinstance(node, dict):
            return node
        out = dict(node)
        if isinstance(node.get("accounts"), list):
            found.extend((path + ["accounts", i], a) for i, a in enumerate(node["accounts"]))
            out["accounts"] = []
        if isinstance(node.get("ous"), list):
            out["ous"] = [strip(ou, path + ["ous", i]) for i, ou in enumerate(node["ous"])]
        return out

    return strip(spec, []), found


def _raise(source: str, root: yaml.Node | None, path: list[str | int], message: str,
           diagnostics: tuple[str, ...]) -> None:
    line = _line_of(root, path)
    where = f"{source}:{line}" if line else source
    dotted = ".".join(str(p) for p in path) or "(top)"
    raise ConfigError(f"{where}: invalid sandbox world at {dotted}: {message}",
                      hint="see schemas/sandbox-world.schema.json for the world file format",
                      diagnostics=diagnostics)


def validate_world_spec(spec: Any, source: str = "<world>", root: yaml.Node | None = None) -> dict[str, Any]:
    """Check ``spec`` against the schema and the cross-field rules; raise ConfigError naming file:line."""
    skeleton, accounts = _split_accounts(spec)
    validator = jsonschema.Draft202012Validator(world_schema())
    errors = sorted(validator.iter_errors(skeleton), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        _raise(source, root, list(errors[0].absolute_path), errors[0].message, tuple(e.message for e in errors))
    for path, account in accounts:
        problem = _account_problem(account)
        if problem is not None:
            _raise(source, root, path + problem[0], problem[1], (problem[1],))
    assert isinstance(spec, dict)
    _check_unique_accounts(spec, source)
    return spec


def _check_unique_accounts(spec: dict[str, Any], source: str) -> None:
    seen: set[str] = {spec["organization"]["management_account"]}

    def walk(accounts: list[dict[str, Any]], ous: list[dict[str, Any]]) -> None:
        for account in accounts:
            if account["id"] in seen:
                raise ConfigError(f"{source}: account {account['id']} appears twice in the world",
                                  hint="each account lives in exactly one OU (the management account is "
                                       "added under the root automatically)")
            seen.add(account["id"])
        for ou in ous:
            walk(ou.get("accounts", []), ou.get("ous", []))

    walk(spec.get("accounts", []), spec.get("ous", []))
    templates = spec.get("clumio", {}).get("templates", {})
    if "current" in templates and "versions" in templates and templates["current"] not in templates["versions"]:
        raise ConfigError(f"{source}: clumio.templates.current {templates['current']} is not one of "
                          f"clumio.templates.versions", hint="list the current version in versions")


def load_world_spec(path: str | Path) -> dict[str, Any]:
    """Read a world file; raise ConfigError (with file:line) when it is missing, not YAML, or invalid."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read sandbox world {file}: {exc.strerror}",
                          hint="pass --world with an existing YAML file, or omit it for the demo world") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else str(file)
        raise ConfigError(f"{where}: sandbox world is not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    return validate_world_spec(spec, str(file), root)
