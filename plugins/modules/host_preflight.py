#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: host_preflight
short_description: Check that the Docker host is ready for a rebuild, as data
version_added: 0.1.0
description:
  - Runs readiness checks and returns each with an id, the requirement, the measured value, a status
    (V(pass), V(warn) or V(fail)) and a one-line fix.
  - Engine version and API version as the engine reports them (API C(version)), not the CLI's.
  - The Compose v2 CLI plugin version (community.docker's compose modules need 2.18 or later); a Compose v1
    C(docker-compose) alone fails with the fix named.
  - buildx present and BuildKit usable, by really running C(docker buildx version) and C(docker buildx ls).
  - Daemon responsiveness (C(ping) and C(info) timings); memory and CPUs as the engine sees them (C(info) MemTotal,
    NCPU) and as the host sees them.
  - Free disk at Docker's data root (C(info) DockerRootDir, read on the engine's host) and at the backup directory,
    against a threshold and against the size of the project's volumes.
  - A C(docker stats) snapshot (CPU %, memory) of the project's running containers, and the Python and Node.js
    versions of its containers from the same code as M(homeiq.phase0.runtime_audit).
  - When the engine cannot be reached, the result has one failed check V(engine_reachable) naming the endpoint and
    what to do, and the checks that need the engine are left out.
  - Read-only. On an engine whose filesystem this host cannot see, free space at the data root is read by C(df) in
    a throw-away container of a local image (never pulled), removed afterwards.
extends_documentation_fragment:
  - homeiq.phase0.docker
options:
  project_name:
    description:
      - Compose project whose containers and volumes are measured. Resolved from O(project_dir) when omitted.
      - Without both, the project checks (stats, runtimes, volume sizes) are skipped.
    type: str
  project_dir:
    description:
      - Directory of the compose project.
    type: path
  compose_files:
    description:
      - Compose files relative to O(project_dir); empty uses Compose's default discovery.
    type: list
    elements: str
    default: []
  backup_dir:
    description:
      - Directory backups will be written to; its free space is checked (the nearest existing parent if it does not
        exist yet). Not checked when omitted.
    type: path
  min_engine_version:
    description: Minimum Docker Engine version.
    type: str
    default: "20.10"
  min_api_version:
    description: Minimum Docker API version the engine must speak.
    type: str
    default: "1.41"
  min_compose_version:
    description: Minimum Compose v2 plugin version.
    type: str
    default: "2.18"
  min_memory_gb:
    description: Memory the engine must see, in GiB.
    type: float
    default: 16
  min_cpus:
    description: CPUs the engine must see.
    type: int
    default: 4
  min_free_disk_gb:
    description:
      - Free space required at the data root and at O(backup_dir), in GiB. The requirement is the larger of this
        and the total size of the project's volumes.
    type: float
    default: 50
  slow_response_ms:
    description: C(ping) or C(info) slower than this many milliseconds fails the responsiveness check.
    type: int
    default: 2000
  severity:
    description:
      - What a shortfall of a check becomes, by check id, V(warn) or V(fail). Defaults - memory, cpus, buildx,
        buildkit, container_stats, python_runtimes, node_runtimes and runtime_probe warn; the others fail.
    type: dict
    default: {}
  docker_cli:
    description: The Docker CLI used for C(docker compose version) and C(docker buildx ...).
    type: str
    default: docker
  data_root_probe:
    description:
      - How free space at the data root is read. V(local) uses statvfs on this host, V(container) runs C(df) in a
        throw-away container on the engine, V(auto) picks V(local) when the engine is local (a unix socket, not Docker
        Desktop, and the data root exists here), else V(container).
    type: str
    choices: [auto, local, container]
    default: auto
  probe_images:
    description:
      - Local images to try, in order, for the C(df) container. When empty, the images of the project's containers
        are tried. Images are never pulled.
    type: list
    elements: str
    default: []
  stats:
    description: Take a C(docker stats) snapshot of the project's running containers.
    type: bool
    default: true
  runtimes:
    description: Audit the Python and Node.js versions of the project's containers.
    type: bool
    default: true
  minimum_versions:
    description: Minimum runtime versions for the runtime checks.
    type: dict
    default: {python: "3.10", node: "18"}
  exec_timeout:
    description: Seconds each runtime probe exec may take.
    type: float
    default: 10
  workers:
    description: How many containers are probed at the same time.
    type: int
    default: 8
  fail_on:
    description:
      - V(never) returns the checks without failing; V(fail) fails the task when a check fails; V(warn) also when a
        check warns. The checks are in the result either way.
    type: str
    choices: [never, fail, warn]
    default: never
