"""``clumio-org state show`` and ``state list`` as text, from the data the state use cases return (the JSON output
prints the same data)."""

from __future__ import annotations

from typing import Any

from reconciler.state import FORMAT_VERSION, format_age


def render_state_show(data: dict[str, Any]) -> str:
    lines = [f"State:      {data['location']}"]
    if not data["exists"]:
        lines.append("            (none yet: nothing has been applied)")
    else:
        stored_in = f"format {data['format_version']}"
        if data["format_version"] != FORMAT_VERSION:
            stored_in += f"; the next write upgrades it to format {FORMAT_VERSION}"
        lines += [f"Lineage:    {data['lineage']}", f"Serial:     {data['serial']} ({stored_in})"]
        lines.append("StackSets:" + ("" if data["stack_sets"] else "  (none recorded)"))
        for name, r in data["stack_sets"].items():
            lines.append(f"  {name}: template {r['template_version']} (sha256 {r['template_sha256'][:12]}), "
                         f"{r['permission_model']}, {r['instances']} instances, updated {r['updated_at'] or '?'}")
        by_status = ", ".join(f"{status} {count}" for status, count in data["instances"]["by_status"].items())
        lines.append(f"Instances:  {data['instances']['total']}" + (f" ({by_status})" if by_status else ""))
        last = data["last_apply"]
        if last:
            lines.append(f"Last apply: plan {last.get('plan_id') or '?'}, {last.get('outcome') or '?'}, "
                         f"started {last.get('started_at') or '?'}, finished {last.get('finished_at') or '-'}")
        else:
            lines.append("Last apply: never")
        for op in data["unfinished_operations"]:
            lines.append(f"Unfinished: {op['operation_id']} {op['kind']} ({op['status']}): "
                         "the next apply follows it instead of submitting it again")
    link = data.get("stack_set_link") or {}
    if data["exists"]:
        if link.get("checked"):
            tagged = link.get("stack_sets") or {}
            lines.append("Link:       " + (", ".join(f"StackSet {n} carries this lineage" for n in tagged)
                                           or "no managed StackSet carries a lineage yet (the next apply tags it)"))
        else:
            lines.append(f"Link:       not checked against the StackSet ({link.get('why', '?')})")
    lock = data["lock"]
    if lock is None:
        lines.append("Lock:       free")
    else:
        dead = ", process no longer running" if lock["holder_is_dead"] else ""
        where = f", CI run {lock['where']}" if lock["where"] else ""
        lines.append(f"Lock:       held by {lock['who']} (pid {lock['pid']}{dead}) for `{lock['operation']}` "
                     f"since {lock['created_at']} ({format_age(lock['age_seconds'])} ago){where}; id {lock['id']}")
    return "\n".join(lines)


def render_state_list(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no stack instances recorded"
    header = ("STACK SET", "ACCOUNT", "REGION", "STATUS", "CONNECTED", "LAST OPERATION", "UPDATED")
    table = [header] + [
        (r["stack_set"], r["account"], r["region"], r["status"],
         {True: "yes", False: "no", None: "-"}[r["connected"]], r["last_operation_id"] or "-", r["updated_at"] or "-")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table)
