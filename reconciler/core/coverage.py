"""Coverage: who already brings Clumio to each desired (account, region), so a plan never deploys it twice.

Brownfield organizations did part of Clumio's procedure by hand: a StackSet made in the console under a name of their
choosing, accounts connected one by one from the Clumio portal (a ``ClumioService`` stack per account and region), or
with Terraform (``clumio_aws_connection`` plus the Terraform module: no CloudFormation stack at all). A second Clumio
deployment onto an (account, region) that has one would fight the first (same role names, a second connection), so
the plan classifies every desired pair and only ``NEW`` ones get a stack instance.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Coverage(enum.Enum):
    """How one desired (account, region) stands before the plan touches it."""

    NEW = "new"  # nothing Clumio there: the managed StackSet deploys it
    MANAGED = "managed"  # an instance of the managed StackSet is there
    OTHER_STACK_SET = "other-stackset"  # an instance of another Clumio StackSet is there
    OUTSIDE_STACK_SET = "outside-stackset"  # a Clumio connection made outside any StackSet (own stack, Terraform)
    # Such a connection, which ``targets.existing_connections: move`` moves onto the managed StackSet: its instance is
    # deployed next to the old stack, and the old stack is deleted only once Clumio shows the takeover.
    MOVE = "move"

    @property
    def blocks_deployment(self) -> bool:
        """Whether a managed stack instance here would be a second Clumio deployment."""
        return self in (Coverage.OTHER_STACK_SET, Coverage.OUTSIDE_STACK_SET)


@dataclass(frozen=True)
class CoverageRow:
    """One desired (account, region) and what already covers it.

    ``by`` names the thing that covers it (a StackSet name, a stack name, ``no CloudFormation stack``);
    ``reason`` says what was found and ``way_forward`` what the user can do about it, both for the plan's reader.
    ``stack_set`` is the managed StackSet the pair is desired in. A ``MOVE`` row also names the connection
    (``connection``), the stack it comes from now (``stack_arn``, None for Terraform's module), the ``wave`` it
    moves in and the ordered ``steps`` of the move, for the plan's reader and for apply's gate.
    """

    stack_set: str
    account: str
    region: str
    coverage: Coverage
    reason: str
    way_forward: str = ""
    by: str | None = None
    connection: str | None = None
    stack_arn: str | None = None
    steps: tuple[str, ...] = ()
    wave: str | None = None