attributes:
  check_mode:
    description: Read-only; check mode runs the same measurements and returns the same result.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
author:
  - homeiq.phase0 contributors (@homeiq)
"""

EXAMPLES = r"""
- name: Check the host before a rebuild
  homeiq.phase0.host_preflight:
    project_dir: /srv/homeiq
    backup_dir: /srv/homeiq/backups
  register: preflight

- name: Small lab machine - lower thresholds, memory shortfall is fatal
  homeiq.phase0.host_preflight:
    project_name: homeiq
    min_memory_gb: 8
    min_cpus: 2
    min_free_disk_gb: 20
    severity:
      memory: fail
    fail_on: fail
"""

RETURN = r"""
checks:
  description: Every check run, in order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: 'Stable check id (engine_version, compose_plugin, memory, disk_data_root, ...).'
      type: str
    title:
      description: What is checked.
      type: str
    requirement:
      description: What passes.
      type: str
    value:
      description: What was measured.
      type: str
    status:
      description: 'pass, warn or fail.'
      type: str
    fix:
      description: One line saying what to do (empty on pass).
      type: str
    details:
      description: 'Raw measurements behind the value, when useful.'
      type: dict
  sample:
    - id: engine_version
      title: Docker Engine version (from the engine)
      requirement: ">= 20.10"
      value: 20.10.24+dfsg1
      status: pass
      fix: ""
summary:
  description: Number of checks per status.
  returned: always
  type: dict
  sample: {pass: 10, warn: 2, fail: 0}
status:
  description: fail if any check failed, else warn if any warned, else pass.
  returned: always
  type: str
engine:
  description: Engine facts (version, api_version, os, root_dir, mem_total, ncpu, name, desktop).
  returned: when the engine answered
  type: dict
stats:
  description: The docker stats snapshot, one entry per running container (cpu_percent, memory_bytes, ...).
  returned: when the engine answered and stats is true
  type: list
  elements: dict
volumes:
  description: The project's volumes and their sizes in bytes.
  returned: when the engine answered and a project is known
  type: dict
runtime_rows:
  description: The runtime audit rows (as M(homeiq.phase0.runtime_audit) returns them).
  returned: when the engine answered, a project is known and runtimes is true
  type: list
  elements: dict
project:
  description: The compose project name measured, or null.
  returned: always
  type: str
