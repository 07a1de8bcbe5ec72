"""Sandbox speed: start-up time, and ListStackInstances page latency over HTTP at 100,000 stack instances.

Builds a generated world (reconciler.sandbox.worldgen) with the Clumio StackSet already deployed to every account in
every region — ceil(instances / regions) accounts × 17 regions — serves it on a loopback port, and reads
ListStackInstances through boto3 exactly as the tool does: 100-row pages following NextToken (unfiltered, filtered by
DETAILED_STATUS, and per account). Target: ≤ 20 ms per page for the sandbox's answer over HTTP (request, world,
XML serialisation, transfer), after one untimed first call per listing (shown: it may build an index); boto3's
end-to-end time, botocore's XML parsing included, is printed for information.

Exits 1 when a listing misses the bound.

Run from the repository root:  python benchmarks/sandbox.py [--quick] [--instances 100000] [--pages 100]
"""

from __future__ import annotations

import argparse
import http.client
import math
import re
import shlex
import statistics
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any
from xml.sax.saxutils import unescape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.sandbox.clock import VirtualClock  # noqa: E402
from reconciler.sandbox.server import start_in_thread  # noqa: E402
from reconciler.sandbox.world import ALL_REGIONS, World  # noqa: E402
from reconciler.sandbox.worldgen import generate_world_spec  # noqa: E402

PAGE_BOUND_MS = 20.0
STACK_SET = "clumio-org"


_AUTH = ("AWS4-HMAC-SHA256 Credential=sandbox/20260105/us-east-1/cloudformation/aws4_request, "
         "SignedHeaders=host;x-amz-date, Signature=0")


class RawCloudFormation:
    """ListStackInstances over a keep-alive HTTP connection, timing the sandbox's answer without botocore's parsing
    (what the ≤ 20 ms bound is about); the NextToken is read back with a regular expression."""

    def __init__(self, host: str, port: int) -> None:
        self.connection = http.client.HTTPConnection(host, port, timeout=30)

    def list_stack_instances(self, **params: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"Action": "ListStackInstances", "Version": "2010-05-15"}
        for name, value in params.items():
            if name == "Filters":
                for index, item in enumerate(value, 1):
                    fields[f"Filters.member.{index}.Name"] = item["Name"]
                    fields[f"Filters.member.{index}.Values"] = item["Values"]
            else:
                fields[name] = value
        self.connection.request("POST", "/", body=urllib.parse.urlencode(fields), headers={
            "Authorization": _AUTH, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        body = self.connection.getresponse().read()
        token = re.search(rb"<NextToken>(.*?)</NextToken>", body)
        page: dict[str, Any] = {"Summaries": [None] * body.count(b"<member><StackSetId>")}
        if token:
            page["NextToken"] = unescape(token.group(1).decode())
        return page


def _pages(call: Any, count: int, **kwargs: Any) -> tuple[list[float], int]:
    """Milliseconds per page for up to ``count`` pages following NextToken, and rows read."""
    timings: list[float] = []
    rows = 0
    token: str | None = None
    while len(timings) < count:
        args = dict(kwargs, MaxResults=100, **({"NextToken": token} if token else {}))
        started = time.perf_counter()
        page = call(**args)
        timings.append((time.perf_counter() - started) * 1000)
        rows += len(page["Summaries"])
        token = page.get("NextToken")
        if not token:
            break
    return timings, rows


MISSED: list[str] = []


def _line(label: str, timings: list[float], rows: int, bound: bool) -> str:
    ordered = sorted(timings)
    mean = statistics.fmean(timings)
    p50 = statistics.median(ordered)
    p95 = ordered[max(0, math.ceil(len(ordered) * 0.95) - 1)]
    text = (f"  {label:<40} {len(timings):>4} pages {rows:>6} rows  mean {mean:6.2f} ms  p50 {p50:6.2f} ms  "
            f"p95 {p95:6.2f} ms")
    if not bound:
        return text
    ratio = mean / PAGE_BOUND_MS
    verdict = "ok" if ratio <= 1.0 else "MISSED"
    if ratio > 1.0:
        MISSED.append(label)
    return f"{text}  ratio {ratio:5.3f} (target ≤ 1.0 of {PAGE_BOUND_MS:.0f} ms) {verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="10,000 instances, 20 pages per listing")
    parser.add_argument("--instances", type=int, help="stack instances to deploy (default 100000)")
    parser.add_argument("--pages", type=int, help="pages to time per listing (default 100)")
    args = parser.parse_args(argv)
    args.instances = args.instances or (10_000 if args.quick else 100_000)
    args.pages = args.pages or (20 if args.quick else 100)
    regions = list(ALL_REGIONS)
    accounts = math.ceil(args.instances / len(regions))
    print(f"command: python benchmarks/sandbox.py {shlex.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"world: {accounts} accounts × {len(regions)} regions, StackSet {STACK_SET!r} deployed everywhere")

    started = time.perf_counter()
    spec = generate_world_spec(accounts, regions, deployed=True)
    generated = time.perf_counter()
    world = World.from_spec(spec, VirtualClock())
    built = time.perf_counter()
    sandbox = start_in_thread(world)
    raw = RawCloudFormation(sandbox.host, sandbox.port)
    raw.list_stack_instances(StackSetName=STACK_SET, MaxResults=1)  # the first answer: the sandbox is up
    answered = time.perf_counter()
    cloudformation = sandbox.client("cloudformation")
    instances = len(world.stack_set(STACK_SET).instances)
    print(f"instances: {instances}")
    print("start-up:")
    print(f"  generate world spec     {1000 * (generated - started):8.0f} ms")
    print(f"  build world             {1000 * (built - generated):8.0f} ms  (World.from_spec)")
    print(f"  serve, first answer     {1000 * (answered - built):8.0f} ms  (start_in_thread → first HTTP reply)")
    print(f"  total                   {1000 * (answered - started):8.0f} ms")

    try:
        some_account = spec["ous"][-1]["ous"][-1]["ous"][-1]["accounts"][-1]["id"]
        suspended = [{"Name": "DETAILED_STATUS", "Values": "SKIPPED_SUSPENDED_ACCOUNT"}]
        listings: list[tuple[str, dict[str, Any]]] = [
            ("unfiltered, from the first page", {}),
            ("Filters DETAILED_STATUS=SKIPPED_SUSPENDED", {"Filters": suspended}),
            ("StackInstanceAccount (one account)", {"StackInstanceAccount": some_account}),
            (f"StackInstanceRegion={regions[-1]}", {"StackInstanceRegion": regions[-1]}),
        ]
        for title, call, bound in (
                ("the sandbox's answer over HTTP (the bound)", raw.list_stack_instances, True),
                ("boto3 end to end, for information: botocore's XML parsing is client CPU",
                 cloudformation.list_stack_instances, False)):
            print(f"ListStackInstances, MaxResults=100 — {title}:")
            for label, extra in listings:
                # The first call of a listing may build the world's index for it; it is shown, not averaged.
                first = time.perf_counter()
                call(StackSetName=STACK_SET, MaxResults=100, **extra)
                first_ms = (time.perf_counter() - first) * 1000
                timings, rows = _pages(call, args.pages, StackSetName=STACK_SET, **extra)
                print(f"{_line(label, timings, rows, bound)}  (first call {first_ms:.0f} ms)")
    finally:
        sandbox.stop()
    if MISSED:
        print(f"bounds: {len(MISSED)} MISSED: {'; '.join(MISSED)}")
        return 1
    print("bounds: all met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
