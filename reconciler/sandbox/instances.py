"""Stack instances of one StackSet, kept in a sorted index so a page of 100 is cheap at 100,000 instances."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

InstanceKey = tuple[str, str]  # (account, region)


# Mutable on purpose: the simulation updates instances in place as operations progress.
@dataclass(slots=True)
class StackInstance:
    account: str
    region: str
    ou_id: str | None
    status: str = "OUTDATED"  # CURRENT | OUTDATED | INOPERABLE
    detailed: str = "PENDING"  # StackInstanceDetailedStatus
    reason: str | None = None
    stack_id: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    drift_status: str = "NOT_CHECKED"
    last_drift_check: datetime | None = None
    last_operation_id: str | None = None
    template_version: str | None = None  # Clumio version of the template the stack runs (None: not Clumio)
    asset_types: tuple[str, ...] = ()  # the Clumio template's asset blocks (EBS, RDS, S3, DynamoDB)
    deployed_params: dict[str, str] = field(default_factory=dict)
    drifted: dict[str, tuple[str, str]] = field(default_factory=dict)  # logical id -> (property, actual value)
    drift_results: tuple[tuple[str, str, str | None], ...] = ()  # last check: (logical id, status, property)
    drift_results_op: str | None = None

    @property
    def key(self) -> InstanceKey:
        return (self.account, self.region)


class InstanceTable:
    """Instances by (account, region); the sorted key list is rebuilt lazily after inserts or deletes."""

    def __init__(self) -> None:
        self._by_key: dict[InstanceKey, StackInstance] = {}
        self._sorted: list[InstanceKey] | None = []
        self.region_counts: Counter[str] = Counter()
        # Keys matching a ListStackInstances filter, valid for one engine generation (statuses change in place).
        self._filtered: dict[object, tuple[int, list[InstanceKey]]] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, key: InstanceKey) -> StackInstance | None:
        return self._by_key.get(key)

    def add(self, instance: StackInstance) -> StackInstance:
        existing = self._by_key.get(instance.key)
        if existing is not None:
            return existing
        self._by_key[instance.key] = instance
        self.region_counts[instance.region] += 1
        self._sorted = None
        self._filtered.clear()
        return instance

    def remove(self, key: InstanceKey) -> StackInstance | None:
        instance = self._by_key.pop(key, None)
        if instance is not None:
            self.region_counts[instance.region] -= 1
            if not self.region_counts[instance.region]:
                del self.region_counts[instance.region]
            self._sorted = None
            self._filtered.clear()
        return instance

    def regions(self) -> list[str]:
        return sorted(self.region_counts)

    def keys(self) -> list[InstanceKey]:
        if self._sorted is None:
            self._sorted = sorted(self._by_key)
        return self._sorted

    def __iter__(self) -> Iterator[StackInstance]:
        by_key = self._by_key
        return (by_key[k] for k in self.keys())

    def for_account(self, account: str) -> list[StackInstance]:
        keys = self.keys()
        start = bisect_right(keys, (account, ""))
        out: list[StackInstance] = []
        for key in keys[start:]:
            if key[0] != account:
                break
            out.append(self._by_key[key])
        return out

    def page(self, after: InstanceKey | None, limit: int,
             keep: Callable[[StackInstance], bool] | None = None,
             account: str | None = None) -> tuple[list[StackInstance], InstanceKey | None]:
        """Up to ``limit`` instances after key ``after`` (sorted by account, region) that ``keep`` accepts.

        Returns the page and the last key when more may follow. Bisecting the sorted keys keeps an unfiltered
        page O(log n + limit) however big the StackSet is.
        """
        keys = self.keys()
        if after is not None:
            start = bisect_right(keys, after)
        elif account is not None:
            start = bisect_right(keys, (account, ""))
        else:
            start = 0
        out: list[StackInstance] = []
        by_key = self._by_key
        i = start
        n = len(keys)
        while i < n:
            key = keys[i]
            i += 1
            if account is not None and key[0] != account:
                return out, None
            instance = by_key[key]
            if keep is None or keep(instance):
                out.append(instance)
                if len(out) == limit:
                    return out, (key if i < n else None)
        return out, None

    def filtered_page(self, signature: object, keep: Callable[[StackInstance], bool], generation: int,
                      after: InstanceKey | None, limit: int) -> tuple[list[StackInstance], InstanceKey | None]:
        """Like :meth:`page` with a filter, but the matching keys are indexed once per ``generation``.

        Paging through a sparse filter (e.g. the few SKIPPED_SUSPENDED_ACCOUNT instances among 100,000) would
        otherwise scan most of the table for every page.
        """
        cached = self._filtered.get(signature)
        if cached is None or cached[0] != generation:
            if len(self._filtered) > 32:
                self._filtered.clear()
            by_key = self._by_key
            cached = (generation, [k for k in self.keys() if keep(by_key[k])])
            self._filtered[signature] = cached
        keys = cached[1]
        start = bisect_right(keys, after) if after is not None else 0
        chunk = keys[start:start + limit]
        last = chunk[-1] if chunk and start + limit < len(keys) else None
        return [self._by_key[k] for k in chunk], last
