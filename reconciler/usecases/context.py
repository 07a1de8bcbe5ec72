"""One run's context: the desired state, the settings parsed once, the clock, the ports and the state backend (built
on first use, so a command that needs neither never builds them), and where notes go."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.clock import Clock
from reconciler.core.desired import Desired
from reconciler.core.live import ClumioTemplateInfo, Connection
from reconciler.core.ports import ClumioTemplate, DeploymentParameters
from reconciler.core.settings import Settings, parse_settings
from reconciler.providers.clock import SystemClock


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a plan or a drift report is gathered, and what the phase built
    frozen out of it after (``gc.freeze``).

    Discovery builds every instance, connection and OU of the organization and keeps them: a collection then only
    re-walks live objects (hundreds of thousands at 10,000 × 17), while the garbage the phase makes is freed by
    reference counting. Measured (whole plan process, same sandbox world): 2,000 × 17 4.2-4.4 → 3.8-4.0 s CPU, the
    same peak RSS; 10,000 × 17 14.3 → 13.7 s CPU, peak RSS 341 → 351 MB. Re-enabled as it was, the collector's
    first collection would walk everything the phase made (96 ms at 2,000 × 17, gc.callbacks): frozen, those
    objects stay out of it for the rest of the run (the CLI's ``main`` unfreezes them when it returns). The phase is
    bounded (one discovery and one plan); apply's long run after it runs with the collector as it was."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.enable()


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class OncePerRun:
    """The Clumio port with the two reads a run needs once (the org template, the org-deployment-parameters PUT)
    answered from the first answer for the rest of the run: plan, apply's fresh plan and its executor share them.
    Everything else goes through to the port as it is."""

    def __init__(self, port: Any) -> None:
        self.port = port
        self._templates: dict[tuple[str, ...], ClumioTemplate] = {}
        self._deployments: dict[str, DeploymentParameters] = {}

    def check_token(self) -> None:
        self.port.check_token()

    def latest_template(self) -> ClumioTemplateInfo:
        info: ClumioTemplateInfo = self.port.latest_template()
        return info

    def org_template(self, asset_types: Sequence[str]) -> ClumioTemplate:
        key = tuple(asset_types)
        if key not in self._templates:
            self._templates[key] = self.port.org_template(asset_types)
        return self._templates[key]

    def org_deployment_parameters(self, org_id: str) -> DeploymentParameters:
        if org_id not in self._deployments:
            self._deployments[org_id] = self.port.org_deployment_parameters(org_id)
        return self._deployments[org_id]

    def list_connections(self, accounts: Sequence[str] | None = None,
                         regions: Sequence[str] | None = None) -> list[Connection]:
        found: list[Connection] = self.port.list_connections(accounts, regions)
        return found

    def delete_connection(self, connection_id: str) -> None:
        self.port.delete_connection(connection_id)


@dataclass(frozen=True)
class RunPorts:
    """The ports of one run (``reconciler.providers.factory.Ports`` or a test's fakes), Clumio behind OncePerRun."""

    org: Any
    stacksets: Any
    clumio: Any
    management_stacksets: Any
    guardrails: Any = None
    api_calls: Any = None

    @classmethod
    def of(cls, ports: Any) -> RunPorts:
        if isinstance(ports, RunPorts):
            return ports
        return cls(org=ports.org, stacksets=ports.stacksets, clumio=OncePerRun(ports.clumio),
                   management_stacksets=ports.management_stacksets, guardrails=getattr(ports, "guardrails", None),
                   api_calls=getattr(ports, "api_calls", None))


@dataclass
class Context:
    """What a use case runs with. ``ports`` and ``backend`` given are used as they are (tests pass fakes); left out,
    the real providers and the config's state backend are built on first use."""

    desired: Desired
    clock: Clock = field(default_factory=SystemClock)
    note: Callable[[str], None] = _stderr
    given_ports: Any = None
    given_backend: Any = None
    env: Mapping[str, str] | None = None
    given_settings: Settings | None = None
    _settings: Settings | None = field(default=None, init=False, repr=False)
    _ports: RunPorts | None = field(default=None, init=False, repr=False)
    _backend: Any = field(default=None, init=False, repr=False)
    _timing: Any = field(default=None, init=False, repr=False)

    @classmethod
    def for_run(cls, desired: Desired, *, clock: Clock | None = None, **given: Any) -> Context:
        return cls(desired, clock=clock or SystemClock(), **given)

    @property
    def settings(self) -> Settings:
        """The environment's settings, parsed once, when a use case first needs them (apply and drift do, before
        any API call, so a bad value stops them naming the variable; plan reads none)."""
        if self._settings is None:
            self._settings = self.given_settings or parse_settings(os.environ if self.env is None else self.env)
        return self._settings

    @property
    def ports(self) -> RunPorts:
        if self._ports is None:
            ports = self.given_ports
            if ports is None:
                from reconciler.providers import factory

                ports = factory.build_ports(self.desired)
            self._ports = RunPorts.of(ports)
        return self._ports

    @property
    def backend(self) -> Any:
        if self._backend is None:
            backend = self.given_backend
            if backend is None:
                from reconciler.state import open_backend

                backend = open_backend(self.desired)
            self._backend = backend
        return self._backend

    def timing(self) -> Any:
        """Apply's waiting policy on this run's clock and settings."""
        if self._timing is None:
            from reconciler.apply.timing import Timing

            self._timing = Timing.from_settings(self.settings, clock=self.clock)
        return self._timing
