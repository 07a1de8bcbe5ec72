"""Properties of the operation scheduler (aws-stacksets.md §A5) over random targets and preferences."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.sandbox.operations import Target, _region_limits, schedule

REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]


@st.composite
def operations(draw):
    outcomes = draw(st.lists(st.sampled_from(["SUCCEEDED", "SUCCEEDED", "FAILED", "SKIPPED"]), min_size=1,
                             max_size=25))
    regions = draw(st.lists(st.sampled_from(REGIONS), min_size=1, max_size=3, unique=True))
    targets = [Target(f"{i:012d}", r, None, o, "reason") for r in regions for i, o in enumerate(outcomes)]
    prefs: dict = {"RegionConcurrencyType": draw(st.sampled_from(["SEQUENTIAL", "PARALLEL"])),
                   "ConcurrencyMode": draw(st.sampled_from(["STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE"]))}
    if draw(st.booleans()):
        prefs["MaxConcurrentCount"] = draw(st.integers(1, 10))
    else:
        prefs["MaxConcurrentPercentage"] = draw(st.integers(1, 100))
    if draw(st.booleans()):
        prefs["FailureToleranceCount"] = draw(st.integers(0, 5))
    else:
        prefs["FailureTolerancePercentage"] = draw(st.integers(0, 100))
    return targets, prefs


@settings(max_examples=150, deadline=None)
@given(operations())
def test_every_target_gets_exactly_one_step(op):
    targets, prefs = op
    steps, _ = schedule(targets, prefs, 0.0, 10.0)
    assert sorted((s.account, s.region) for s in steps) == sorted((t.account, t.region) for t in targets)


@settings(max_examples=150, deadline=None)
@given(operations())
def test_never_more_accounts_at_once_per_region_than_max_concurrent(op):
    targets, prefs = op
    steps, _ = schedule(targets, prefs, 0.0, 10.0)
    for region in {t.region for t in targets}:
        n = sum(1 for t in targets if t.region == region)
        concurrent, _, _ = _region_limits(prefs, n)
        busy = [s for s in steps if s.region == region and s.end > s.start]
        for moment in {s.start for s in busy}:
            assert sum(1 for s in busy if s.start <= moment < s.end) <= concurrent


@settings(max_examples=150, deadline=None)
@given(operations())
def test_operation_fails_exactly_when_a_region_exceeds_its_tolerance(op):
    targets, prefs = op
    steps, failed = schedule(targets, prefs, 0.0, 10.0)
    exceeded = False
    for region in {t.region for t in targets}:
        n = sum(1 for t in targets if t.region == region)
        _, tolerance, _ = _region_limits(prefs, n)
        exceeded |= sum(1 for s in steps if s.region == region and s.outcome == "FAILED") > tolerance
    assert failed == exceeded
    if not failed:
        assert all(s.outcome != "CANCELLED" for s in steps)


@settings(max_examples=100, deadline=None)
@given(operations())
def test_sequential_regions_never_overlap(op):
    targets, prefs = op
    prefs = {**prefs, "RegionConcurrencyType": "SEQUENTIAL"}
    steps, _ = schedule(targets, prefs, 0.0, 10.0)
    spans = []
    for region in dict.fromkeys(t.region for t in targets):
        ran = [s for s in steps if s.region == region and s.end > s.start]
        if ran:
            spans.append((min(s.start for s in ran), max(s.end for s in ran)))
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end
