# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The phase 0 run report: facts read from the artifacts the steps wrote, nothing else.

The playbook hands over one record per step (name, status, start/end times, the message of a
failure, and the directory or file the step wrote). Each step's facts are read from its own
artifact files (infrastructure_validation.json, manifest.json, runtime_versions.json, ...);
a number that no artifact holds is not in the report. A step that did not run is `not_run`,
never a pass.

Interface:
    STEP_ORDER, STEP_TITLES
    load_step_facts(step) -> dict     reads the artifacts of one step record (I/O: reads files)
    build_report(steps, meta) -> dict  pure: verdict, per-step sections, checklist, issues,
                                       metrics, next steps, rollback plan
    render_markdown(report) -> str     pure
    summary_for_stats(report) -> dict  the small dict published with set_stats for AWX
"""
from __future__ import annotations

import json
import os

from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import backup_root_option, rollback_command

SCHEMA = "homeiq.phase0/run-report/v1"

STEP_ORDER = ("infra", "backup", "healthcheck", "audit", "monitoring")
STEP_TITLES = {
    "project": "Project resolution (engine and compose files)",
    "infra": "Host readiness (infrastructure check)",
    "backup": "Backup of volumes, configs and images",
    "healthcheck": "Health diagnosis and probe repair",
    "audit": "Python and Node.js runtime audit",
    "monitoring": "Build monitoring",
}
# Step statuses the playbook records. `skipped` = deliberately not run (tags, a guard);
# `not_run` = never reached (an earlier step failed, or not asked for).
PASSED, WARNING, FAILED, SKIPPED, NOT_RUN, CHECK = "passed", "warning", "failed", "skipped", "not_run", "check_mode"
STATUS_TEXT = {PASSED: "PASS", WARNING: "WARN", FAILED: "FAIL", SKIPPED: "SKIPPED", NOT_RUN: "not run",
               CHECK: "check mode (nothing written)"}


def _read_json(path):
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle), None
    except (OSError, ValueError) as exc:
        return None, "%s: %s" % (path, exc)


def _mb(nbytes):
    return round((nbytes or 0) / 1e6, 1)


# --- per-step fact readers: artifact files -> facts --------------------------------------

def _infra_facts(path):
    data, error = _read_json(os.path.join(path, "infrastructure_validation.json"))
    if data is None:
        return {"errors": [error]}
    checks = data.get("checks") or []
    return {
        "artifact": os.path.join(path, "infrastructure_validation.md"),
        "overall": data.get("status"),
        "counts": data.get("summary") or {},
        "checks": [{"id": c.get("id"), "title": c.get("title") or c.get("id"), "requirement": c.get("requirement"),
                    "value": c.get("value"), "status": c.get("status"), "fix": c.get("fix") or ""}
                   for c in checks],
        "elapsed_s": data.get("elapsed"),
    }


def _audit_facts(path):
    data, error = _read_json(os.path.join(path, "runtime_versions.json"))
    if data is None:
        return {"errors": [error]}
    dockerfiles, _error = _read_json(os.path.join(path, "dockerfile_versions.json"))
    summary = data.get("summary") or {}
    rows = data.get("rows") or []
    facts = {
        "artifact": os.path.join(path, "upgrade_plan.md"),
        "containers": summary.get("containers"),
        "running": summary.get("running"),
        "not_running": summary.get("not_running"),
        "needs_upgrade": summary.get("needs_upgrade"),
        "unknown": summary.get("unknown"),
        "versions": summary.get("versions") or {},
        "minimums": (data.get("policy") or {}).get("minimum_versions") or (data.get("policy") or {}).get("minimums"),
        "needs_upgrade_rows": [{"service": r.get("service"), "runtime": r.get("runtime"), "version": r.get("version"),
                                "minimum": r.get("minimum"), "priority": r.get("priority")}
                               for r in rows if r.get("status") == "NEEDS_UPGRADE"],
        "elapsed_s": data.get("elapsed"),
    }
    if dockerfiles:
        facts["base_images"] = dockerfiles.get("base_images")
        facts["drift"] = dockerfiles.get("drift_summary")
    return facts


def _backup_facts(path):
    manifest, error = _read_json(os.path.join(path, "manifest.json"))
    if manifest is None:
        return {"errors": [error]}
    volumes = manifest.get("volumes") or []
    images = manifest.get("images") or []
    configs = manifest.get("configs") or []
    facts = {
        "artifact": os.path.join(path, "MANIFEST.md"),
        "backup_id": manifest.get("backup_id"),
        "backup_dir": path,
        "complete": manifest.get("complete") is True,
        "volumes": [{"name": v.get("name"), "bytes": v.get("bytes"), "raw_bytes": v.get("raw_bytes"),
                     "consistency": v.get("consistency"), "duration_s": v.get("duration_s"),
                     "mb_per_s": v.get("mb_per_s")} for v in volumes],
        "volume_count": len(volumes),
        "archive_bytes": sum(v.get("bytes") or 0 for v in volumes),
        "raw_bytes": sum(v.get("raw_bytes") or 0 for v in volumes),
        "image_count": len(images),
        "images_saved": sum(1 for i in images if i.get("archive")),
        "snapshot_tags": sorted(set(i.get("snapshot_tag") for i in images if i.get("snapshot_tag"))),
        "config_count": len(configs),
        "sensitive_configs": sum(1 for c in configs if c.get("sensitive")),
        "live_volumes": [v.get("name") for v in volumes if v.get("consistency") in ("live", "none")],
    }
    verify, _error = _read_json(os.path.join(path, "verify.json"))
    if verify:
        facts["verify"] = {"mode": verify.get("mode"), "ok": verify.get("ok"),
                           "bad_files": verify.get("bad_files") or verify.get("problems") or []}
    return facts


def _healthcheck_facts(path):
    summary, error = _read_json(os.path.join(path, "summary.json"))
    if summary is None:
        return {"errors": [error]}
    services = summary.get("services") or []
    return {
        "artifact": path,
        "diagnosed": len(services),
        "services": [{"service": s.get("service"), "classification": s.get("classification"),
                      "action": s.get("action"), "result": s.get("result"),
                      "evidence": s.get("evidence_summary") or s.get("decided_by"),
                      "report": s.get("incident_report")} for s in services],
    }


def _monitoring_facts(path):
    status, error = _read_json(os.path.join(path, "monitor_status.json"))
    if status is None:
        return {"errors": [error]}
    return {
        "artifact": path,
        "running": status.get("running"),
        "mode": status.get("mode"),
        "since": status.get("since"),
        "last_sample": status.get("last_sample"),
        "samples": status.get("samples"),
        "errors_counted": status.get("errors"),
        "log_dir": status.get("log_dir"),
    }


_READERS = {"infra": _infra_facts, "audit": _audit_facts, "backup": _backup_facts,
            "healthcheck": _healthcheck_facts, "monitoring": _monitoring_facts}


def load_step_facts(step):
    """Read one step's artifacts; a step without artifacts has no facts (and says so)."""
    path = step.get("artifact")
    reader = _READERS.get(step.get("name"))
    if not path or reader is None or step.get("status") in (NOT_RUN, SKIPPED, CHECK):
        return {}
    if not os.path.exists(path):
        return {"errors": ["artifact %s does not exist" % path]}
    return reader(path)


