"""The quick schema check says "valid" only when jsonschema agrees, and says it for the shipped examples (so a
valid file is accepted without importing jsonschema)."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from reconciler.config.schema import load_schema
from reconciler.config.schema_fast import surely_valid
from tests.config_inputs import example_sources, mutate

EXAMPLES = sorted((Path(__file__).parents[3] / "examples").glob("*.yaml"))
ODD_VALUES: list[Any] = [None, True, False, 0, 1, -1, 1.5, 2.0, 10**6, "", "x", "us-east-1", "123456789012",
                         "o-abc1234567", "ou-ab12-abcd1234", "/Prod", [], ["a", "a"], [1, True], {}, {"x": 1},
                         {1: "int key"}]


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*at, index))
    return found


def _mutated(doc: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        at = rng.choice(_paths(doc)[1:])
        parent = doc
        for part in at[:-1]:
            parent = parent[part]
        action = rng.random()
        if action < 0.2 and isinstance(parent, dict):
            del parent[at[-1]]
        elif action < 0.3 and isinstance(parent, dict):
            parent[rng.choice(["extra", "regions", "name", "mode", "ou"])] = rng.choice(ODD_VALUES)
        elif action < 0.4 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[at[-1]]))
        else:
            parent[at[-1]] = copy.deepcopy(rng.choice([*ODD_VALUES, parent[rng.choice(list(
                parent) if isinstance(parent, dict) else range(len(parent)))]]))
    return doc


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_the_examples_are_accepted_by_the_quick_check(example: Path) -> None:
    assert surely_valid(load_schema(), yaml.safe_load(example.read_text(encoding="utf-8")))


def test_the_quick_check_never_accepts_what_jsonschema_rejects() -> None:
    schema = load_schema()
    validator = Draft202012Validator(schema)
    rng = random.Random(16)
    docs = [yaml.safe_load(path.read_text(encoding="utf-8")) for path in EXAMPLES]
    for text in example_sources(fit_fakes=False):
        for _ in range(100):
            try:
                docs.append(yaml.safe_load(mutate(text, rng, rng.randint(1, 4))))
            except Exception:  # noqa: BLE001 - a mutation PyYAML cannot load is simply not a case
                continue
    bases = list(docs[: len(EXAMPLES)])
    docs += [_mutated(rng.choice(bases), rng) for _ in range(1500)]
    accepted = agreed_valid = 0
    for doc in docs:
        valid = validator.is_valid(doc)
        quick = surely_valid(schema, doc)
        assert valid or not quick, f"the quick check accepted a document jsonschema rejects: {doc!r}"
        accepted += quick
        agreed_valid += valid
    # It is useful too: most documents jsonschema accepts are accepted without it.
    assert accepted >= 0.9 * agreed_valid and agreed_valid > 50, (accepted, agreed_valid)
