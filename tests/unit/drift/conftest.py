"""A healthy in-memory world for drift tests: /Workloads targeted in two regions, everything deployed and connected."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.core.desired import Desired
from reconciler.core.keys import InstanceKey
from reconciler.core.live import Live, LiveInstance
from reconciler.drift.classify import DriftInputs
from reconciler.plan.expand import expand
from tests.fakes import connection, demo_org, instance, live_stack_set, make_desired, make_live, make_template

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass
class World:
    desired: Desired
    live: Live

    def inputs(self, **kwargs: Any) -> DriftInputs:
        return DriftInputs(self.desired, self.live, expand(self.desired, self.live.org), NOW, **kwargs)

    def with_live(self, **changes: Any) -> World:
        return World(self.desired, replace(self.live, **changes))

    def with_instance(self, inst: LiveInstance) -> World:
        return self.with_live(instances={**self.live.instances, inst.key: inst})

    def without_instance(self, key: InstanceKey) -> World:
        return self.with_live(instances={k: v for k, v in self.live.instances.items() if k != key})


def healthy_world(template_version: str = "latest", clumio_version: str = "24.4", **desired_kwargs: Any) -> World:
    org = demo_org()
    desired = make_desired(ous=["/Workloads"], template_version=template_version, **desired_kwargs)
    template = make_template("24.4")
    expansion = expand(desired, org)
    instances = [instance(k.stack_set, k.account, k.region, ou="ou-fake-workload") for k in expansion.targets]
    connections = [connection(k.account, k.region) for k in expansion.targets]
    ss = live_stack_set(desired, template, organizational_unit_ids=("ou-fake-workload",))
    live = make_live(org, stack_sets=[ss], instances=instances, connections=connections,
                     template=make_template(clumio_version))
    return World(desired, live)


@pytest.fixture
def world() -> World:
    return healthy_world()
