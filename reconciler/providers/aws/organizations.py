"""OrgReader on boto3: the Organizations tree (walked once, parents read in parallel), caller, trusted access,
delegated administrators, enabled regions and IAM roles of the calling account."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from reconciler.core.live import Account, OrganizationalUnit, OrgTree
from reconciler.core.ports import STACKSETS_SERVICE_PRINCIPAL, OrganizationInfo
from reconciler.providers.aws import convert
from reconciler.providers.aws.errors import aws_errors, call, paginate

TREE_WORKERS = 8  # Organizations throttles hard (TooManyRequestsException, §B): a small pool is enough
PAGE_SIZE = 20  # MaxResults is 1–20 for Organizations list calls (§B)


class AwsOrgReader:
    """Read-only Organizations/STS/IAM/EC2 for the calling account. Results are cached for the run, so discovery and
    preflight asking the same question cost one call."""

    def __init__(self, organizations: Any, sts: Any, ec2: Any, iam: Any) -> None:
        self._org = organizations
        self._sts = sts
        self._ec2 = ec2
        self._iam = iam
        self._lock = threading.Lock()
        self._cache: dict[str, Any] = {}

    def _cached(self, key: str, load: Any) -> Any:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = load()
        with self._lock:
            return self._cache.setdefault(key, value)

    def caller_account(self) -> str:
        return str(self._cached("caller", lambda: call(self._sts, "GetCallerIdentity")["Account"]))

    def describe_organization(self) -> OrganizationInfo:
        info: OrganizationInfo = self._cached(
            "org", lambda: convert.organization(call(self._org, "DescribeOrganization")["Organization"]))
        return info

    def read_tree(self, on_accounts: Callable[[Sequence[str]], None] | None = None) -> OrgTree:
        walked: list[bool] = []

        def walk() -> OrgTree:
            walked.append(True)
            return self._walk(on_accounts)

        tree: OrgTree = self._cached("tree", walk)
        if on_accounts is not None and not walked:  # read earlier in the run: every account at once
            on_accounts(list(tree.accounts))
        return tree

    def _walk(self, on_accounts: Callable[[Sequence[str]], None] | None = None) -> OrgTree:
        """Breadth-first from the root. Each parent costs two paginated listings (its OUs, its accounts), both sent as
        soon as the parent is known, so the walk takes about one round trip per level of OUs."""
        with ThreadPoolExecutor(max_workers=TREE_WORKERS, thread_name_prefix="org-walk") as pool:
            info_future = pool.submit(self.describe_organization)
            roots = paginate(self._org, "ListRoots", "Roots", PaginationConfig={"PageSize": PAGE_SIZE})
            root_id = roots[0]["Id"]
            ous: dict[str, OrganizationalUnit] = {}
            accounts: dict[str, Account] = {}
            pending: set[Future[Any]] = set()

            def visit(parent_id: str) -> None:
                pending.add(pool.submit(self._child_ous, parent_id))
                pending.add(pool.submit(self._child_accounts, parent_id))

            visit(root_id)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    pending.discard(future)
                    found: list[str] = []
                    for child in future.result():
                        if isinstance(child, OrganizationalUnit):
                            ous[child.id] = child
                            visit(child.id)
                        else:
                            accounts[child.id] = child
                            found.append(child.id)
                    if found and on_accounts is not None:
                        on_accounts(found)
            info = info_future.result()
        return OrgTree(org_id=info.id, management_account=info.management_account, root_id=root_id,
                       ous=dict(sorted(ous.items())), accounts=dict(sorted(accounts.items())))

    def _child_ous(self, parent_id: str) -> list[OrganizationalUnit]:
        raw = paginate(self._org, "ListOrganizationalUnitsForParent", "OrganizationalUnits", parent_id,
                       ParentId=parent_id, PaginationConfig={"PageSize": PAGE_SIZE})
        return [convert.organizational_unit(o, parent_id) for o in raw]

    def _child_accounts(self, parent_id: str) -> list[Account]:
        raw = paginate(self._org, "ListAccountsForParent", "Accounts", parent_id,
                       ParentId=parent_id, PaginationConfig={"PageSize": PAGE_SIZE})
        return [convert.account(a, parent_id) for a in raw]

    def service_access_enabled(self, principal: str = STACKSETS_SERVICE_PRINCIPAL) -> bool:
        enabled: frozenset[str] = self._cached("access", lambda: frozenset(
            p["ServicePrincipal"] for p in paginate(self._org, "ListAWSServiceAccessForOrganization",
                                                    "EnabledServicePrincipals")))
        return principal in enabled

    def delegated_administrators(self, principal: str = STACKSETS_SERVICE_PRINCIPAL) -> frozenset[str]:
        admins: frozenset[str] = self._cached(f"admins:{principal}", lambda: frozenset(
            a["Id"] for a in paginate(self._org, "ListDelegatedAdministrators", "DelegatedAdministrators",
                                      ServicePrincipal=principal)))
        return admins

    def enabled_regions(self) -> frozenset[str]:
        """Regions enabled for the calling account (DescribeRegions without AllRegions lists only those)."""
        regions: frozenset[str] = self._cached("regions", lambda: frozenset(
            r["RegionName"] for r in call(self._ec2, "DescribeRegions").get("Regions", [])))
        return regions

    def role_exists(self, role_name: str) -> bool:
        def load() -> bool:
            with aws_errors("iam", "GetRole", role_name):
                try:
                    self._iam.get_role(RoleName=role_name)
                except self._iam.exceptions.NoSuchEntityException:
                    return False
            return True

        exists: bool = self._cached(f"role:{role_name}", load)
        return exists
