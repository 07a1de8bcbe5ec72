"""Live fingerprint: a SHA-256 over exactly what a plan depends on, so ``apply PLANFILE`` can tell the world moved."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from reconciler.core.live import Live, LiveStackSet

FINGERPRINT_PREFIX = "sha256:"


def _stack_set_lines(ss: LiveStackSet) -> Iterable[str]:
    # Secrets come back masked, so hashing parameters never hashes a secret.
    yield (f"S|{ss.name}|{ss.status}|{ss.permission_model.value}|{ss.description}|"
           f"{ss.template_sha256}|{sorted(ss.parameters.items())}|"
           f"{sorted(ss.capabilities)}|{sorted(ss.tags)}|{ss.auto_deployment}|"
           f"{ss.retain_stacks_on_account_removal}|{ss.managed_execution}|{ss.administration_role_arn}|"
           f"{ss.execution_role_name}")


def live_fingerprint(live: Live, accounts: Iterable[str], stack_sets: Iterable[str]) -> str:
    """``sha256:<hex>`` over the named StackSets' definitions, their instance keys and statuses, and the membership
    (parent, state) of ``accounts`` (every account the targets reach).

    Clumio connection status and drift timestamps are left out on purpose: they change by themselves and do not
    change what apply would do.
    """
    h = hashlib.sha256()
    names = sorted(set(stack_sets))
    h.update(f"O|{live.org.org_id}|{live.org.management_account}\n".encode())
    for name in names:
        ss = live.stack_sets.get(name)
        h.update(("\n".join(_stack_set_lines(ss)) if ss else f"S|{name}|absent").encode() + b"\n")
    wanted = set(names)
    rows = sorted(
        (k.stack_set, k.account, k.region, i.status.value, i.detailed_status.value if i.detailed_status else "")
        for k, i in live.instances.items() if k.stack_set in wanted
    )
    h.update("\n".join("I|" + "|".join(r) for r in rows).encode())
    for account in sorted(set(accounts)):
        acct = live.org.accounts.get(account)
        line = f"A|{account}|{acct.parent_id}|{acct.state.value}" if acct else f"A|{account}|gone"
        h.update(line.encode() + b"\n")
    return FINGERPRINT_PREFIX + h.hexdigest()
