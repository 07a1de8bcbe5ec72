"""The simulated AWS Organization: OU tree, accounts, trusted access, delegated admins, and its API calls."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.sandbox.api import AwsFault

STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"
ADMIN_ROLE = "AWSCloudFormationStackSetAdministrationRole"
EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
ORG_ACCESS_ROLE = "OrganizationAccountAccessRole"
PAGE_MAX = 20  # Organizations list calls take MaxResults 1–20 (aws-stacksets.md §B)


# Simulation state is mutable on purpose: the world changes it in place under its lock.
@dataclass(slots=True)
class Account:
    id: str
    name: str
    email: str
    state: str  # Organizations State: ACTIVE | SUSPENDED | PENDING_CLOSURE | CLOSED
    parent_id: str
    joined: datetime
    roles: set[str]
    explicit_roles: bool = False  # roles listed in the world file are the only ones that exist

    @property
    def status(self) -> str:
        """The legacy Status field (retired 2026-09-09) next to State; CLOSED shows as SUSPENDED there."""
        return {"ACTIVE": "ACTIVE", "PENDING_CLOSURE": "PENDING_CLOSURE"}.get(self.state, "SUSPENDED")


@dataclass(slots=True)
class OrganizationalUnit:
    id: str
    name: str
    parent_id: str | None  # None for the root
    child_ous: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)


class Organization:
    """The OU tree and accounts; every lookup the StackSets engine needs is answered from cached indexes."""

    def __init__(self, org_id: str, management_account: str, management_name: str, root_id: str,
                 created: datetime, management_email: str | None = None) -> None:
        self.id = org_id
        self.management_account = management_account
        self.root_id = root_id
        self.created = created
        self.units: dict[str, OrganizationalUnit] = {root_id: OrganizationalUnit(root_id, "Root", None)}
        self.accounts: dict[str, Account] = {}
        self.trusted_services: dict[str, datetime] = {}
        self.delegated_admins: dict[str, datetime] = {}  # account id -> DelegationEnabledDate (StackSets)
        self._descendants: dict[str, tuple[str, ...]] = {}
        self.add_account(management_account, management_name, root_id, "ACTIVE", created,
                         email=management_email, roles=None, management=True)

    # --- building and changing the tree -------------------------------------------------------------------
    def new_ou_id(self, parent_id: str, name: str) -> str:
        digest = hashlib.sha256(f"{self.id}/{parent_id}/{name}".encode()).hexdigest()[:8]
        return f"ou-{self.root_id[2:]}-{digest}"

    def add_ou(self, name: str, parent_id: str, ou_id: str | None = None) -> OrganizationalUnit:
        ou_id = ou_id or self.new_ou_id(parent_id, name)
        if ou_id in self.units:
            raise ValueError(f"duplicate OU id {ou_id}")
        unit = OrganizationalUnit(ou_id, name, parent_id)
        self.units[ou_id] = unit
        self.units[parent_id].child_ous.append(ou_id)
        self._descendants.clear()
        return unit

    def add_account(self, account_id: str, name: str, parent_id: str, state: str, joined: datetime, *,
                    email: str | None = None, roles: list[str] | None = None, management: bool = False) -> Account:
        # Every account has the execution role, the management account also the administration role (§A1).
        default_roles = {EXECUTION_ROLE, ADMIN_ROLE} if management else {EXECUTION_ROLE, ORG_ACCESS_ROLE}
        account = Account(account_id, name, email or f"aws+{name}@example.com", state, parent_id, joined,
                          set(roles) if roles is not None else default_roles, explicit_roles=roles is not None)
        self.accounts[account_id] = account
        self.units[parent_id].accounts.append(account_id)
        self._descendants.clear()
        return account

    def move_account(self, account_id: str, parent_id: str) -> str:
        account = self.account(account_id)
        old = account.parent_id
        self.units[old].accounts.remove(account_id)
        self.units[parent_id].accounts.append(account_id)
        account.parent_id = parent_id
        self._descendants.clear()
        return old

    # --- lookups ------------------------------------------------------------------------------------------
    def account(self, account_id: str) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise AwsFault("AccountNotFoundException",
                           "You specified an account that doesn't exist.") from None

    def unit(self, ou_id: str) -> OrganizationalUnit:
        try:
            return self.units[ou_id]
        except KeyError:
            raise AwsFault("OrganizationalUnitNotFoundException",
                           "You specified an organizational unit that doesn't exist.") from None

    def resolve_ou(self, ref: str) -> str:
        """An OU id, the root id, or a path of OU names such as ``/Workloads/Prod`` → the OU id."""
        if ref in self.units:
            return ref
        if ref.startswith("/"):
            node = self.root_id
            for name in [p for p in ref.split("/") if p]:
                match = [c for c in self.units[node].child_ous if self.units[c].name == name]
                if not match:
                    raise AwsFault("ValidationError", f"no OU named {name!r} under {self.path_of(node)}")
                node = match[0]
            return node
        raise AwsFault("ValidationError", f"no OU {ref!r} in the organization (use an ou-… id or a /path)")

    def path_of(self, node_id: str) -> str:
        names: list[str] = []
        while node_id != self.root_id:
            unit = self.units[node_id]
            names.append(unit.name)
            assert unit.parent_id is not None
            node_id = unit.parent_id
        return "/" + "/".join(reversed(names))

    def ancestors(self, node_id: str) -> list[str]:
        """``node_id`` and every OU above it up to and including the root, nearest first."""
        chain = [node_id]
        while (parent := self.units[chain[-1]].parent_id) is not None:
            chain.append(parent)
        return chain

    def accounts_under(self, ou_id: str) -> tuple[str, ...]:
        """Every account in the OU and all its descendant OUs (any state, management included), sorted."""
        cached = self._descendants.get(ou_id)
        if cached is None:
            found: list[str] = []
            stack = [ou_id]
            while stack:
                unit = self.units[stack.pop()]
                found.extend(unit.accounts)
                stack.extend(unit.child_ous)
            cached = tuple(sorted(found))
            self._descendants[ou_id] = cached
        return cached

    def account_arn(self, account_id: str) -> str:
        return f"arn:aws:organizations::{self.management_account}:account/{self.id}/{account_id}"

    def ou_arn(self, ou_id: str) -> str:
        if ou_id == self.root_id:
            return f"arn:aws:organizations::{self.management_account}:root/{self.id}/{ou_id}"
        return f"arn:aws:organizations::{self.management_account}:ou/{self.id}/{ou_id}"


# --- the Organizations API --------------------------------------------------------------------------------

def _paged(items: list[Any], params: dict[str, Any], key: str, empty_first: bool = False) -> dict[str, Any]:
    if empty_first and not params.get("NextToken") and items:
        # AWS documents that list calls can return an empty page with a NextToken (aws-stacksets.md §B).
        return {key: [], "NextToken": "orgpage-0"}
    max_results = params.get("MaxResults") or PAGE_MAX
    if not 1 <= max_results <= PAGE_MAX:
        raise AwsFault("InvalidInputException", f"MaxResults must be between 1 and {PAGE_MAX}.")
    start = 0
    if params.get("NextToken"):
        try:
            start = int(str(params["NextToken"]).removeprefix("orgpage-"))
        except ValueError:
            raise AwsFault("InvalidInputException", "The NextToken is not valid.") from None
    out: dict[str, Any] = {key: items[start:start + max_results]}
    if start + max_results < len(items):
        out["NextToken"] = f"orgpage-{start + max_results}"
    return out


def _account_shape(org: Organization, account: Account) -> dict[str, Any]:
    return {"Id": account.id, "Arn": org.account_arn(account.id), "Email": account.email, "Name": account.name,
            "Status": account.status, "State": account.state,
            # o-…/r-…/ou-…/…/<account>/ as newer API versions return it (aws-stacksets.md §B).
            "Paths": [f"{org.id}/{'/'.join(reversed(org.ancestors(account.parent_id)))}/{account.id}/"],
            "JoinedMethod": "CREATED" if account.id == org.management_account else "INVITED",
            "JoinedTimestamp": account.joined}


def _ou_shape(org: Organization, ou_id: str) -> dict[str, Any]:
    return {"Id": ou_id, "Arn": org.ou_arn(ou_id), "Name": org.units[ou_id].name}


def _parent(org: Organization, parent_id: str) -> OrganizationalUnit:
    unit = org.units.get(parent_id)
    if unit is None:
        raise AwsFault("ParentNotFoundException", "We can't find a root or OU with the ParentId that you specified.")
    return unit


def handle_organizations(org: Organization, operation: str, params: dict[str, Any], caller: str,
                         now: datetime, empty_first_pages: bool = False) -> dict[str, Any]:
    """Answer one Organizations call made by account ``caller``."""
    def _page(items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
        return _paged(items, params, key, empty_first_pages)

    def _accounts_page(ids: list[str]) -> dict[str, Any]:
        # Page the ids first: shaping every account for every page is quadratic at 2,000 accounts.
        page = _page(ids, params, "Accounts")
        page["Accounts"] = [_account_shape(org, org.accounts[a]) for a in page["Accounts"]]
        return page

    if operation == "DescribeOrganization":  # any member may call it (§B)
        master = org.accounts[org.management_account]
        return {"Organization": {
            "Id": org.id, "Arn": f"arn:aws:organizations::{org.management_account}:organization/{org.id}",
            "FeatureSet": "ALL", "MasterAccountArn": org.account_arn(org.management_account),
            "MasterAccountId": org.management_account, "MasterAccountEmail": master.email,
            "AvailablePolicyTypes": []}}
    if caller not in org.accounts:
        raise AwsFault("AWSOrganizationsNotInUseException",
                       "Your account is not a member of an organization.")
    writes = {"EnableAWSServiceAccess", "RegisterDelegatedAdministrator", "DeregisterDelegatedAdministrator"}
    if caller != org.management_account and (operation in writes or caller not in org.delegated_admins):
        raise AwsFault("AccessDeniedException", "You don't have permissions to access this resource.")

    if operation == "ListRoots":
        root = {"Id": org.root_id, "Arn": org.ou_arn(org.root_id), "Name": "Root", "PolicyTypes": []}
        return _page([root], params, "Roots")
    if operation == "ListOrganizationalUnitsForParent":
        unit = _parent(org, params["ParentId"])
        return _page([_ou_shape(org, c) for c in unit.child_ous], params, "OrganizationalUnits")
    if operation == "ListAccountsForParent":
        unit = _parent(org, params["ParentId"])
        return _accounts_page(sorted(unit.accounts))
    if operation == "ListChildren":
        unit = _parent(org, params["ParentId"])
        if params["ChildType"] == "ACCOUNT":
            children = [{"Id": a, "Type": "ACCOUNT"} for a in sorted(unit.accounts)]
        else:
            children = [{"Id": c, "Type": "ORGANIZATIONAL_UNIT"} for c in unit.child_ous]
        return _page(children, params, "Children")
    if operation == "ListParents":
        return _page([_parent_of(org, params["ChildId"])], params, "Parents")
    if operation == "ListAccounts":
        return _accounts_page(sorted(org.accounts))
    if operation == "DescribeAccount":
        return {"Account": _account_shape(org, org.account(params["AccountId"]))}
    if operation == "DescribeOrganizationalUnit":
        ou_id = params["OrganizationalUnitId"]
        if ou_id == org.root_id or ou_id not in org.units:
            org.unit("missing")
        return {"OrganizationalUnit": _ou_shape(org, ou_id)}
    return _delegation_call(org, operation, params, now, empty_first_pages)


def _parent_of(org: Organization, child: str) -> dict[str, str]:
    """ListParents' one parent of an account or OU."""
    if child in org.accounts:
        parent = org.accounts[child].parent_id
    elif child in org.units and child != org.root_id:
        parent = org.units[child].parent_id or org.root_id
    else:
        raise AwsFault("ChildNotFoundException", "We can't find an organizational unit (OU) or AWS account "
                                                 "with the ChildId that you specified.")
    kind = "ROOT" if parent == org.root_id else "ORGANIZATIONAL_UNIT"
    return {"Id": parent, "Type": kind}


