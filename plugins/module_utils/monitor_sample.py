# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn `docker inspect` and `docker stats` documents into monitor records (pure, stdlib only).

The monitor agent runs standalone on the target with this file copied next to it, so it must
not import Ansible. CPU % is computed between two of our own one-shot samples (the engine's
`precpu_stats` is empty for one-shot stats), with the same formula as `docker stats`.
"""
from __future__ import annotations

import datetime

HEALTH_NONE = "none"


def utc_now_iso(now=None):
    """ISO 8601 UTC with a Z and millisecond precision: sortable and readable."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (now.microsecond // 1000)


def cpu_counters(stats):
    """(container CPU ns, system CPU ns, online CPUs) from a stats document, or None."""
    cpu = (stats or {}).get("cpu_stats") or {}
    total = (cpu.get("cpu_usage") or {}).get("total_usage")
    system = cpu.get("system_cpu_usage")
    if total is None or system is None:
        return None
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    return int(total), int(system), int(online)


def cpu_percent(previous, current):
    """CPU % between two cpu_counters() tuples, as `docker stats` shows it (100 = one core).

    None when there is no previous sample, or the counters went backwards (container restarted).
    """
    if not previous or not current:
        return None
    cpu_delta = current[0] - previous[0]
    system_delta = current[1] - previous[1]
    if cpu_delta < 0 or system_delta <= 0:
        return None
    return round(cpu_delta / system_delta * current[2] * 100.0, 2)


def memory_usage(stats):
    """(used bytes, limit bytes) the way the Docker CLI reports them: page cache not counted.

    cgroup v1 reports the cache as `stats.cache` (or total_inactive_file), cgroup v2 as
    `stats.inactive_file`.
    """
    mem = (stats or {}).get("memory_stats") or {}
    usage = mem.get("usage")
    if usage is None:
        return None, mem.get("limit")
    detail = mem.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        if key in detail and detail[key] < usage:
            return int(usage - detail[key]), mem.get("limit")
    if "cache" in detail and detail["cache"] < usage:
        return int(usage - detail["cache"]), mem.get("limit")
    return int(usage), mem.get("limit")


def container_identity(inspect):
    """(name without the leading slash, compose service name or the name, short id)."""
    labels = ((inspect.get("Config") or {}).get("Labels")) or {}
    name = (inspect.get("Name") or "").lstrip("/") or inspect.get("Id", "")[:12]
    return name, labels.get("com.docker.compose.service") or name, (inspect.get("Id") or "")[:12]


def health_record(ts, inspect):
    """One health.jsonl line for a container from its inspect document."""
    state = inspect.get("State") or {}
    name, service, short_id = container_identity(inspect)
    health = (state.get("Health") or {})
    last_log = (health.get("Log") or [None])[-1] or {}
    record = {
        "ts": ts,
        "container": name,
        "service": service,
        "id": short_id,
        "state": state.get("Status") or "unknown",
        "health": health.get("Status") or HEALTH_NONE,
        "restarts": int(inspect.get("RestartCount") or 0),
        "exit_code": state.get("ExitCode"),
        "started_at": state.get("StartedAt"),
    }
    if health.get("FailingStreak"):
        record["failing_streak"] = health["FailingStreak"]
        record["last_probe_exit"] = last_log.get("ExitCode")
    return record


def resource_record(ts, inspect, stats, previous_counters):
    """(resources.jsonl line, this sample's cpu_counters) for a container."""
    name, service, short_id = container_identity(inspect)
    counters = cpu_counters(stats)
    used, limit = memory_usage(stats)
    record = {
        "ts": ts,
        "container": name,
        "service": service,
        "id": short_id,
        "cpu_percent": cpu_percent(previous_counters, counters),
        "mem_bytes": used,
        "mem_limit": limit,
        "mem_percent": round(used * 100.0 / limit, 2) if used is not None and limit else None,
    }
    return record, counters


def human_bytes(value):
    """1536 -> '1.5KiB'; None -> '-'."""
    if value is None:
        return "-"
    value = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return ("%d%s" % (value, unit)) if unit == "B" else ("%.1f%s" % (value, unit))
        value /= 1024.0
    return "%.1fGiB" % value  # pragma: no cover - loop always returns