"""

import os
import time
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import (
    Phase0DockerClient, docker_argument_spec, normalize_docker_host)
from ansible_collections.homeiq.phase0.plugins.module_utils import host_checks as hc
from ansible_collections.homeiq.phase0.plugins.module_utils import host_probe as hp
from ansible_collections.homeiq.phase0.plugins.module_utils.runtime_probe import apply_policy, audit_rows
from ansible_collections.homeiq.phase0.plugins.module_utils.version_policy import (
    DEFAULT_PRIORITY_RULES, normalize_minimums)


class EngineUnavailable(Exception):
    pass


class _NoExitModule:
    """Lets Phase0DockerClient report a connection failure as an exception instead of exiting."""

    def __init__(self, module):
        self.params = module.params

    def fail_json(self, msg, **kwargs):
        raise EngineUnavailable(msg)


def connect(module):
    try:
        return Phase0DockerClient(_NoExitModule(module)), None
    except EngineUnavailable as exc:
        return None, str(exc)


def project_name_of(module):
    params = module.params
    if params["project_name"]:
        return params["project_name"], []
    if not params["project_dir"]:
        return None, []
    from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import (
        ComposeProjectError, resolve_project)
    try:
        project = resolve_project(params["project_dir"], compose_files=params["compose_files"] or None)
    except ComposeProjectError as exc:
        module.fail_json(msg=str(exc))
    return project.name, project.warnings


def engine_checks(module, client, project, thresholds, severity, result):
    """Every check that needs the engine; fills result's engine, stats, volumes, runtime_rows."""
    params = module.params
    api = client.api
    checks = []
    dummy, ping_ms = hp.timed(api.ping)
    version_info, dummy_ms = hp.timed(api.version)
    info, info_ms = hp.timed(api.info)
    desktop = "docker desktop" in (info.get("OperatingSystem") or "").lower()
    result["engine"] = {
        "version": version_info.get("Version"), "api_version": version_info.get("ApiVersion"),
        "os": hp.short_os(info), "root_dir": info.get("DockerRootDir"), "mem_total": info.get("MemTotal"),
        "ncpu": info.get("NCPU"), "name": info.get("Name"), "desktop": desktop,
        "storage_driver": info.get("Driver"), "cgroup_version": info.get("CgroupVersion"),
    }
    checks.append(hc.engine_version_check(version_info, thresholds, severity))
    checks.append(hc.api_version_check(version_info, thresholds, severity))
    checks.append(hc.daemon_check(ping_ms, info_ms, thresholds, severity))
    checks.append(hc.memory_check(info.get("MemTotal"), hp.host_memory_bytes(), thresholds, severity, desktop))
    checks.append(hc.cpu_check(info.get("NCPU"), os.cpu_count(), thresholds, severity, desktop))

    summaries = hp.project_summaries(api, project)
    volume_bytes = 0
    if project:
        volume_bytes, volumes = hp.project_volume_bytes(api, project)
        result["volumes"] = {"total_bytes": volume_bytes, "sizes": volumes}
    root = info.get("DockerRootDir") or "/var/lib/docker"
    checks.append(data_root_check(module, api, client.endpoint, info, root, summaries, volume_bytes, thresholds,
                                  severity))
    if project and params["stats"]:
        samples, errors = hp.stats_snapshot(api, summaries)
        result["stats"] = samples
        checks.append(hc.stats_check(samples, errors, severity))
    if project and params["runtimes"]:
        try:
            minimums = normalize_minimums(params["minimum_versions"])
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        rows = apply_policy(audit_rows(api, project, timeout=params["exec_timeout"], workers=params["workers"]),
                            minimums, DEFAULT_PRIORITY_RULES, "MEDIUM")
        result["runtime_rows"] = rows
        checks.extend(hc.runtime_checks(rows, minimums, severity))
    return checks


def data_root_check(module, api, endpoint, info, root, summaries, volume_bytes, thresholds, severity):
    mode = module.params["data_root_probe"]
    if mode == "auto":
        mode = "local" if hp.engine_is_local(endpoint, info) else "container"
    fix = ("free space under %s (docker system prune, remove unused images and build cache) or move the data "
           "root to a larger disk (daemon.json data-root)" % root)
    free, error, method = None, None, mode
    try:
        if mode == "local":
            free, dummy = hp.free_bytes(root)
        else:
            images = module.params["probe_images"] or _unique([s.get("ImageID") or s.get("Image") for s in summaries])
            free, image = hp.data_root_free_via_container(api, root, images)
            method = "container (%s)" % image
    except Exception as exc:  # an unmeasured disk is a check result; pylint: disable=broad-except
        error = " ".join(str(exc).split())[:300]
        if mode == "container":
            fix = "set probe_images to a local image that has df (nothing is pulled), then re-run; " + fix
    return hc.disk_check("disk_data_root", "Free disk at Docker's data root (on the engine host)", root, free,
                         volume_bytes, thresholds, fix, severity, method, error)


