# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host readiness checks as data (pure): measured facts in, check records out.

Every check is a dict with id, title, requirement, value (what was measured), status
(pass / warn / fail) and fix (one line saying what to do when it is not a pass). Which
shortfalls warn and which fail is a table (`DEFAULT_SEVERITY`) a user can override per check.
"""
from __future__ import annotations

import re

from ansible_collections.homeiq.phase0.plugins.module_utils.version_policy import compare_versions, version_key

PASS, WARN, FAIL = "pass", "warn", "fail"
STATUSES = (PASS, WARN, FAIL)

GIB = 1024 ** 3

# What a shortfall of each check becomes unless the user says otherwise.
DEFAULT_SEVERITY = {
    "engine_reachable": FAIL,
    "engine_version": FAIL,
    "api_version": FAIL,
    "compose_plugin": FAIL,
    "buildx": WARN,
    "buildkit": WARN,
    "daemon_responsive": FAIL,
    "memory": WARN,
    "cpus": WARN,
    "disk_data_root": FAIL,
    "disk_backup_dir": FAIL,
    "container_stats": WARN,
    "python_runtimes": WARN,
    "node_runtimes": WARN,
    "runtime_probe": WARN,
}

DEFAULT_THRESHOLDS = {
    "min_engine_version": "20.10",
    "min_api_version": "1.41",
    # community.docker's docker_compose_v2 modules need Compose v2.18.0 or later.
    "min_compose_version": "2.18",
    "min_memory_gb": 16,
    "min_cpus": 4,
    "min_free_disk_gb": 50,
    "slow_response_ms": 2000,
}


def check(check_id, title, requirement, value, ok, fix, severity=None, details=None):
    """A check record; `ok` True -> pass, else the severity of the check (warn or fail)."""
    status = PASS if ok else (severity or {}).get(check_id, DEFAULT_SEVERITY.get(check_id, FAIL))
    record = {"id": check_id, "title": title, "requirement": requirement, "value": value,
              "status": status, "fix": "" if status == PASS else fix}
    if details:
        record["details"] = details
    return record


def clean_version(text):
    """'20.10.24+dfsg1' -> '20.10.24'; 'v2.40.3' -> '2.40.3'; None when no number."""
    match = re.search(r"(\d+(?:\.\d+)+)", str(text or ""))
    return match.group(1) if match else None


def gib(value):
    return "%.1f GiB" % (float(value) / GIB)


# --- engine ---------------------------------------------------------------------------------

def engine_unreachable(endpoint, message):
    return check("engine_reachable", "Docker engine reachable", "an engine answers at %s" % endpoint,
                 "no answer", False, message, {"engine_reachable": FAIL})


def engine_version_check(version_info, thresholds, severity=None):
    raw = version_info.get("Version")
    version = clean_version(raw)
    minimum = thresholds["min_engine_version"]
    ok = version is not None and compare_versions(version, minimum) >= 0
    return check("engine_version", "Docker Engine version (from the engine)", ">= %s" % minimum,
                 raw or "unknown", ok,
                 "upgrade Docker Engine on the engine host to %s or newer (docs.docker.com/engine/install)" % minimum,
                 severity, {"os": version_info.get("Os"), "arch": version_info.get("Arch"),
                            "kernel": version_info.get("KernelVersion")})


def api_version_check(version_info, thresholds, severity=None):
    api = version_info.get("ApiVersion")
    minimum = thresholds["min_api_version"]
    ok = bool(version_key(api)) and compare_versions(api, minimum) >= 0
    return check("api_version", "Docker API version", ">= %s" % minimum,
                 "%s (min supported %s)" % (api or "unknown", version_info.get("MinAPIVersion") or "?"), ok,
                 "the engine speaks API %s; upgrade Docker Engine so it speaks %s or newer" % (api, minimum),
                 severity)


def daemon_check(ping_ms, info_ms, thresholds, severity=None):
    slow = thresholds["slow_response_ms"]
    ok = ping_ms is not None and info_ms is not None and max(ping_ms, info_ms) <= slow
    return check("daemon_responsive", "Docker daemon responsive", "ping and info answer within %d ms" % slow,
                 "ping %s ms, info %s ms" % (_ms(ping_ms), _ms(info_ms)), ok,
                 "dockerd answers slowly: check its load and logs (journalctl -u docker), free memory or disk",
                 severity)


def _ms(value):
    return "?" if value is None else "%.1f" % value


# --- client-side tools ----------------------------------------------------------------------

def compose_check(plugin_version, standalone_version, thresholds, severity=None, plugin_error=None):
    """The Compose v2 CLI plugin is what community.docker's compose modules run."""
    minimum = thresholds["min_compose_version"]
    requirement = "docker compose (v2 plugin) >= %s" % minimum
    plugin = clean_version(plugin_version)
    standalone = clean_version(standalone_version)
    if plugin:
        ok = compare_versions(plugin, minimum) >= 0
        return check("compose_plugin", "Docker Compose v2 plugin", requirement, plugin, ok,
                     "upgrade the Compose plugin to %s or newer (package docker-compose-plugin, or the binary "
                     "in ~/.docker/cli-plugins/docker-compose)" % minimum, severity)
    if standalone and version_key(standalone)[:1] == (1,):
        return check("compose_plugin", "Docker Compose v2 plugin", requirement,
                     "only Compose v1 (docker-compose %s)" % standalone, False,
                     "Compose v1 is end-of-life and not supported by community.docker's compose modules: install the "
                     "Compose v2 plugin (apt install docker-compose-plugin) so `docker compose version` works",
                     severity)
    if standalone:
        return check("compose_plugin", "Docker Compose v2 plugin", requirement,
                     "standalone docker-compose %s, no CLI plugin" % standalone, False,
                     "link the standalone binary as a CLI plugin: mkdir -p ~/.docker/cli-plugins && ln -s "
                     "$(command -v docker-compose) ~/.docker/cli-plugins/docker-compose", severity)
    return check("compose_plugin", "Docker Compose v2 plugin", requirement,
                 "not found%s" % (" (%s)" % plugin_error if plugin_error else ""), False,
                 "install the Compose v2 plugin (apt install docker-compose-plugin) so `docker compose version` works",
                 severity)