# --- pure report building -------------------------------------------------------------------

def _duration(step):
    value = step.get("duration_s")
    return round(float(value), 1) if value is not None else None


def _checklist_rows(name, step, facts):
    """(task, status, evidence) rows; statuses come from the facts, never assumed."""
    status = step.get("status")
    if status in (NOT_RUN, SKIPPED, CHECK):
        return [(STEP_TITLES.get(name, name), STATUS_TEXT[status], step.get("msg") or "-")]
    rows = []
    if name == "infra" and facts.get("checks"):
        for check in facts["checks"]:
            rows.append(("Host: %s" % check["title"], (check["status"] or "?").upper(),
                         "%s (requirement %s)" % (check["value"], check["requirement"])))
    elif name == "backup" and "volume_count" in facts:
        rows.append(("Volumes backed up", "PASS" if facts["complete"] else "FAIL",
                     "%d archives, %s MB, manifest %s" % (facts["volume_count"], _mb(facts["archive_bytes"]),
                                                          "complete" if facts["complete"] else "INCOMPLETE")))
        rows.append(("Images snapshotted", "PASS" if facts["image_count"] else "WARN",
                     "%d images tagged %s, %d saved" % (facts["image_count"], ", ".join(facts["snapshot_tags"]) or "-",
                                                        facts["images_saved"])))
        rows.append(("Config files backed up", "PASS" if facts["config_count"] else "WARN",
                     "%d files (%d sensitive, 0600)" % (facts["config_count"], facts["sensitive_configs"])))
        verify = facts.get("verify")
        if verify:
            rows.append(("Backup verified (%s)" % verify.get("mode"), "PASS" if verify.get("ok") else "FAIL",
                         "bad files: %s" % (", ".join(map(str, verify["bad_files"])) or "none")))
        else:
            rows.append(("Backup verified", "not run", "no verify.json in the backup"))
    elif name == "healthcheck" and "services" in facts:
        if not facts["services"]:
            rows.append(("Unhealthy containers diagnosed", "PASS", "no unhealthy container found"))
        for svc in facts["services"]:
            rows.append(("Diagnose %s" % svc["service"], (svc.get("result") or "diagnosed").upper(),
                         "%s; action: %s" % (svc["classification"], svc.get("action") or "none")))
    elif name == "audit" and "containers" in facts:
        rows.append(("Runtimes at or above the minimum", "PASS" if not facts["needs_upgrade"] else "WARN",
                     "%s containers audited, %s need an upgrade, %s unknown" % (
                         facts["containers"], facts["needs_upgrade"], facts["unknown"])))
    elif name == "monitoring" and "running" in facts:
        rows.append(("Monitoring agent running", "PASS" if facts["running"] else "FAIL",
                     "mode %s, %s samples, last %s" % (facts["mode"], facts["samples"], facts["last_sample"])))
    if facts.get("errors"):
        rows.append(("Artifacts of %s readable" % name, "FAIL", "; ".join(facts["errors"])))
    if not rows:
        rows.append((STEP_TITLES.get(name, name), STATUS_TEXT.get(status, status), step.get("msg") or "-"))
    return rows


