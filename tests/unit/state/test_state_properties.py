"""Property: any state the model can hold is written in a form the published schema accepts, and reads back equal."""

from __future__ import annotations

import json

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core.keys import InstanceKey
from reconciler.state import InstanceRecord, JournalEntry, JournalStatus, StackSetRecord, State
from reconciler.state.codec import state_from_text, state_schema, state_to_text
from reconciler.state.model import format_time

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
times = st.none() | st.datetimes().map(format_time)
fingerprints = st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex())

stack_set_records = st.builds(
    StackSetRecord, template_version=names, template_sha256=names,
    parameters=st.dictionaries(names.filter(lambda n: n not in ("ClumioToken", "RoleExternalId")), st.text()),
    secret_fingerprints=st.dictionaries(names, fingerprints),
    permission_model=st.sampled_from(["SERVICE_MANAGED", "SELF_MANAGED"]), updated_at=times)
instance_records = st.builds(InstanceRecord, status=names, last_operation_id=st.none() | names,
                             template_version=st.none() | names, connected=st.none() | st.booleans(),
                             updated_at=times)
journal_entries = st.builds(
    JournalEntry, plan_id=names, operation_id=st.from_regex(r"[a-zA-Z0-9][-a-zA-Z0-9]{0,20}", fullmatch=True),
    index=st.integers(0, 999), kind=names, stack_set=names, wave=st.none() | names,
    status=st.sampled_from(list(JournalStatus)), submitted_at=times, finished_at=times,
    failures=st.lists(st.fixed_dictionaries({"account": names, "region": names, "reason": st.text()}), max_size=3))
states = st.builds(
    State, lineage=names, serial=st.integers(0, 10**9),
    stack_sets=st.dictionaries(names, stack_set_records, max_size=3),
    instances=st.dictionaries(st.builds(InstanceKey, names, names, names), instance_records, max_size=10),
    journal=st.lists(journal_entries, max_size=5, unique_by=lambda e: e.operation_id),
    last_apply=st.none() | st.fixed_dictionaries({"plan_id": names, "started_at": times, "outcome": names}))


VALIDATOR = jsonschema.Draft202012Validator(state_schema())


@settings(max_examples=25, deadline=None)
@given(states)
def test_every_state_is_written_schema_valid_and_reads_back_equal(state: State) -> None:
    text = state_to_text(state)
    VALIDATOR.validate(json.loads(text))
    assert state_from_text(text) == state
