"""Cross-field checks on targets and rollout waves: what the file says must be able to select accounts.

Without the live organization we cannot know which accounts an OU holds, so these checks only flag what is wrong
whatever the organization looks like: a wave naming an excluded account, waves that overlap, the management account
named anywhere, targets and exclusions that cancel out. ``plan`` reports the rest once it has read the OU tree.
"""

from __future__ import annotations

from reconciler.config.checks_base import Document, is_path, is_within, obj, strings
from reconciler.config.diagnostics import DocPath, show

MANAGEMENT_HINT = (
    "StackSets never deploy service-managed stacks to the management account; set management_account.onboard: true "
    "to onboard it through its own self-managed StackSet"
)


def _management(data: dict[str, object]) -> str | None:
    value = obj(data.get("organization")).get("management_account")
    return value if isinstance(value, str) else None


def check_targets(doc: Document, data: dict[str, object]) -> None:
    if not isinstance(data.get("targets"), dict):
        return
    targets = obj(data.get("targets"))
    exclude = obj(targets.get("exclude"))
    accounts = strings(targets.get("accounts"))
    ous = strings(targets.get("ous"))
    organization = targets.get("organization") is True
    if not organization and not accounts and not ous:
        doc.error(
            ("targets",),
            "targets selects no account: give organization: true, ous or accounts",
            "organization: true onboards every account; ous: [/Workloads] a part of the tree",
            key=True,
        )
    if organization:
        for key in ("ous", "accounts"):
            if targets.get(key):
                doc.error(
                    ("targets", key),
                    f"targets.{key} is redundant with organization: true (which already targets every account)",
                    f"remove targets.{key}, or set organization: false to target only what is listed",
                    key=True,
                )
    management = _management(data)
    for index, account in accounts:
        if account == management:
            doc.error(
                ("targets", "accounts", index),
                f"targets.accounts[{index}]: {show(account)} is the management account",
                MANAGEMENT_HINT,
            )
    targeted_accounts = {account for _, account in accounts}
    for index, account in strings(exclude.get("accounts")):
        if account in targeted_accounts:
            doc.error(
                ("targets", "exclude", "accounts", index),
                f"targets.exclude.accounts[{index}]: account {show(account)} is both targeted and excluded",
                "remove it from targets.accounts or from targets.exclude.accounts",
            )
    excluded_ous = strings(exclude.get("ous"))
    for index, ou in ous:
        for _, excluded in excluded_ous:
            if ou == excluded or (is_path(ou) and is_path(excluded) and is_within(ou, excluded)):
                doc.error(
                    ("targets", "ous", index),
                    f"targets.ous[{index}]: OU {show(ou)} is both targeted and excluded (by {show(excluded)})",
                    "remove it from targets.ous or from targets.exclude.ous",
                )
                break


