# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Diagnose many containers in one call: select, measure concurrently, classify, recommend, write evidence.

`diagnose(api, options)` is what the health_diagnose module runs. Per container the work is a
few API calls and one exec (see health_collect): the exec measures, the recommendation is decided
here from what it printed, and the same exec runs the recommended probe once to prove it (see
exec_dialogue); containers are measured `workers` at a time.
Everything returned or written passes the Redactor, which first learns the env of every
container of the project and the project's `.env` values.
"""
from __future__ import annotations

import os
import time

from ansible_collections.homeiq.phase0.plugins.module_utils.bounded_map import bounded_map
from ansible_collections.homeiq.phase0.plugins.module_utils.health_classify import PROBE_CLASSES, classify
from ansible_collections.homeiq.phase0.plugins.module_utils.health_collect import (
    DEFAULT_LIMITS,
    Prefetch,
    collect,
    stats_summary,
    utcnow,
    verify_probe,
)
from ansible_collections.homeiq.phase0.plugins.module_utils.health_evidence import (
    EvidenceDir,
    ensure_private_dir,
    safe_component,
)
from ansible_collections.homeiq.phase0.plugins.module_utils.health_log import parse_docker_time
from ansible_collections.homeiq.phase0.plugins.module_utils.health_probe import (
    healthcheck_from_inspect,
    normalize_test,
)
from ansible_collections.homeiq.phase0.plugins.module_utils.health_recommend import recommend
from ansible_collections.homeiq.phase0.plugins.module_utils.redact import Redactor

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
_IDENTITY_KEYS = ("container", "service", "evidence_dir", "evidence_files", "selected_because")
_HEALTH_IN_STATUS = (("(health: starting)", "starting"), ("(unhealthy)", "unhealthy"), ("(healthy)", "healthy"))


def health_from_status(status):
    for marker, health in _HEALTH_IN_STATUS:
        if marker in (status or ""):
            return health
    return None


def past_start_period(inspect, now):
    """True when a `starting` container has been running longer than its start period."""
    healthcheck = healthcheck_from_inspect((inspect.get("Config") or {}).get("Healthcheck")) or {}
    started = parse_docker_time((inspect.get("State") or {}).get("StartedAt"))
    if not started:
        return False
    return (now - started).total_seconds() > (healthcheck.get("start_period_s") or 0.0)


def select_targets(api, project_name=None, containers=None, services=None, include_healthy=False, workers=8):
    """(targets, project_summaries): the containers to diagnose, and every container of the project.

    targets: [{'id', 'name', 'selected_because'}]. Explicit `containers` are taken as given;
    otherwise the project's running containers that are unhealthy, or starting past their start
    period (or healthy too with include_healthy), limited to `services` when given.
    """
    summaries = []
    if project_name:
        summaries = api.containers(all=True, filters={"label": ["%s=%s" % (PROJECT_LABEL, project_name)]})
    if containers:
        return [{"id": name, "name": name, "selected_because": "requested"} for name in containers], summaries
    now = utcnow()
    targets, starting = [], []
    for summary in summaries:
        labels = summary.get("Labels") or {}
        if services and labels.get(SERVICE_LABEL) not in services:
            continue
        name = (summary.get("Names") or ["/" + summary["Id"][:12]])[0].lstrip("/")
        health = health_from_status(summary.get("Status"))
        if health == "unhealthy":
            targets.append({"id": summary["Id"], "name": name, "selected_because": "unhealthy"})
        elif health == "starting":
            starting.append({"id": summary["Id"], "name": name})
        elif include_healthy and (health == "healthy" or services):
            targets.append({"id": summary["Id"], "name": name, "selected_because": health or "requested"})
    for outcome in bounded_map(lambda item: api.inspect_container(item["id"]), starting, workers):
        if outcome.ok and past_start_period(outcome.value, now):
            targets.append({"id": outcome.item["id"], "name": outcome.item["name"],
                            "selected_because": "starting past its start period"})
        elif outcome.ok and include_healthy:
            targets.append({"id": outcome.item["id"], "name": outcome.item["name"],
                            "selected_because": "starting"})
    targets.sort(key=lambda t: t["name"])
    return targets, summaries


def build_redactor(api, summaries, collected_inspects, env_files, workers=8):
    """A Redactor that knows every env value of the project's containers and of the env files."""
    redactor = Redactor()
    for path in env_files or []:
        redactor.add_env_file(path)
    known = {}
    for inspect in collected_inspects:
        known[inspect.get("Id")] = inspect
    others = [s["Id"] for s in summaries if s["Id"] not in known]
    for outcome in bounded_map(api.inspect_container, others, workers):
        if outcome.ok:
            known[outcome.item] = outcome.value
    for inspect in known.values():
        redactor.add_env_list((inspect.get("Config") or {}).get("Env"))
    public = set()
    for summary in summaries:
        labels = summary.get("Labels") or {}
        public.update([labels.get(PROJECT_LABEL), labels.get(SERVICE_LABEL)])
        public.update(n.lstrip("/") for n in summary.get("Names") or [])
    for inspect in known.values():
        public.add((inspect.get("Name") or "").lstrip("/"))
    redactor.exempt(public)
    return redactor


