"""The sandbox world: one AWS Organization with its StackSets and one Clumio tenant, simulated over a clock."""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from reconciler.core.errors import ConfigError
from reconciler.sandbox.api import AwsFault, Clock, ClumioRequest, ClumioResponse
from reconciler.sandbox.clumio import ClumioService
from reconciler.sandbox.controltower import seed_landing_zone
from reconciler.sandbox.events import apply_event
from reconciler.sandbox.identity import check_credentials
from reconciler.sandbox.instances import StackInstance
from reconciler.sandbox.objects import InMemoryObjectStore
from reconciler.sandbox.organizations import STACKSETS_PRINCIPAL, Organization
from reconciler.sandbox.policies import seed_policies
from reconciler.sandbox.regions import ALL_REGIONS
from reconciler.sandbox.s3_faults import validate as validate_s3_fault
from reconciler.sandbox.scp_denial import scp_failure
from reconciler.sandbox.seeding import seed_existing_stack_sets, seed_outside_connections
from reconciler.sandbox.services import AWS_SERVICES
from reconciler.sandbox.stacksets import StackSet, StackSetEngine
from reconciler.sandbox.worldfile import load_world_spec, validate_world_spec

__all__ = ["ALL_REGIONS", "THROTTLE_CODES", "World"]  # ALL_REGIONS stays importable from here
THROTTLE_CODES = {"organizations": "TooManyRequestsException", "ec2": "RequestLimitExceeded"}
_ACCOUNT_IN_KEY = re.compile(r"([0-9]{12})")