class _WaveChecker:
    """Checks waves in order, remembering which accounts and OUs earlier waves already took."""

    def __init__(self, doc: Document, data: dict[str, object], count: int) -> None:
        targets = obj(data.get("targets"))
        exclude = obj(targets.get("exclude"))
        self.doc = doc
        self.count = count
        self.management = _management(data)
        self.excluded_accounts = {account for _, account in strings(exclude.get("accounts"))}
        self.excluded_ous = [ou for _, ou in strings(exclude.get("ous"))]
        self.target_accounts = {account for _, account in strings(targets.get("accounts"))}
        self.target_ous = [ou for _, ou in strings(targets.get("ous"))]
        organization = targets.get("organization") is True
        self.accounts_only = not organization and not self.target_ous
        self.paths_only = not organization and bool(self.target_ous) and all(map(is_path, self.target_ous))
        self.names: dict[str, int] = {}
        self.taken_accounts: dict[str, str] = {}
        self.taken_ous: list[tuple[str, str]] = []

    def check(self, index: int, raw: object) -> None:
        wave = obj(raw)
        at: DocPath = ("rollout", "waves", index)
        name = str(wave["name"]) if isinstance(wave.get("name"), str) else f"#{index + 1}"
        if name in self.names:
            self.doc.error(
                (*at, "name"), f"wave name {show(name)} is used twice (first by wave {self.names[name] + 1})"
            )
        self.names.setdefault(name, index)
        accounts = strings(wave.get("accounts"))
        ous = strings(wave.get("ous"))
        if isinstance(raw, dict):
            self._selectors(at, name, wave, bool(accounts or ous), index == self.count - 1)
        for position, account in accounts:
            self._account((*at, "accounts", position), name, account)
        for position, ou in ous:
            self._ou((*at, "ous", position), name, ou)
            self.taken_ous.append((ou, name))

    def _selectors(self, at: DocPath, name: str, wave: dict[str, object], named: bool, last: bool) -> None:
        doc = self.doc
        if wave.get("rest") is True:
            if not last:
                doc.error(
                    (*at, "rest"),
                    f"wave {show(name)} takes the rest of the accounts but is not the last wave",
                    "move the rest: true wave to the end; waves after it would select nothing",
                    key=True,
                )
            for key in ("accounts", "ous", "sample"):
                if key in wave:
                    doc.error(
                        (*at, key),
                        f"wave {show(name)}: {key} cannot be combined with rest: true",
                        "rest takes every remaining target; put these in an earlier wave",
                        key=True,
                    )
        elif not named and "sample" not in wave:
            doc.error(
                at,
                f"wave {show(name)} selects no account: give accounts, ous, sample or rest: true",
                "a canary wave is e.g. {name: canary, sample: 2}; the last wave is usually {name: rest, rest: true}",
                key=True,
            )
        elif "sample" in wave and named:
            doc.error(
                (*at, "sample"),
                f"wave {show(name)}: sample cannot be combined with accounts or ous",
                "sample: N picks N accounts that no wave names; to pick within an OU, list the accounts by id",
                key=True,
            )

    def _account(self, place: DocPath, name: str, account: str) -> None:
        doc = self.doc
        if account == self.management:
            doc.error(place, f"wave {show(name)}: {show(account)} is the management account", MANAGEMENT_HINT)
        elif account in self.excluded_accounts:
            doc.error(
                place,
                f"wave {show(name)}: account {show(account)} is excluded in targets.exclude.accounts",
                "remove it from the wave or from the exclusions",
            )
        elif self.accounts_only and account not in self.target_accounts:
            doc.error(
                place,
                f"wave {show(name)}: account {show(account)} is not among the targets",
                "waves choose among targets; add it to targets.accounts or remove it from the wave",
            )
        elif account in self.taken_accounts:
            doc.error(
                place,
                f"wave {show(name)}: account {show(account)} is already in wave {show(self.taken_accounts[account])}",
                "waves must not overlap: an account belongs to one wave",
            )
        self.taken_accounts.setdefault(account, name)

    def _ou(self, place: DocPath, name: str, ou: str) -> None:
        doc = self.doc
        for excluded in self.excluded_ous:
            if ou == excluded or (is_path(ou) and is_path(excluded) and is_within(ou, excluded)):
                doc.error(
                    place,
                    f"wave {show(name)}: OU {show(ou)} is excluded (by {show(excluded)} in targets.exclude.ous)",
                    "a wave can only select targeted accounts; remove the OU from the wave or from the exclusions",
                )
                return
        if self.accounts_only:
            doc.error(
                place,
                f"wave {show(name)}: OU {show(ou)} is not among the targets (targets lists accounts only)",
                "add the OU to targets.ous, or select the wave's accounts by id",
            )
            return
        if self.paths_only and is_path(ou) and not any(is_within(ou, target) for target in self.target_ous):
            doc.error(
                place,
                f"wave {show(name)}: OU {show(ou)} is not inside any targeted OU",
                f"targeted OUs: {', '.join(self.target_ous)}",
            )
            return
        for earlier, owner in self.taken_ous:
            if ou == earlier or (is_path(ou) and is_path(earlier) and is_within(ou, earlier)):
                doc.error(
                    place,
                    f"wave {show(name)}: OU {show(ou)} is already taken by wave {show(owner)}"
                    f" (through {show(earlier)})",
                    "waves must not overlap: list the narrower OU in the earlier wave, the wider one later",
                )
                return


def check_waves(doc: Document, data: dict[str, object]) -> None:
    """Waves must select targeted accounts, not overlap, and end with at most one rest wave."""
    waves = obj(data.get("rollout")).get("waves")
    if not isinstance(waves, list):
        return
    checker = _WaveChecker(doc, data, len(waves))
    for index, raw in enumerate(waves):
        checker.check(index, raw)