def buildx_checks(version_output, version_error, ls_output, ls_error, severity=None):
    """buildx present (`docker buildx version`) and a usable BuildKit builder (`docker buildx ls`)."""
    version = clean_version(version_output) if version_output else None
    present = check("buildx", "buildx plugin present", "`docker buildx version` succeeds",
                    version_output.strip().splitlines()[0] if version_output else "missing (%s)" % _one_line(version_error),
                    bool(version_output), "install the buildx plugin (apt install docker-buildx-plugin, or "
                    "docker-buildx on Debian) so builds use BuildKit", severity,
                    {"version": version} if version else None)
    builders = parse_buildx_ls(ls_output) if ls_output else []
    usable = [b for b in builders if b["status"] in ("running", "inactive")]
    if not version_output:
        value = "not checked: buildx missing"
    elif ls_error:
        value = "`docker buildx ls` failed: %s" % _one_line(ls_error)
    else:
        value = ", ".join("%s (%s%s)" % (b["name"], b["status"], ", BuildKit %s" % b["buildkit"] if b["buildkit"] else "")
                          for b in builders) or "no builder listed"
    kit = check("buildkit", "BuildKit usable", "`docker buildx ls` lists a running or inactive builder", value,
                bool(usable), "create or repair a builder: docker buildx create --use (or restart dockerd)",
                severity, {"builders": builders} if builders else None)
    return [present, kit]


_BUILDER_STATUSES = ("running", "inactive", "stopped", "error")


def parse_buildx_ls(text):
    """Builder nodes from `docker buildx ls` (old and new layouts): name, status, BuildKit version.

    Only node lines carry a status; the name is the line's first word, the BuildKit version
    the first version-looking word after the status.
    """
    nodes = []
    for line in (text or "").splitlines():
        tokens = line.replace("\\_", " ").split()
        if not tokens or tokens[0].startswith("NAME"):
            continue
        statuses = [i for i, tok in enumerate(tokens) if tok.lower() in _BUILDER_STATUSES]
        if not statuses:
            continue
        at = statuses[0]
        buildkit = next((tok for tok in tokens[at + 1:] if re.match(r"^v?\d+\.\d+", tok)), "")
        nodes.append({"name": tokens[0].rstrip("*"), "status": tokens[at].lower(), "buildkit": buildkit.rstrip(",")})
    return nodes


def _one_line(text, limit=160):
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# --- resources ------------------------------------------------------------------------------

def memory_check(engine_bytes, host_bytes, thresholds, severity=None, desktop=False):
    minimum = thresholds["min_memory_gb"]
    ok = engine_bytes is not None and engine_bytes >= minimum * GIB * 0.97  # "16 GB" machines report a bit less
    value = "engine %s, host %s" % (gib(engine_bytes) if engine_bytes else "unknown",
                                    gib(host_bytes) if host_bytes else "unknown")
    fix = ("give the Docker Desktop VM more memory (Settings > Resources)" if desktop
           else "add memory to the engine host, or lower the stack's footprint before rebuilding")
    return check("memory", "Memory (as the engine sees it)", ">= %s GiB" % minimum, value, ok, fix, severity,
                 {"engine_bytes": engine_bytes, "host_bytes": host_bytes})


def cpu_check(engine_cpus, host_cpus, thresholds, severity=None, desktop=False):
    minimum = thresholds["min_cpus"]
    ok = engine_cpus is not None and engine_cpus >= minimum
    fix = ("give the Docker Desktop VM more CPUs (Settings > Resources)" if desktop
           else "run on a host with at least %s cores, or expect slower parallel builds" % minimum)
    return check("cpus", "CPUs (as the engine sees them)", ">= %s" % minimum,
                 "engine %s, host %s" % (engine_cpus if engine_cpus is not None else "unknown",
                                         host_cpus if host_cpus is not None else "unknown"), ok, fix, severity)