def _verdict(steps):
    statuses = [s.get("status") for s in steps]
    if any(s == FAILED for s in statuses):
        return "NOT READY", "a step failed"
    if all(s == CHECK for s in statuses if s not in (NOT_RUN, SKIPPED)) and CHECK in statuses:
        return "CHECK MODE", "a dry run: nothing was changed or written"
    if any(s in (NOT_RUN, SKIPPED) for s in statuses):
        return "INCOMPLETE", "not every step ran"
    if any(s == WARNING for s in statuses):
        return "READY WITH WARNINGS", "every step ran; some reported warnings"
    return "READY FOR REBUILD", "every step ran and passed"


def build_report(steps, meta):
    """steps: step records in run order, each with `facts` already loaded. meta: run facts."""
    by_name = dict((s["name"], s) for s in steps)
    ordered = [by_name.get(n) or {"name": n, "status": NOT_RUN, "msg": "not part of this run"} for n in STEP_ORDER]
    ordered += [s for s in steps if s["name"] not in STEP_ORDER]
    verdict, why = _verdict(ordered)
    sections, checklist, issues = [], [], []
    for step in ordered:
        facts = step.get("facts") or {}
        name = step["name"]
        sections.append({"name": name, "title": STEP_TITLES.get(name, name), "status": step.get("status"),
                         "started": step.get("started"), "ended": step.get("ended"),
                         "duration_s": _duration(step), "msg": step.get("msg") or "", "facts": facts,
                         "artifact": facts.get("artifact") or step.get("artifact")})
        for task, status, evidence in _checklist_rows(name, step, facts):
            checklist.append({"task": task, "status": status, "evidence": evidence})
        if name == "healthcheck":
            for svc in facts.get("services") or []:
                issues.append(dict(svc))
        if name == "infra":
            for check in facts.get("checks") or []:
                if check["status"] in ("fail", "warn"):
                    issues.append({"service": "host", "classification": "%s_%s" % (check["id"], check["status"]),
                                   "action": check["fix"], "result": "open", "evidence": check["value"]})
        if name == "audit":
            for row in facts.get("needs_upgrade_rows") or []:
                issues.append({"service": row["service"], "classification": "runtime_below_minimum",
                               "action": "upgrade %s %s to >= %s" % (row["runtime"], row["version"], row["minimum"]),
                               "result": "open (%s)" % row["priority"], "evidence": "runtime_versions.json"})
    backup = (by_name.get("backup") or {}).get("facts") or {}
    metrics = {
        "durations_s": dict((s["name"], _duration(s)) for s in ordered if _duration(s) is not None),
        "total_duration_s": meta.get("duration_s"),
        "backup_archive_bytes": backup.get("archive_bytes"),
        "backup_raw_bytes": backup.get("raw_bytes"),
        "backup_volumes": [{"name": v["name"], "mb_per_s": v.get("mb_per_s"), "duration_s": v.get("duration_s")}
                           for v in backup.get("volumes") or []],
    }
    backup_step = by_name.get("backup") or {}
    # Offer a rollback only to a backup this run completed and (when verified) proved intact.
    usable = (backup_step.get("status") in (PASSED, WARNING) and backup.get("complete")
              and (backup.get("verify") or {}).get("ok", True))
    backup_id = backup.get("backup_id") if usable else None
    rollback = {
        "backup_id": backup_id,
        "command": rollback_command(meta.get("project_dir"), meta.get("output_dir"), backup_id,
                                    backup_root=backup_root_option(backup.get("backup_dir"), meta.get("output_dir")))
        if backup_id else None,
    }
    return {
        "schema": SCHEMA,
        "run_id": meta.get("run_id"),
        "host": meta.get("host"),
        "project": {"name": meta.get("project_name"), "dir": meta.get("project_dir")},
        "output_dir": meta.get("output_dir"),
        "started": meta.get("started"),
        "ended": meta.get("ended"),
        "duration_s": meta.get("duration_s"),
        "check_mode": bool(meta.get("check_mode")),
        "verdict": verdict,
        "verdict_reason": why,
        "failed_steps": [{"name": s["name"], "msg": s.get("msg")} for s in ordered if s.get("status") == FAILED],
        "steps": sections,
        "checklist": checklist,
        "issues": issues,
        "metrics": metrics,
        "next_steps": _next_steps(ordered, verdict, issues, backup_id),
        "rollback": rollback,
    }


