"""Frozen models are frozen all the way down: a Live snapshot cannot change after discovery built it."""

from __future__ import annotations

import pytest

from reconciler.core.keys import InstanceKey
from tests.fakes import demo_org, instance, live_stack_set, make_desired, make_live, make_template


def test_a_live_snapshot_keeps_what_discovery_read_and_refuses_changes() -> None:
    desired = make_desired(ous=["/Security"])
    instances = {i.key: i for i in [instance("clumio-org", "222200000001", "us-east-1")]}
    live = make_live(demo_org(), stack_sets=[live_stack_set(desired, make_template())],
                     instances=instances.values())
    instances.clear()  # the caller's own collection is not the snapshot
    key = next(iter(live.instances))
    with pytest.raises(TypeError):
        live.instances[InstanceKey("clumio-org", "999999999999", "us-east-1")] = live.instances[key]  # type: ignore[index]
    with pytest.raises(TypeError):
        live.stack_sets["clumio-org"].parameters["ClumioRegion"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        del live.org.accounts["222200000001"]  # type: ignore[attr-defined]
    assert key in live.instances and len(live.org.accounts) == len(demo_org().accounts)