def timeline(facts):
    """Real timestamps only: container start, the earliest failing probe Docker still keeps, diagnosis."""
    health = facts.get("health") or {}
    first_failure = health.get("first_failure") or {}
    return {
        "container_started": (facts.get("state") or {}).get("started_at"),
        "earliest_recorded_failing_probe": first_failure.get("start"),
        "failing_streak": (facts.get("state") or {}).get("failing_streak"),
        "recorded_probe_entries": health.get("count"),
        "diagnosed": facts.get("collected_at"),
    }


def _evidence_name(target_facts, taken):
    base = safe_component(target_facts.get("service") or target_facts.get("container"))
    name = base
    if name in taken:
        name = "%s-%s" % (base, target_facts.get("container_number") or safe_component(target_facts["container"]))
    taken.add(name)
    return name


def recommended_test(facts):
    """The healthcheck test we would recommend from these facts, or None (pure: classify + recommend)."""
    advice = recommend(classify(facts), facts)
    return (advice.get("healthcheck") or {}).get("test") or None


def _diagnosis_for(facts, raw, limits, api, verify):
    result = classify(facts)
    advice = recommend(result, facts)
    if advice.get("healthcheck") and advice["healthcheck"].get("test") and verify:
        done = facts.get("verified_probe") or {}
        if done.get("test") == advice["healthcheck"]["test"]:
            check = done["check"]  # run by the measuring exec itself (collect's decide)
        else:
            check = verify_probe(api, facts["container_id"], advice["healthcheck"]["test"], limits)
        timeout_s = (facts.get("healthcheck") or {}).get("timeout_s") or 30.0
        advice["verified"] = check
        advice["passes"] = bool(check.get("exit_code") == 0 and not check.get("timed_out")
                                and (check.get("seconds") or 0) < timeout_s)
    result["recommendation"] = advice
    result["fixable"] = bool(result["classification"] in PROBE_CLASSES and advice.get("healthcheck")
                             and advice.get("passes", not verify))
    return result


def write_evidence(root, name, facts, raw, diagnosis, redactor):
    evidence = EvidenceDir(os.path.join(root, name), redactor).create()
    evidence.write_json("inspect.json", raw.get("inspect"))
    evidence.write_json("health_log.json", {"raw": raw.get("health_log_raw"), "described": facts.get("health")})
    evidence.write_text("logs.txt", raw.get("logs"))
    if "stats" in raw:
        evidence.write_json("stats.json", {"summary": stats_summary(raw["stats"]), "sample": raw["stats"]})
    evidence.write_json("probe_timings.json", {
        "healthcheck": facts.get("healthcheck"),
        "probe": facts.get("probe"),
        "manual_probe": facts.get("manual_probe"),
        "dns": facts.get("dns"),
        "recommended_probe_check": (diagnosis.get("recommendation") or {}).get("verified"),
        "measured_by": facts.get("helper"),
        "measure_seconds": facts.get("measure_seconds"),
    })
    evidence.write_json("connectivity.json", {
        "fetches": facts.get("fetches"),
        "listening_ports": facts.get("listening_ports"),
        "tools": facts.get("tools"),
        "probe_binary": facts.get("probe_binary"),
        "self_names": facts.get("self_names"),
        "self_addresses": facts.get("self_addresses"),
    })
    evidence.write_json("diagnosis.json", diagnosis)
    return evidence


