"""The state file's JSON form: round trip, stable order, schema, no secrets, interrupted applies, format versions."""

from __future__ import annotations

import json
from dataclasses import replace

import jsonschema
import pytest

from reconciler.core.errors import StateError
from reconciler.core.keys import InstanceKey
from reconciler.core.plan import OperationKind
from reconciler.core.secrets import Secret
from reconciler.state import (
    InstanceRecord,
    JournalEntry,
    JournalStatus,
    StackSetRecord,
    State,
    state_from_json,
    state_from_text,
    state_identity,
    state_to_json,
    state_to_text,
)
from reconciler.state.codec import state_schema

TOKEN = Secret("clumio-token-value-1234")
EXTERNAL_ID = Secret("role-external-id-5678")


def full_state() -> State:
    state = State.new()
    state = state.with_stack_set("clumio-org", StackSetRecord(
        template_version="24.4", template_sha256="ab" * 32,
        parameters={"SendCFTDeploymentEventsToClumio": "True", "PermissionsBoundaryARN": ""},
        secret_fingerprints={"ClumioToken": TOKEN, "RoleExternalId": EXTERNAL_ID.fingerprint()},
        updated_at="2026-01-31T10:00:00Z"))
    for account in ("222222222222", "111111111111"):
        for region in ("us-west-2", "us-east-1"):
            state = state.with_instance(InstanceKey("clumio-org", account, region),
                                        InstanceRecord("CURRENT", "clumio-org-0123456789abcdef-000", "24.4", True,
                                                       "2026-01-31T10:05:00Z"))
    state = state.with_journal_entry(JournalEntry(
        "0123456789abcdef", "clumio-org-0123456789abcdef-000", 0, OperationKind.CREATE_STACK_INSTANCES,
        "clumio-org", "canary", JournalStatus.SUCCEEDED, "2026-01-31T10:00:00Z", "2026-01-31T10:04:00Z"))
    state = state.with_journal_entry(JournalEntry(
        "0123456789abcdef", "clumio-org-0123456789abcdef-001", 1, "CreateStackInstances", "clumio-org", "rest",
        "FAILED", "2026-01-31T10:06:00Z", "2026-01-31T10:09:00Z",
        failures=[{"account": "333333333333", "region": "us-east-1", "reason": "Role already exists"}]))
    return state.with_last_apply(plan_id="0123456789abcdef", started_at="2026-01-31T10:00:00Z",
                                 finished_at="2026-01-31T10:09:00Z", outcome="failed")


def test_state_round_trips_through_its_json_form() -> None:
    state = full_state()
    assert state_from_text(state_to_text(state)) == state


def test_instances_are_written_sorted_by_stack_set_account_region() -> None:
    rows = state_to_json(full_state())["instances"]
    assert [(r["account"], r["region"]) for r in rows] == [
        ("111111111111", "us-east-1"), ("111111111111", "us-west-2"),
        ("222222222222", "us-east-1"), ("222222222222", "us-west-2")]


def test_the_same_state_always_serialises_to_the_same_bytes() -> None:
    state = full_state()
    assert state_to_text(state) == state_to_text(state_from_text(state_to_text(state)))


@pytest.mark.parametrize("state", [State.new(), full_state()], ids=["empty", "full"])
def test_every_written_state_validates_against_the_published_schema(state: State) -> None:
    jsonschema.Draft202012Validator.check_schema(state_schema())
    validator = jsonschema.Draft202012Validator(state_schema())
    document = json.loads(state_to_text(state))
    assert [error.message for error in validator.iter_errors(document)] == []
    # The schema constrains what was written: the same document with its format version or lineage broken is not
    # valid, so an empty or permissive schema could not pass this test.
    for field, bad in (("format_version", "one"), ("lineage", 7)):
        assert list(validator.iter_errors({**document, field: bad})), f"schema accepts {field}={bad!r}"
    assert list(validator.iter_errors({key: v for key, v in document.items() if key != "format_version"}))


def test_secret_values_never_reach_the_serialised_state() -> None:
    text = state_to_text(full_state())
    assert TOKEN.reveal() not in text and EXTERNAL_ID.reveal() not in text
    assert TOKEN.fingerprint() in text


@pytest.mark.parametrize("parameters", [{"ClumioToken": "plain"}, {"RoleExternalId": "x"},
                                        {"PermissionsBoundaryARN": TOKEN}])
def test_a_secret_parameter_is_refused_by_the_stack_set_record(parameters: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="secret"):
        StackSetRecord("24.4", "ab" * 32, parameters=parameters)  # type: ignore[arg-type]


