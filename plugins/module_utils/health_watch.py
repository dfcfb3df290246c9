# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Watch containers' health for a while after a fix: samples, flaps, and when they became healthy.

`count_flaps` and `first_healthy_at` are pure; `watch` samples the engine (one inspect per
container per interval) and returns real timestamps only.
"""
from __future__ import annotations

import time

from ansible_collections.homeiq.phase0.plugins.module_utils.bounded_map import bounded_map
from ansible_collections.homeiq.phase0.plugins.module_utils.health_collect import SERVICE_LABEL, state_facts, utcnow
from ansible_collections.homeiq.phase0.plugins.module_utils.health_log import iso, parse_docker_time, summarize_health_log


def count_flaps(statuses):
    """How often health left `healthy` (healthy -> anything else) in a sequence of samples."""
    flaps = 0
    previous = None
    for status in statuses:
        if previous == "healthy" and status != "healthy":
            flaps += 1
        previous = status
    return flaps


def first_healthy_at(entries, started_at):
    """End time of the first passing probe since the container started (health log entries described)."""
    started = parse_docker_time(started_at)
    for entry in entries or []:
        if entry.get("kind") != "ok":
            continue
        end = parse_docker_time(entry.get("end"))
        if end and (started is None or end >= started):
            return entry.get("end")
    return None


def _sample(api, container):
    inspect = api.inspect_container(container)
    state = state_facts(inspect)
    return inspect, state


def watch(api, containers, seconds=0.0, interval=2.0, workers=8):
    """Sample every container's health each `interval` s for `seconds` s (once when seconds is 0)."""
    deadline = time.monotonic() + max(0.0, float(seconds))
    samples = dict((c, []) for c in containers)
    last = {}
    while True:
        at = iso(utcnow())
        for outcome in bounded_map(lambda c: _sample(api, c), containers, workers):
            if outcome.ok:
                inspect, state = outcome.value
                last[outcome.item] = inspect
                samples[outcome.item].append({"at": at, "status": state.get("health_status") or state.get("status"),
                                              "failing_streak": state.get("failing_streak")})
            else:
                samples[outcome.item].append({"at": at, "status": "missing", "error": str(outcome.error)})
        if time.monotonic() + interval > deadline:
            break
        time.sleep(interval)
    results = []
    for container in containers:
        inspect = last.get(container) or {}
        state = state_facts(inspect) if inspect else {}
        health = summarize_health_log(((inspect.get("State") or {}).get("Health") or {}).get("Log") or [])
        statuses = [s["status"] for s in samples[container]]
        results.append({
            "container": (inspect.get("Name") or container).lstrip("/"),
            "service": ((inspect.get("Config") or {}).get("Labels") or {}).get(SERVICE_LABEL),
            "started_at": state.get("started_at"),
            "status": statuses[-1] if statuses else None,
            "first_healthy_at": first_healthy_at(health["entries"], state.get("started_at")),
            "samples": samples[container],
            "flaps": count_flaps(statuses),
            # outputs are left out: watch results are not redacted, and the times are what matter here
            "health_log": [dict((k, v) for k, v in e.items() if k != "output") for e in health["entries"]],
        })
    return results