def diagnose(api, project_name=None, containers=None, services=None, include_healthy=False, output_dir=None,
             env_files=None, limits=None, workers=16, verify=True):
    """Diagnose the selected containers; returns the module result's body (already redacted)."""
    began = time.monotonic()
    limits = dict(DEFAULT_LIMITS, **(limits or {}))
    targets, summaries = select_targets(api, project_name, containers, services, include_healthy, workers)
    if output_dir:
        # the run's directory exists (0700) even when nothing needs a diagnosis: the role writes its summary there
        ensure_private_dir(output_dir)

    stats = None
    if limits.get("stats") and targets:
        # every target's stats sample is asked for now, together (see Prefetch); the workers only measure
        stats = Prefetch(lambda cid: api.stats(cid, stream=False, one_shot=True), [t["id"] for t in targets])

    def work(target):
        facts, raw = collect(api, target["id"], limits, prefetched_stats=stats,
                             decide=recommended_test if verify else None)
        facts["selected_because"] = target["selected_because"]
        diagnosis = _diagnosis_for(facts, raw, limits, api, verify)
        return facts, raw, diagnosis

    outcomes = bounded_map(work, targets, workers)
    redactor = build_redactor(api, summaries, [o.value[1]["inspect"] for o in outcomes if o.ok], env_files, workers)
    diagnoses, errors, taken = [], [], set()
    for outcome in outcomes:
        if not outcome.ok:
            errors.append({"container": outcome.item["name"], "error": redactor.text(str(outcome.error))})
            continue
        facts, raw, diagnosis = outcome.value
        entry = {
            "container": facts["container"],
            "service": facts.get("service"),
            "selected_because": facts.get("selected_because"),
            "classification": diagnosis["classification"],
            "reason": diagnosis["reason"],
            "evidence": diagnosis["evidence"],
            "details": diagnosis.get("details") or {},
            "recommendation": diagnosis["recommendation"],
            "fixable": diagnosis["fixable"],
            "healthcheck": facts.get("healthcheck"),
            "healthcheck_test": normalize_test((facts.get("healthcheck") or {}).get("test")),
            "state": facts.get("state"),
            "timeline": timeline(facts),
            "measured": {
                "manual_probe": facts.get("manual_probe"),
                "dns": facts.get("dns"),
                "fetches": facts.get("fetches"),
                "tools": facts.get("tools"),
                "probe_binary": facts.get("probe_binary"),
                "listening_ports": facts.get("listening_ports"),
                "health_log": (facts.get("health") or {}).get("entries"),
                "measured_by": facts.get("helper"),
            },
            "evidence_dir": None,
        }
        if output_dir:
            name = _evidence_name(facts, taken)
            evidence = write_evidence(output_dir, name, facts, raw, diagnosis, redactor)
            entry["evidence_dir"] = evidence.path
            entry["evidence_files"] = sorted(os.path.basename(p) for p in evidence.files)
        redacted = redactor.obj(entry)
        for key in _IDENTITY_KEYS:  # public names and our own paths: the role acts on them
            redacted[key] = entry.get(key)
        diagnoses.append(redacted)
    summary = {}
    for entry in diagnoses:
        summary[entry["classification"]] = summary.get(entry["classification"], 0) + 1
    return {
        "project": project_name,
        "targets": len(targets),
        "diagnoses": diagnoses,
        "errors": errors,
        "summary": summary,
        "evidence_root": os.path.abspath(output_dir) if output_dir else None,
        "redacted_values": redactor.count,
        "elapsed_s": round(time.monotonic() - began, 3),
    }
