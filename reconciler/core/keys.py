"""InstanceKey: the grain at which every decision in clumio-org is made."""

from __future__ import annotations

from typing import NamedTuple


class InstanceKey(NamedTuple):
    """One stack instance: a StackSet deployed to one account in one region.

    StackSets store one stack per (account, region) pair; OU targets are only a way of naming many pairs at once. The
    tool expands every OU itself, so plans, state, drift reports and Clumio connections (whose id is
    ``<account>_<region>``) all line up on this key. Ordering is (stack_set, account, region) so every list we print
    diffs cleanly in review.

    A NamedTuple, not a dataclass: a plan hashes, compares and sorts keys hundreds of thousands of times (every
    instance of the organization is a dict key in the Live, the expansion and the diff), and a tuple does each in C
    — a frozen dataclass runs Python code for each.
    """

    stack_set: str
    account: str
    region: str

    @property
    def connection_id(self) -> str:
        """The Clumio connection id for this account and region (reference/clumio-api.md §3.3)."""
        return f"{self.account}_{self.region}"

    def __str__(self) -> str:
        return f"{self.stack_set}/{self.account}/{self.region}"