def _delegation_call(org: Organization, operation: str, params: dict[str, Any], now: datetime,
                     empty_first_pages: bool) -> dict[str, Any]:
    """Trusted service access and delegated administrators (and the fault for any other operation)."""
    if operation == "ListAWSServiceAccessForOrganization":
        items = [{"ServicePrincipal": p, "DateEnabled": d} for p, d in sorted(org.trusted_services.items())]
        return _paged(items, params, "EnabledServicePrincipals", empty_first_pages)
    if operation == "EnableAWSServiceAccess":
        org.trusted_services.setdefault(params["ServicePrincipal"], now)
        return {}
    if operation == "ListDelegatedAdministrators":
        principal = params.get("ServicePrincipal")
        admins = [] if principal not in (None, STACKSETS_PRINCIPAL) else sorted(org.delegated_admins.items())
        items = [{**_account_shape(org, org.accounts[a]), "DelegationEnabledDate": d} for a, d in admins]
        for item in items:
            del item["Paths"]  # DelegatedAdministrator has no Paths member
        return _paged(items, params, "DelegatedAdministrators", empty_first_pages)
    if operation == "RegisterDelegatedAdministrator":
        return _register_delegated_admin(org, params, now)
    if operation == "DeregisterDelegatedAdministrator":
        if org.delegated_admins.pop(params["AccountId"], None) is None:
            raise AwsFault("AccountNotRegisteredException", "The provided account is not a registered delegated "
                                                           "administrator for your organization.")
        return {}
    raise AwsFault("InvalidAction", f"The sandbox does not implement organizations:{operation}.")


def _register_delegated_admin(org: Organization, params: dict[str, Any], now: datetime) -> dict[str, Any]:
    account_id = params["AccountId"]
    org.account(account_id)
    if params["ServicePrincipal"] != STACKSETS_PRINCIPAL:
        raise AwsFault("InvalidInputException", "You specified an unrecognized service principal.")
    if account_id == org.management_account:
        raise AwsFault("ConstraintViolationException", "You cannot register the management account of the "
                                                      "organization as a delegated administrator.")
    if account_id in org.delegated_admins:
        raise AwsFault("AccountAlreadyRegisteredException", "The provided account is already a delegated "
                                                           "administrator for your organization.")
    if len(org.delegated_admins) >= 5:  # at most 5 StackSets delegated admins (§A1)
        raise AwsFault("ConstraintViolationException", "You have exceeded the delegated administrators limit.")
    org.delegated_admins[account_id] = now
    return {}