def backup_dir_check(path, volume_bytes, thresholds, severity):
    free, error, measured = None, None, path
    try:
        free, measured = hp.free_bytes(path)
    except OSError as exc:
        error = exc.strerror or str(exc)
    return hc.disk_check("disk_backup_dir", "Free disk at the backup directory", measured, free, volume_bytes,
                         thresholds, "free space on the filesystem of %s or point the backup output elsewhere" % path,
                         severity, "local", error)


def _unique(items):
    seen = []
    for item in items:
        if item and item not in seen:
            seen.append(item)
    return seen


def main():
    module = AnsibleModule(
        argument_spec=docker_argument_spec(
            project_name=dict(type="str"),
            project_dir=dict(type="path"),
            compose_files=dict(type="list", elements="str", default=[]),
            backup_dir=dict(type="path"),
            min_engine_version=dict(type="str", default="20.10"),
            min_api_version=dict(type="str", default="1.41"),
            min_compose_version=dict(type="str", default="2.18"),
            min_memory_gb=dict(type="float", default=16),
            min_cpus=dict(type="int", default=4),
            min_free_disk_gb=dict(type="float", default=50),
            slow_response_ms=dict(type="int", default=2000),
            severity=dict(type="dict", default={}),
            docker_cli=dict(type="str", default="docker"),
            data_root_probe=dict(type="str", choices=["auto", "local", "container"], default="auto"),
            probe_images=dict(type="list", elements="str", default=[]),
            stats=dict(type="bool", default=True),
            runtimes=dict(type="bool", default=True),
            minimum_versions=dict(type="dict", default={"python": "3.10", "node": "18"}),
            exec_timeout=dict(type="float", default=10),
            workers=dict(type="int", default=8),
            fail_on=dict(type="str", choices=["never", "fail", "warn"], default="never"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    severity = {}
    for check_id, level in (params["severity"] or {}).items():
        if level not in (hc.WARN, hc.FAIL):
            module.fail_json(msg="severity of %s must be warn or fail, got %r" % (check_id, level))
        severity[check_id] = level
    thresholds = dict((key, params[key]) for key in hc.DEFAULT_THRESHOLDS)
    project, warnings_text = project_name_of(module)
    endpoint = normalize_docker_host(params["docker_host"])
    started = time.monotonic()
    result = {"changed": False, "project": project, "docker_host": endpoint}
    checks = []

    client, error = connect(module)
    if client is None:
        checks.append(hc.engine_unreachable(endpoint, error))
    else:
        try:
            checks.extend(engine_checks(module, client, project, thresholds, severity, result))
        except Exception as exc:  # an engine error mid-way is one clear failure; pylint: disable=broad-except
            checks.append(hc.check("engine_reachable", "Docker engine reachable", "an engine answers at %s" % endpoint,
                                   "stopped answering: %s" % " ".join(str(exc).split())[:300], False,
                                   "check dockerd on the engine host, then re-run", {"engine_reachable": hc.FAIL},
                                   {"traceback": traceback.format_exc().splitlines()[-1]}))
        finally:
            client.close()

    if params["backup_dir"]:
        volume_bytes = (result.get("volumes") or {}).get("total_bytes") or 0
        checks.append(backup_dir_check(params["backup_dir"], volume_bytes, thresholds, severity))
    plugin, standalone, plugin_error = hp.compose_versions(params["docker_cli"], endpoint)
    checks.append(hc.compose_check(plugin, standalone, thresholds, severity, plugin_error))
    if client is not None:
        checks.extend(hc.buildx_checks(*hp.buildx_outputs(params["docker_cli"], endpoint), severity=severity))

    checks = hc.ordered(checks)
    counts, overall = hc.summarize_checks(checks)
    result.update(checks=checks, summary=counts, status=overall, warnings_text=warnings_text,
                  elapsed=round(time.monotonic() - started, 3))
    failing = [c for c in checks if c["status"] == hc.FAIL or (params["fail_on"] == "warn" and c["status"] == hc.WARN)]
    if params["fail_on"] != "never" and failing:
        reasons = ["%s %s: %s -> %s" % (c["id"], c["status"], c["value"], c["fix"]) for c in failing]
        module.fail_json(msg="host preflight: %s" % "; ".join(reasons), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
