# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge a rolled-back stack against its backup. Pure logic, no I/O.

After a rollback the stack must look like it did at backup time: its services running (and
healthy when they have a healthcheck), its images the snapshot's, its volumes holding what
the archives hold. A service that was already unhealthy or stopped when the backup was taken
(the backup's stack_state.json says so) is expected to come back the same way: rollback
restores the old state, good and bad.

Interface:
    container_verdict(container, expected, strict=False) -> (status, detail)
        container: a container summary (docker `containers()` item: State, Status, Labels)
        expected:  {'state': ..., 'health': ...} recorded at backup time for its service, or None
        status: 'ok', 'pending' (still starting), 'as_before' (as unhealthy/stopped as at backup
                time), 'completed' (a one-shot service that exited 0), or 'failed'
        strict: no 'as_before': every service must be running, and healthy where it has a
                healthcheck, whatever it was at backup time (one-shots that exited 0 still complete)
    judge_services(containers, expected_by_service, strict=False) -> dict(ok, pending, rows, problems)
    judge_images(recorded, current_ids) -> dict(ok, rows, problems)
        recorded: manifest images[] (repository, tag, id); current_ids: {'repo:tag': id or None}
    judge_volumes(rows) -> dict(ok, rows, problems)
        rows: [{'name', 'archive_digest', 'live_digest', 'error'}]
"""
from __future__ import annotations

import re

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import container_name, health_from_status

SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"
_EXIT_RE = re.compile(r"Exited \((-?\d+)\)")


def exit_code_from_status(status):
    match = _EXIT_RE.search(status or "")
    return int(match.group(1)) if match else None


def container_verdict(container, expected=None, strict=False):
    state = container.get("State")
    health = health_from_status(container.get("Status"))
    expected = expected or {}
    if state == "running":
        if health in (None, "healthy"):
            return "ok", "running" + (", healthy" if health else "")
        if health == "starting":
            return "pending", "health: starting"
        if not strict and expected.get("health") in ("unhealthy", "starting"):
            # Not healthy at backup time either: rollback restores that state, it cannot improve it.
            return "as_before", "unhealthy; it was %s when the backup was taken" % expected["health"]
        return "failed", "unhealthy (it was %s when the backup was taken)" % (expected.get("health") or "not recorded")
    code = exit_code_from_status(container.get("Status"))
    if state == "exited" and code == 0 and expected.get("state") in (None, "exited"):
        return "completed", "exited 0 (a one-shot service)"
    if not strict and expected.get("state") and expected.get("state") != "running":
        return "as_before", "%s, as it was when the backup was taken" % state
    return "failed", "%s%s" % (state, "" if code is None else " (exit %d)" % code)


def judge_services(containers, expected_by_service, strict=False):
    rows, problems = [], []
    seen = set()
    for container in sorted(containers, key=container_name):
        labels = container.get("Labels") or {}
        if labels.get(ONEOFF_LABEL) == "True":
            continue
        service = labels.get(SERVICE_LABEL)
        seen.add(service)
        status, detail = container_verdict(container, expected_by_service.get(service), strict)
        name = container_name(container)
        rows.append({"service": service, "container": name, "status": status, "detail": detail})
        if status == "failed":
            problems.append("service %s (%s): %s" % (service, name, detail))
    for service, expected in sorted(expected_by_service.items()):
        if service not in seen and (expected or {}).get("state") == "running":
            rows.append({"service": service, "container": None, "status": "failed", "detail": "no container"})
            problems.append("service %s: no container, but it was running when the backup was taken" % service)
    pending = [r["service"] for r in rows if r["status"] == "pending"]
    return {"ok": not problems and not pending, "pending": pending, "rows": rows, "problems": problems}


def judge_images(recorded, current_ids):
    rows, problems = [], []
    for image in recorded:
        ref = "%s:%s" % (image.get("repository"), image.get("tag")) if image.get("tag") else image.get("repository")
        actual = current_ids.get(ref)
        ok = actual == image.get("id")
        rows.append({"image": ref, "expected_id": image.get("id"), "actual_id": actual, "ok": ok})
        if not ok:
            problems.append("image %s is %s, the backup recorded %s" % (ref, actual or "missing", image.get("id")))
    return {"ok": not problems, "rows": rows, "problems": problems}


def judge_volumes(rows):
    problems = []
    out = []
    for row in rows:
        ok = not row.get("error") and row.get("archive_digest") and row.get("archive_digest") == row.get("live_digest")
        out.append(dict(row, ok=bool(ok)))
        if row.get("error"):
            problems.append("volume %s: %s" % (row["name"], row["error"]))
        elif not ok:
            problems.append("volume %s holds other content than its archive (digest %s, archive %s)"
                            % (row["name"], (row.get("live_digest") or "-")[:12], (row.get("archive_digest") or "-")[:12]))
    return {"ok": not problems, "rows": out, "problems": problems}
