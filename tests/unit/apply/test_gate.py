"""The Clumio gate: connected at the desired version, in batches, bounded, naming what is missing and why."""

from __future__ import annotations

from reconciler.apply.gate import ACCOUNTS_PER_CALL, ConnectionGate
from reconciler.apply.progress import PlainProgress
from reconciler.apply.runtime import Runtime
from reconciler.apply.timing import Timing
from reconciler.core.keys import InstanceKey
from reconciler.core.live import ConnectionStatus
from tests.fakes import FakeClumio
from tests.unit.apply.helpers import FakeClock


def _gate(clumio: FakeClumio, clock: FakeClock) -> ConnectionGate:
    timing = Timing(clock=clock, poll_seconds=10, poll_max_seconds=30)
    return ConnectionGate(clumio, Runtime(timing, PlainProgress(lambda _line: None)))


def test_old_template_version_and_connecting_accounts_are_named_with_reasons() -> None:
    clumio, clock = FakeClumio(), FakeClock()
    keys = [InstanceKey("clumio-org", a, "us-east-1") for a in ("111100000001", "111100000002", "111100000003")]
    clumio.connect(keys[:1], version="24.5")
    clumio.connect(keys[1:2], version="24.4")
    clumio.connect(keys[2:], version="24.5", status=ConnectionStatus.CONNECTING)

    result = _gate(clumio, clock).verify("canary", keys, {"clumio-org": "24.5"}, bound=120)

    assert result.expected == 3 and result.connected == 1
    reasons = {f.account: f.reason for f in result.missing}
    assert reasons["111100000002"] == "Clumio connection reports template 24.4, expected 24.5"
    assert reasons["111100000003"].startswith("Clumio connection is connecting after 1")
    assert 120 <= clock.t < 160


def test_connections_are_read_in_batches_until_all_connect() -> None:
    clumio, clock = FakeClumio(), FakeClock()
    keys = [InstanceKey("clumio-org", f"2222{i:08d}", r) for i in range(250) for r in ("us-east-1", "eu-west-1")]
    original = clumio.list_connections

    def listing(accounts=None, regions=None):  # type: ignore[no-untyped-def]
        if clock.t >= 20:  # they connect a little after the stacks
            clumio.connect(keys, version="24.4")
        return original(accounts, regions)

    clumio.list_connections = listing  # type: ignore[method-assign]
    result = _gate(clumio, clock).verify("rest", keys, {"clumio-org": None}, bound=900)

    assert result.ok and result.connected == 500
    calls_per_poll = -(-250 // ACCOUNTS_PER_CALL)
    assert clumio.calls.count("list_connections") == calls_per_poll * 3  # t=0, 10, 25


def test_a_moved_connection_passes_only_once_clumio_shows_the_stack_set_took_it_over() -> None:
    from dataclasses import replace

    clumio, clock = FakeClumio(), FakeClock()
    key = InstanceKey("clumio-org", "555500000001", "us-east-1")
    old = "arn:aws:cloudformation:us-east-1:555500000001:stack/ClumioService/0a1b2c3d"
    clumio.connect([key], version="24.4")
    pair = (key.account, key.region)
    clumio.connections[pair] = replace(clumio.connections[pair], stack_arn=old)
    timing = Timing(clock=clock, poll_seconds=10, poll_max_seconds=30)
    gate = ConnectionGate(clumio, Runtime(timing, PlainProgress(lambda _line: None)), moved={pair: old})

    # Connected at the right version, but still through the portal's stack: not proof enough to delete it.
    result = gate.verify("rest", [key], {"clumio-org": "24.4"}, bound=60)
    assert not result.ok
    assert result.missing[0].reason.startswith("Clumio connection 555500000001_us-east-1 still runs through stack "
                                               "ClumioService after 6")
    assert result.missing[0].reason.endswith("keep the old stack (backups run on it)")

    clumio.connections[pair] = replace(clumio.connections[pair], retired_stack_arn=old,
                                       stack_arn=old.replace("ClumioService", "StackSet-clumio-org-1"))
    assert gate.verify("rest", [key], {"clumio-org": "24.4"}, bound=60).ok
