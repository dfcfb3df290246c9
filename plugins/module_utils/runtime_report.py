# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Summaries and renderings of runtime audit rows (pure): counts, the upgrade plan, CSV."""
from __future__ import annotations

import csv
import io

from ansible_collections.homeiq.phase0.plugins.module_utils.version_policy import (
    PRIORITIES, STATUS_NEEDS_UPGRADE, STATUS_NO_RUNTIME, STATUS_OK, STATUS_STOPPED, STATUS_UNKNOWN)

CSV_COLUMNS = ("service", "container", "image", "image_id", "state", "runtime", "version", "major_minor",
               "source", "command", "minimum", "status", "priority", "note")

STATUSES = (STATUS_OK, STATUS_NEEDS_UPGRADE, STATUS_UNKNOWN, STATUS_NO_RUNTIME, STATUS_STOPPED)


def _count(values):
    counts = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def summarize_rows(rows):
    """Counts a reader checks first: containers, states, statuses, versions per runtime."""
    containers = {}
    for row in rows:
        containers[row["container"]] = row["state"]
    versions = {}
    for row in rows:
        if row.get("version") and row["runtime"] not in ("none", "unknown"):
            versions.setdefault(row["runtime"], []).append(row["version"])
    return {
        "containers": len(containers),
        "running": sum(1 for state in containers.values() if state == "running"),
        "not_running": sum(1 for state in containers.values() if state != "running"),
        "rows": len(rows),
        "by_status": dict((status, sum(1 for r in rows if r.get("status") == status)) for status in STATUSES),
        "versions": dict((runtime, _count(values)) for runtime, values in sorted(versions.items())),
        "needs_upgrade": sum(1 for r in rows if r.get("status") == STATUS_NEEDS_UPGRADE),
        "unknown": sum(1 for r in rows if r.get("status") == STATUS_UNKNOWN),
    }


def upgrade_plan(rows):
    """Rows needing action grouped by priority, highest first, each group with its count.

    NEEDS_UPGRADE rows are the plan; UNKNOWN rows (probe failed) are listed to investigate.
    """
    plan = []
    for priority in PRIORITIES:
        upgrade = [_plan_item(r) for r in rows if r.get("priority") == priority and r.get("status") == STATUS_NEEDS_UPGRADE]
        unknown = [_plan_item(r) for r in rows if r.get("priority") == priority and r.get("status") == STATUS_UNKNOWN]
        plan.append({"priority": priority, "needs_upgrade_count": len(upgrade), "needs_upgrade": upgrade,
                     "unknown_count": len(unknown), "unknown": unknown})
    return plan


_PLAN_KEYS = ("service", "container", "image", "runtime", "version", "minimum", "source", "note")


def _plan_item(row):
    return dict((key, row.get(key)) for key in _PLAN_KEYS)


def render_csv(rows, columns=CSV_COLUMNS):
    """CSV text with a header row; None becomes an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(col) is None else row.get(col) for col in columns])
    return buf.getvalue()