def _next_steps(steps, verdict, issues, backup_id):
    out = []
    for step in steps:
        if step.get("status") == FAILED:
            out.append("Fix the failed step '%s': %s" % (step["name"], step.get("msg") or "see the task output"))
        elif step.get("status") in (NOT_RUN, SKIPPED):
            out.append("Run the step '%s' (ansible-playbook homeiq.phase0.phase0 --tags %s)" % (step["name"], step["name"]))
    for issue in issues:
        if str(issue.get("result", "")).startswith("open") or issue.get("result") in ("fix_failed_reverted", "diagnosed"):
            out.append("%s: %s -> %s" % (issue["service"], issue["classification"], issue.get("action") or "investigate"))
    if verdict.startswith("READY") and backup_id:
        out.append("Start the rebuild; roll back with the command below if it goes wrong.")
    return out


def _cell(value):
    return str(value if value is not None else "-").replace("|", "\\|").replace("\n", " ")


def render_markdown(report):
    lines = []
    add = lines.append
    add("# Phase 0: Pre-Deployment Preparation - Execution Report")
    add("")
    add("**Project:** %s (`%s`)  " % (report["project"]["name"], report["project"]["dir"]))
    add("**Host:** %s  " % report.get("host"))
    add("**Run:** %s, started %s, ended %s, %s s  " % (report["run_id"], report["started"], report["ended"],
                                                       report.get("duration_s")))
    add("**Verdict:** %s (%s)" % (report["verdict"], report["verdict_reason"]))
    add("")
    add("## Executive Summary")
    add("")
    for section in report["steps"]:
        add("- **%s:** %s%s" % (section["title"], STATUS_TEXT.get(section["status"], section["status"]),
                                (" - " + section["msg"]) if section["msg"] and section["status"] != PASSED else ""))
    add("")
    add("## Execution Results by Step")
    for section in report["steps"]:
        add("")
        add("### %s" % section["title"])
        add("")
        add("**Status:** %s  " % STATUS_TEXT.get(section["status"], section["status"]))
        if section["duration_s"] is not None:
            add("**Duration:** %s s  " % section["duration_s"])
        if section["artifact"]:
            add("**Artifacts:** `%s`  " % section["artifact"])
        if section["msg"]:
            add("**Message:** %s  " % section["msg"])
        add("")
        lines.extend(_section_body(section))
    add("")
    add("## Issues Found and Resolved")
    add("")
    if report["issues"]:
        add("| Where | Finding | Action | Result |")
        add("|---|---|---|---|")
        for issue in report["issues"]:
            add("| %s | %s | %s | %s |" % tuple(_cell(issue.get(k)) for k in ("service", "classification", "action", "result")))
    else:
        add("No issues were found by the steps that ran.")
    add("")
    add("## Validation Checklist")
    add("")
    add("| Task | Status | Evidence |")
    add("|---|---|---|")
    for row in report["checklist"]:
        add("| %s | %s | %s |" % (_cell(row["task"]), _cell(row["status"]), _cell(row["evidence"])))
    add("")
    add("## Performance Metrics")
    add("")
    add("| Metric | Value |")
    add("|---|---|")
    for name, seconds in report["metrics"]["durations_s"].items():
        add("| Duration: %s | %s s |" % (name, seconds))
    if report["metrics"].get("total_duration_s") is not None:
        add("| Total duration | %s s |" % report["metrics"]["total_duration_s"])
    if report["metrics"].get("backup_archive_bytes") is not None:
        add("| Backup archives | %s MB (from %s MB of tar) |" % (_mb(report["metrics"]["backup_archive_bytes"]),
                                                                 _mb(report["metrics"]["backup_raw_bytes"])))
    for vol in report["metrics"]["backup_volumes"]:
        add("| Volume %s | %s MB/s, %s s |" % (vol["name"], vol.get("mb_per_s"), vol.get("duration_s")))
    add("")
    add("## Next Steps")
    add("")
    for item in report["next_steps"] or ["None."]:
        add("1. %s" % item)
    add("")
    add("## Rollback Plan")
    add("")
    if report["rollback"]["command"]:
        add("Backup `%s` is complete. To put data, configs and images back:" % report["rollback"]["backup_id"])
        add("")
        add("```sh")
        add(report["rollback"]["command"])
        add("```")
    else:
        add("No complete backup was made in this run: there is nothing this run can roll back to.")
    add("")
    return "\n".join(lines)


