"""Plan as JSON (schemas/plan.schema.json): the same document ``plan --out`` writes."""

from __future__ import annotations

import json

from reconciler.core.plan import Plan
from reconciler.plan.planfile import plan_to_json


def render_plan_json(plan: Plan) -> str:
    return json.dumps(plan_to_json(plan), indent=2) + "\n"