class World:
    """Implements reconciler.sandbox.api.SandboxWorld. Every public method takes ``lock`` and first applies
    whatever simulated time has passed (operations progress lazily, on reads).

    Build one with ``World.from_file(path, clock)`` or ``World.from_spec(spec, clock)`` (both validate). Besides the
    seam (``handle_aws``, ``handle_clumio``, ``apply_event``, ``status``, ``call_latency_seconds``), tests may read:
    ``org`` (Organization: ``accounts``, ``units``, ``resolve_ou``, ``accounts_under``, ``delegated_admins``),
    ``engine`` (StackSetEngine), ``clumio`` (ClumioService: ``token``, ``external_id``, ``connections``,
    ``current``), ``stack_set(name)``, ``instance(stack_set, account, region)``, ``connection_status(account,
    region)``, ``failing_accounts``; and advance time with ``clock.advance(seconds)`` on a VirtualClock.
    """

    def __init__(self, spec: dict[str, Any], clock: Clock) -> None:
        self.spec = spec
        self.lock = threading.RLock()
        self.clock = clock
        self.objects = InMemoryObjectStore()  # S3 times follow the wall clock, as on AWS
        timing = spec.get("timing") or {}
        self.instance_seconds = float(timing.get("instance_seconds", 150))
        self.connect_seconds = float(timing.get("connect_seconds", 30))
        self.drift_seconds = float(timing.get("drift_seconds", 20))
        faults = spec.get("faults") or {}
        self.failing_accounts: dict[str, str] = dict(faults.get("failing_accounts") or {})
        self.throttle_rate = float(faults.get("throttle_rate", 0.0))
        self.latency_ms = float(faults.get("latency_ms", 0))
        self.empty_first_pages = bool(faults.get("empty_first_pages", False))
        self.s3_faults: list[dict[str, Any]] = [validate_s3_fault(f) for f in faults.get("s3") or []]
        self.expired_keys: set[str] = set()  # access keys the expire-credentials event expired ("*": all)
        self.rng = random.Random(int(faults.get("seed", 0)))
        self.enabled_regions: list[str] = sorted((spec.get("regions") or {}).get("enabled") or ALL_REGIONS)
        self.access_keys: dict[str, tuple[str, str, str]] = {}  # issued key -> (account, role, session)
        self.org = self._build_org(spec)
        self._seed_guardrails(spec.get("guardrails"))
        clumio = spec.get("clumio") or {}
        templates = clumio.get("templates") or {}
        versions = list(templates.get("versions") or ["24.3", "24.4"])
        self.clumio = ClumioService(str(clumio.get("api_token", "sandbox-api-token")), self.org.id, versions,
                                    str(templates.get("current", versions[-1])), self.objects,
                                    lambda a: self.org.accounts[a].name if a in self.org.accounts else a,
                                    random.Random(int(faults.get("seed", 0)) + 1))
        self.clumio.connect_seconds = self.connect_seconds
        self.clumio.error_rate = float(faults.get("clumio_error_rate", 0.0))
        self.engine = StackSetEngine(self.org, self, self.instance_seconds, self.drift_seconds,
                                     lambda: self.failing_accounts)
        self.engine.instance_jitter_seconds = float(timing.get("instance_jitter_seconds", 0))
        self.engine.rng.seed(int(faults.get("seed", 0)) + 2)
        try:
            seed_existing_stack_sets(self, (spec.get("stacksets") or {}).get("existing") or [])
        except AwsFault as exc:
            raise ConfigError(f"sandbox world: stacksets.existing: {exc.message}",
                              hint="targets are OU ids, the root id, or OU paths such as /Workloads/Prod") from None
        seed_outside_connections(self, clumio.get("connections") or [])

    # --- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_spec(cls, spec: dict[str, Any], clock: Clock) -> World:
        return cls(validate_world_spec(spec), clock)

    @classmethod
    def from_file(cls, path: str | Path, clock: Clock) -> World:
        return cls(load_world_spec(path), clock)

    def _build_org(self, spec: dict[str, Any]) -> Organization:
        o = spec["organization"]
        created = self.clock.now() - timedelta(days=400)
        root_id = o.get("root_id") or "r-" + o["id"][2:6]
        org = Organization(o["id"], o["management_account"], o.get("management_account_name", "management"),
                           root_id, created, o.get("management_account_email"))
        if o.get("management_roles") is not None:
            account = org.accounts[o["management_account"]]
            account.roles, account.explicit_roles = set(o["management_roles"]), True

        def add_accounts(accounts: list[dict[str, Any]], parent: str) -> None:
            for a in accounts:
                org.add_account(a["id"], a["name"], parent, a.get("state", "ACTIVE"), created,
                                email=a.get("email"), roles=a.get("roles"))

        def add_ous(ous: list[dict[str, Any]], parent: str) -> None:
            for ou in ous:
                if ou.get("id") in org.units:
                    raise ConfigError(f"sandbox world: OU id {ou['id']} is used twice",
                                      hint="give every OU its own id, or leave ids out")
                unit = org.add_ou(ou["name"], parent, ou.get("id"))
                add_accounts(ou.get("accounts") or [], unit.id)
                add_ous(ou.get("ous") or [], unit.id)

        add_accounts(spec.get("accounts") or [], root_id)
        add_ous(spec.get("ous") or [], root_id)
        stacksets = spec.get("stacksets") or {}
        if stacksets.get("trusted_access", True):
            org.trusted_services[STACKSETS_PRINCIPAL] = created
        for admin in stacksets.get("delegated_admins") or []:
            if admin not in org.accounts or admin == org.management_account:
                raise ConfigError(f"sandbox world: delegated admin {admin} is not a member account of the "
                                  f"organization", hint="list a member account id under stacksets.delegated_admins")
            org.delegated_admins[admin] = created
        return org

    def _seed_guardrails(self, spec: dict[str, Any] | None) -> None:
        try:
            self.policies = seed_policies(self.org, spec)
        except AwsFault as exc:
            raise ConfigError(f"sandbox world: {exc.message}",
                              hint="attach policies by name to root, an OU id or /path, or an account id") from None
        self.landing_zone = seed_landing_zone((spec or {}).get("control_tower"), "us-east-1",
                                              self.org.management_account)

    # --- time ---------------------------------------------------------------------------------------------
    def now_ts(self) -> float:
        return self.clock.now().timestamp()

    def settle(self) -> None:
        """Apply every simulated change due by now (operation steps, queued operations)."""
        with self.lock:
            self.engine.settle(self.now_ts())

    # --- the seam -----------------------------------------------------------------------------------------
    def caller_account(self, access_key: str) -> str:
        """An access key holding a 12-digit number acts as that account; any other key is the management one."""
        issued = self.access_keys.get(access_key)
        if issued is not None:
            return issued[0]
        match = _ACCOUNT_IN_KEY.search(access_key or "")
        return match.group(1) if match else self.org.management_account

    def handle_aws(self, service: str, operation: str, params: dict[str, Any], *,
                   access_key: str, region: str) -> dict[str, Any]:
        with self.lock:
            self.engine.settle(self.now_ts())
            check_credentials(self, access_key, service)
            if self.throttle_rate and self.rng.random() < self.throttle_rate:
                raise AwsFault(THROTTLE_CODES.get(service, "Throttling"), "Rate exceeded", 400)
            handler = AWS_SERVICES.get(service)
            if handler is None:
                raise AwsFault("InvalidAction", f"The sandbox does not implement {service}:{operation}.")
            return handler(self, operation, params, self.caller_account(access_key), access_key, region)

    def guardrail_failure(self, stack_set: StackSet, account: str, region: str) -> str | None:
        """AWS's status reason when the world's SCPs deny what this stack creates in (account, region)."""
        instance = stack_set.instances.get((account, region))
        params = stack_set.effective_parameters(instance.overrides if instance else {})
        return scp_failure(self.org, self.policies, stack_set, account, region, params)

    def handle_clumio(self, request: ClumioRequest) -> ClumioResponse:
        with self.lock:
            self.engine.settle(self.now_ts())
            return self.clumio.handle(request, self.clock.now())

    def apply_event(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.engine.settle(self.now_ts())
            self.engine.generation += 1
            result = apply_event(self, name, dict(args or {}))
            self.engine.settle(self.now_ts())
            return result

    def call_latency_seconds(self) -> float:
        return self.latency_ms / 1000.0

    def status(self) -> dict[str, Any]:
        with self.lock:
            self.engine.settle(self.now_ts())
            now = self.clock.now()
            states = Counter(a.state for a in self.org.accounts.values())
            stack_sets = []
            for s in self.engine.all():
                if s.status == "DELETED":
                    continue
                running = self.engine.running(s)
                stack_sets.append({
                    "name": s.name, "region": s.region, "owner": s.owner, "permission_model": s.permission_model,
                    "instances": len(s.instances),
                    "by_status": dict(Counter(f"{i.status}/{i.detailed}" for i in s.instances)),
                    "running_operation": running.id if running else None,
                    "queued_operations": max(0, len(s.queue) - 1)})
            return {
                "now": now.isoformat(),
                "organization": {"id": self.org.id, "management_account": self.org.management_account,
                                 "root_id": self.org.root_id, "accounts": len(self.org.accounts),
                                 "accounts_by_state": dict(states), "ous": len(self.org.units) - 1},
                "regions": self.enabled_regions,
                "stack_sets": stack_sets,
                "connections": dict(Counter(c.status(now) for c in self.clumio.connections.values())),
                "clumio_templates": {"versions": self.clumio.versions, "current": self.clumio.current},
            }

    # --- StackHooks (called by the engine as stacks change) ----------------------------------------------
    def stack_deployed(self, instance: StackInstance, at: float) -> None:
        if instance.template_version is not None:
            self.clumio.stack_deployed(instance.account, instance.region, instance.template_version,
                                       instance.stack_id, datetime.fromtimestamp(at, UTC), instance.asset_types)

    def stack_deleted(self, account: str, region: str, retained: bool, at: float) -> None:
        if not retained:  # a retained stack keeps running, so Clumio keeps its connection
            self.clumio.stack_deleted(account, region, datetime.fromtimestamp(at, UTC))

    def stack_failure(self, stack_set: StackSet, account: str, params: dict[str, str]) -> str | None:
        """A Clumio template deployed with the wrong ClumioToken / RoleExternalId fails like the real one."""
        if stack_set.template.clumio_version is None or "ClumioToken" not in stack_set.template.parameters:
            return None
        if self.clumio.accepts(params.get("ClumioToken"), params.get("RoleExternalId")):
            return None
        return ("ResourceLogicalId:ClumioIAMRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:Clumio rejected "
                "the connection: ClumioToken or RoleExternalId does not match the deployment parameters of "
                f"organization {self.org.id}.")

    # --- helpers for the StackSets API and for tests -----------------------------------------------------
    def fetch_template_url(self, url: str) -> str:
        """Resolve a TemplateURL against the sandbox S3 (path-style or virtual-hosted style)."""
        parsed = urlparse(url)
        host = parsed.hostname or ""
        path = parsed.path.lstrip("/")
        if ".s3" in host and not host.startswith("s3"):
            bucket, key = host.split(".s3", 1)[0], path
        else:
            bucket, _, key = path.partition("/")
        try:
            return self.objects.get(bucket, key).body.decode("utf-8")
        except AwsFault:
            raise AwsFault("ValidationError", f"TemplateURL must be a supported URL. Could not fetch {url}") from None
        except UnicodeDecodeError:
            raise AwsFault("ValidationError", "Template format error: unsupported encoding.") from None

    def stack_set(self, name: str, region: str = "us-east-1", owner: str | None = None) -> StackSet:
        """The StackSet ``name`` (tests): owned by the management account unless ``owner`` is given."""
        with self.lock:
            self.engine.settle(self.now_ts())
            return self.engine.find(owner or self.org.management_account, region, name, deleted_ok=True)

    def instance(self, stack_set: str, account: str, region: str, *,
                 home_region: str = "us-east-1") -> StackInstance | None:
        """One stack instance of a management-account StackSet, or None (tests)."""
        return self.stack_set(stack_set, home_region).instances.get((account, region))

    def connection_status(self, account: str, region: str) -> str | None:
        """``connecting`` / ``connected`` / ``unlinked`` for the Clumio connection, or None (tests)."""
        with self.lock:
            self.engine.settle(self.now_ts())
            connection = self.clumio.connections.get(f"{account}_{region}")
            return None if connection is None else connection.status(self.clock.now())