def test_a_raw_value_is_refused_where_a_fingerprint_belongs() -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        StackSetRecord("24.4", "ab" * 32, secret_fingerprints={"ClumioToken": TOKEN.reveal()})


def test_the_serialiser_refuses_a_secret_smuggled_into_last_apply() -> None:
    state = State.new().with_last_apply(plan_id="p", token=TOKEN)
    with pytest.raises(StateError, match="refusing to store a secret"):
        state_to_text(state)


def test_a_state_left_by_an_interrupted_apply_loads_with_its_unfinished_operations() -> None:
    state = full_state()
    for index, status in ((2, JournalStatus.SUBMITTED), (3, JournalStatus.RUNNING)):
        state = state.with_journal_entry(JournalEntry(
            "0123456789abcdef", f"clumio-org-0123456789abcdef-00{index}", index, "UpdateStackSet", "clumio-org",
            None, status, "2026-01-31T10:10:00Z"))
    state = state.with_last_apply(outcome="interrupted", finished_at=None)
    loaded = state_from_text(state_to_text(state))
    assert [e.operation_id for e in loaded.unfinished_operations()] == [
        "clumio-org-0123456789abcdef-002", "clumio-org-0123456789abcdef-003"]


def test_a_journal_entry_is_updated_in_place_by_operation_id() -> None:
    state = full_state()
    entry = state.journal_entry("clumio-org-0123456789abcdef-001")
    assert entry is not None
    updated = state.with_journal_entry(JournalEntry(**{**entry.__dict__, "status": JournalStatus.SUCCEEDED}))
    assert [e.status for e in updated.journal] == [JournalStatus.SUCCEEDED, JournalStatus.SUCCEEDED]
    assert len(updated.journal) == 2


def test_a_newer_format_is_refused_with_upgrade_advice() -> None:
    data = state_to_json(State.new()) | {"format_version": 2}
    with pytest.raises(StateError, match="format_version 2") as info:
        state_from_json(data)
    assert "upgrade clumio-org" in (info.value.hint or "")


def test_a_corrupt_file_is_a_clear_error_not_a_traceback() -> None:
    with pytest.raises(StateError, match="not valid JSON"):
        state_from_text('{"format_version": 1, "lin', source="state.json")


def test_a_file_that_breaks_the_schema_names_the_bad_field() -> None:
    data = state_to_json(full_state())
    data["instances"][0]["connected"] = "yes"
    with pytest.raises(StateError, match="instances/0/connected"):
        state_from_json(data)


def test_the_serialiser_refuses_a_secret_in_an_instance_row() -> None:
    key = InstanceKey("clumio-org", "111111111111", "us-east-1")
    state = State.new().with_instance(key, InstanceRecord(status=TOKEN))  # type: ignore[arg-type]
    with pytest.raises(StateError, match="refusing to store a secret"):
        state_to_text(state)


def test_a_change_to_one_instance_changes_one_line_of_the_file() -> None:
    before = full_state()
    key = InstanceKey("clumio-org", "222222222222", "us-east-1")
    after = before.with_instance(key, InstanceRecord("OUTDATED", updated_at="2026-02-01T00:00:00Z"))
    old_lines, new_lines = state_to_text(before).splitlines(), state_to_text(after).splitlines()
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert len(changed) == 1 and '"account": "222222222222"' in changed[0][1] and "OUTDATED" in changed[0][1]


def test_the_identity_a_write_checks_is_the_same_however_the_file_is_laid_out() -> None:
    state = replace(full_state(), lineage='odd "lineage" \\ value', serial=41)
    written = state_to_text(state)
    reformatted = json.dumps(json.loads(written), indent=4)
    compact = json.dumps(json.loads(written))
    for text in (written, reformatted, compact, written.encode()):
        assert state_identity(text) == ('odd "lineage" \\ value', 41)


def test_what_a_destroy_under_way_removes_is_kept_and_absent_once_it_is_done() -> None:
    pairs = (("111111111111", "us-east-1"), ("222222222222", "eu-west-1"))
    state = replace(full_state(), offboarding=pairs)
    document = json.loads(state_to_text(state))
    assert document["offboarding"] == [list(p) for p in pairs]
    assert list(jsonschema.Draft202012Validator(state_schema()).iter_errors(document)) == []
    assert state_from_text(state_to_text(state)).offboarding == pairs
    assert "offboarding" not in json.loads(state_to_text(full_state()))  # older readers see the same file