def disk_check(check_id, title, path, free_bytes, volume_bytes, thresholds, fix, severity=None, method=None,
               error=None):
    """Free space against the fixed threshold and against the project's volume sizes."""
    minimum = thresholds["min_free_disk_gb"] * GIB
    need = max(minimum, volume_bytes or 0)
    requirement = ">= %s free (max of %s GiB and the project's volumes, %s)" % (
        gib(need), thresholds["min_free_disk_gb"], gib(volume_bytes or 0))
    if free_bytes is None:
        return check(check_id, title, requirement, "not measured at %s: %s" % (path, error or "unknown"), False,
                     fix, severity, {"path": path, "method": method})
    return check(check_id, title, requirement, "%s free at %s" % (gib(free_bytes), path), free_bytes >= need, fix,
                 severity, {"path": path, "free_bytes": free_bytes, "required_bytes": need,
                            "volume_bytes": volume_bytes, "method": method})


def stats_check(stats, errors, severity=None):
    ok = not errors
    value = "%d container(s) sampled" % len(stats)
    if errors:
        value += ", %d failed: %s" % (len(errors), _one_line("; ".join(errors)))
    return check("container_stats", "docker stats snapshot", "CPU % and memory of every running container",
                 value, ok, "check that the containers are running and the engine answers stats calls", severity)


def runtime_checks(rows, minimums, severity=None):
    """From runtime audit rows: one check per runtime, plus one for containers whose probe failed."""
    checks = []
    for runtime, check_id, title in (("python", "python_runtimes", "Python versions (runtime audit)"),
                                     ("node", "node_runtimes", "Node.js versions (runtime audit)")):
        mine = [r for r in rows if r.get("runtime") == runtime]
        low = sorted("%s %s" % (r["service"], r.get("version")) for r in mine if r.get("status") == "NEEDS_UPGRADE")
        undetermined = sorted(r["service"] for r in mine if r.get("status") == "UNKNOWN")
        versions = sorted(set(r.get("version") for r in mine if r.get("version")))
        value = ("%d container(s): %s" % (len(mine), ", ".join(versions))) if mine else "no %s container found" % runtime
        if low:
            value += "; below minimum: %s" % ", ".join(low)
        if undetermined:
            value += "; version not determined: %s" % ", ".join(undetermined)
        checks.append(check(check_id, title, ">= %s" % minimums.get(runtime), value, not low and not undetermined,
                            "rebuild the listed services on a %s %s+ base image (see the runtime audit's upgrade_plan.md)"
                            % (runtime, minimums.get(runtime)), severity))
    failed = sorted("%s (%s)" % (r["service"], r.get("note") or "probe failed")
                    for r in rows if r.get("runtime") == "unknown" and r.get("status") == "UNKNOWN")
    checks.append(check("runtime_probe", "Runtime probe reached every running container",
                        "every running container answered the version probe",
                        "not determined: %s" % "; ".join(failed) if failed else "all running containers answered",
                        not failed, "look at the listed containers (paused? hung? no shell?) and re-run the audit",
                        severity))
    return checks


# --- stats ----------------------------------------------------------------------------------

def cpu_percent(first, second):
    """docker stats' CPU %: container CPU time delta over system CPU time delta, times online CPUs."""
    try:
        cpu_delta = second["cpu_stats"]["cpu_usage"]["total_usage"] - first["cpu_stats"]["cpu_usage"]["total_usage"]
        system_delta = second["cpu_stats"]["system_cpu_usage"] - first["cpu_stats"]["system_cpu_usage"]
    except (KeyError, TypeError):
        return None
    online = second["cpu_stats"].get("online_cpus") or len(second["cpu_stats"]["cpu_usage"].get("percpu_usage") or []) or 1
    if system_delta <= 0 or cpu_delta < 0:
        return 0.0
    return round(100.0 * cpu_delta / system_delta * online, 2)


def memory_usage(sample):
    """(used bytes, limit bytes, percent) as docker stats computes them (cache/inactive_file excluded)."""
    mem = (sample or {}).get("memory_stats") or {}
    usage = mem.get("usage")
    if usage is None:
        return None, None, None
    stats = mem.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):  # cgroup v1, then v2
        if key in stats and stats[key] < usage:
            usage -= stats[key]
            break
    limit = mem.get("limit")
    percent = round(100.0 * usage / limit, 2) if limit else None
    return usage, limit, percent


CHECK_ORDER = ("engine_reachable", "engine_version", "api_version", "daemon_responsive", "compose_plugin", "buildx",
               "buildkit", "memory", "cpus", "disk_data_root", "disk_backup_dir", "container_stats",
               "python_runtimes", "node_runtimes", "runtime_probe")


def ordered(checks):
    """Checks in a reading order (engine, tools, resources, disk, containers); unknown ids last."""
    rank = dict((check_id, index) for index, check_id in enumerate(CHECK_ORDER))
    return sorted(checks, key=lambda c: rank.get(c["id"], len(rank)))


def summarize_checks(checks):
    counts = dict((status, sum(1 for c in checks if c["status"] == status)) for status in STATUSES)
    overall = FAIL if counts[FAIL] else (WARN if counts[WARN] else PASS)
    return counts, overall