def _section_body(section):
    facts = section["facts"] or {}
    name = section["name"]
    out = []
    if section["status"] in (NOT_RUN, SKIPPED, CHECK):
        return ["This step did not run%s." % ((": " + section["msg"]) if section["msg"] else "")]
    if facts.get("errors"):
        out.append("Artifacts could not be read: %s" % "; ".join(facts["errors"]))
    if name == "infra" and facts.get("checks"):
        out += ["| Check | Requirement | Measured | Status | Fix |", "|---|---|---|---|---|"]
        for c in facts["checks"]:
            out.append("| %s | %s | %s | %s | %s |" % tuple(_cell(c[k]) for k in ("title", "requirement", "value", "status", "fix")))
    elif name == "backup" and "volume_count" in facts:
        out.append("- Backup id: `%s` in `%s`" % (facts["backup_id"], facts["backup_dir"]))
        out.append("- Volumes: %d archives, %s MB compressed from %s MB" % (
            facts["volume_count"], _mb(facts["archive_bytes"]), _mb(facts["raw_bytes"])))
        out.append("- Images: %d snapshotted (%s), %d saved into the backup" % (
            facts["image_count"], ", ".join(facts["snapshot_tags"]) or "-", facts["images_saved"]))
        out.append("- Config files: %d (%d sensitive, kept 0600)" % (facts["config_count"], facts["sensitive_configs"]))
        if facts["live_volumes"]:
            out.append("- Copied live, without a consistency guarantee: %s" % ", ".join(facts["live_volumes"]))
        if facts.get("verify"):
            out.append("- Verification (%s): %s" % (facts["verify"]["mode"], "passed" if facts["verify"]["ok"] else "FAILED"))
        if facts["volumes"]:
            out += ["", "| Volume | Archive MB | Consistency | MB/s |", "|---|---|---|---|"]
            for v in facts["volumes"]:
                out.append("| %s | %s | %s | %s |" % (_cell(v["name"]), _mb(v["bytes"]), _cell(v["consistency"]), _cell(v["mb_per_s"])))
    elif name == "healthcheck" and "services" in facts:
        if not facts["services"]:
            out.append("No container needed a diagnosis.")
        else:
            out += ["| Service | Classification | Evidence | Action | Result |", "|---|---|---|---|---|"]
            for s in facts["services"]:
                out.append("| %s | %s | %s | %s | %s |" % tuple(_cell(s.get(k)) for k in
                                                                ("service", "classification", "evidence", "action", "result")))
    elif name == "audit" and "containers" in facts:
        out.append("- Containers audited: %s (%s running, %s not running)" % (
            facts["containers"], facts["running"], facts["not_running"]))
        out.append("- Need an upgrade: %s; unknown: %s" % (facts["needs_upgrade"], facts["unknown"]))
        for runtime, versions in sorted((facts.get("versions") or {}).items()):
            out.append("- %s versions: %s" % (runtime, ", ".join("%s (%d)" % (v, n) for v, n in sorted(versions.items()))))
        if facts.get("drift"):
            out.append("- Dockerfile drift: %s" % ", ".join("%s %s" % (k, v) for k, v in sorted(facts["drift"].items())))
    elif name == "monitoring" and "running" in facts:
        out.append("- Agent running: %s (mode %s, since %s)" % (facts["running"], facts["mode"], facts["since"]))
        out.append("- Samples: %s, last at %s; errors counted: %s" % (facts["samples"], facts["last_sample"], facts["errors_counted"]))
        if facts.get("log_dir"):
            out.append("- Logs: `%s`" % facts["log_dir"])
    return out or ["No facts recorded."]


def summary_for_stats(report):
    """What AWX shows as the job's artifacts (set_stats): small and flat."""
    return {
        "phase0_verdict": report["verdict"],
        "phase0_failed_steps": [s["name"] for s in report["steps"] if s["status"] == FAILED],
        "phase0_step_status": dict((s["name"], s["status"]) for s in report["steps"]),
        "phase0_backup_id": report["rollback"]["backup_id"],
    }
