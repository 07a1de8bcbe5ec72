"""Clumio connections are listed while the org walk runs: each 100 accounts the walk finds start their listing,
so the largest read of a plan no longer waits for the whole walk — with the same filters and pages as before."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from reconciler.core.live import Account, AccountState, Connection, ConnectionStatus, OrganizationalUnit, OrgTree
from reconciler.discover.live import ACCOUNTS_PER_LISTING, discover
from tests.fakes import fake_ports
from tests.worlds import make_desired


def _tree(accounts: int) -> OrgTree:
    ous = {"ou-a": OrganizationalUnit("ou-a", "A", "r-1")}
    members = {f"{100000000000 + i}": Account(f"{100000000000 + i}", f"a{i}", AccountState.ACTIVE, "ou-a")
               for i in range(accounts)}
    members["900000000000"] = Account("900000000000", "management", AccountState.ACTIVE, "r-1")
    return OrgTree("o-1", "900000000000", "r-1", ous, dict(sorted(members.items())))


def test_connections_are_listed_while_the_walk_still_runs() -> None:
    tree = _tree(250)
    ports = fake_ports(tree)
    for account in tree.accounts:
        ports.clumio.connections[(account, "us-east-1")] = Connection(
            f"{account}_us-east-1", account, "us-east-1", ConnectionStatus.CONNECTED, "24.4")
    listed_early = threading.Event()
    batches: list[int] = []
    original = ports.clumio.list_connections

    def listing(accounts: Sequence[str] | None = None, regions: Sequence[str] | None = None) -> list[Connection]:
        batches.append(len(accounts or ()))
        listed_early.set()
        return original(accounts, regions)

    def walk(on_accounts: Callable[[Sequence[str]], None] | None = None) -> OrgTree:
        assert on_accounts is not None
        ids = list(tree.accounts)
        on_accounts(ids[:120])  # the first parent's listing is done: its 100 accounts can be asked for now
        # The walk is still going (other parents); the first Clumio listing must not wait for it.
        assert listed_early.wait(5), "no Clumio listing started before the org walk ended"
        on_accounts(ids[120:])
        return tree

    ports.clumio.list_connections = listing  # type: ignore[method-assign]
    ports.org.read_tree = walk  # type: ignore[method-assign]
    live = discover(make_desired(organization=True), ports)
    assert set(live.connections) == {(a, "us-east-1") for a in tree.accounts}
    assert sorted(batches) == [51, ACCOUNTS_PER_LISTING, ACCOUNTS_PER_LISTING]  # 251 accounts: 3 filters, as before
