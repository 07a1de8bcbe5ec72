"""A hand-written format-0 state file is upgraded on read and written in format 1 only by a command that writes."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.core.keys import InstanceKey
from reconciler.state import FORMAT_VERSION, LocalBackend

# What people kept before the journal existed (see reconciler/state/codec.py): no lineage, no format_version.
V0_FILE = """{
  "version": 0,
  "serial": 4,
  "instances": [
    {"stack_set": "clumio-org", "account": "222222222222", "region": "us-east-1", "status": "OUTDATED"},
    {"stack_set": "clumio-org", "account": "111111111111", "region": "us-east-1", "status": "CURRENT"},
    {"stack_set": "clumio-org", "account": "111111111111", "region": "eu-west-1"}
  ]
}
"""


def write_v0(tmp_path: Path) -> Path:
    path = tmp_path / "state.json"
    path.write_text(V0_FILE)
    return path


def test_a_format_0_file_reads_as_a_current_state(tmp_path: Path) -> None:
    state = LocalBackend(write_v0(tmp_path)).read()
    assert state is not None
    assert state.format_version == 0  # says where it came from; written as FORMAT_VERSION
    assert state.serial == 4
    assert state.instances[InstanceKey("clumio-org", "222222222222", "us-east-1")].status == "OUTDATED"
    assert state.instances[InstanceKey("clumio-org", "111111111111", "eu-west-1")].status == "UNKNOWN"
    assert state.journal == [] and state.stack_sets == {} and state.last_apply is None


def test_reading_a_format_0_file_does_not_rewrite_it(tmp_path: Path) -> None:
    path = write_v0(tmp_path)
    LocalBackend(path).read()
    assert path.read_text() == V0_FILE


def test_every_read_of_a_format_0_file_agrees_on_its_lineage(tmp_path: Path) -> None:
    backend = LocalBackend(write_v0(tmp_path))
    first, second = backend.read(), backend.read()
    assert first is not None and second is not None
    assert first.lineage == second.lineage


def test_a_format_0_lineage_is_kept_when_the_file_has_one(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({**json.loads(V0_FILE), "lineage": "team-lineage"}))
    state = LocalBackend(path).read()
    assert state is not None and state.lineage == "team-lineage"


def test_the_first_write_stores_format_1_with_the_same_lineage_and_next_serial(tmp_path: Path) -> None:
    path = write_v0(tmp_path)
    backend = LocalBackend(path)
    state = backend.read()
    assert state is not None
    stored = backend.write(state)
    data = json.loads(path.read_text())
    assert data["format_version"] == FORMAT_VERSION and "version" not in data
    assert backend.read() == stored and stored.format_version == FORMAT_VERSION
    assert data["lineage"] == state.lineage and data["serial"] == 5 == stored.serial
    assert len(data["instances"]) == 3
