"""Plan as JSON (schemas/plan.schema.json): the plan file's document, led by an ``overview`` a reviewer or a script
reads first (counts by action and wave, StackSet changes, the OU × region matrix, removals, skipped accounts,
identical changes grouped). ``apply`` accepts it as a plan file: the overview is derived and never read back."""

from __future__ import annotations

import json

from reconciler.core.plan import Plan
from reconciler.plan.overview import overview_to_json
from reconciler.plan.planfile import plan_to_json


def render_plan_json(plan: Plan) -> str:
    return json.dumps({"overview": overview_to_json(plan), **plan_to_json(plan)}, indent=2) + "\n"
