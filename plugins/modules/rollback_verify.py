#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: rollback_verify
short_description: Prove that a rolled-back compose stack matches its phase 0 backup
version_added: 0.1.0
description:
  - Checks a compose project against a complete phase 0 backup, read-only, and fails when it does not match.
  - B(Services) - every container of the project runs, and every one with a healthcheck becomes healthy within
    O(health_timeout). A service that was unhealthy or stopped when the backup was taken (the backup's
    C(stack_state.json)) may come back the same way; a one-shot service that exited 0 counts as completed.
    Unhealthy fails at once; at the timeout the services still starting are named.
  - B(Images) - every image the backup recorded (C(repository:tag)) has the recorded image id.
  - B(Volumes) - every volume in the backup holds exactly what its archive holds, compared by an
    order-independent digest of paths, types, modes, numeric owners, whole-second mtimes, link targets and
    content hashes (the archive is read through the same validator restore uses).
extends_documentation_fragment:
  - homeiq.phase0.docker
author:
  - homeiq.phase0 contributors (@homeiq)
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing.
options:
  project_name:
    description: Compose project name (the C(com.docker.compose.project) label).
    type: str
    required: true
  backup_dir:
    description: The backup directory. Give this or O(backup_root).
    type: path
  backup_root:
    description: Directory holding C(phase0_*) backups; used with O(backup_id).
    type: path
  backup_id:
    description: Backup to compare with; empty or C(latest) means the newest complete backup under O(backup_root).
    type: str
  checks:
    description: Which checks to run.
    type: list
    elements: str
    choices: [services, images, volumes]
    default: [services, images, volumes]
  volumes:
    description: Only these volumes of the backup (engine names); empty means all of them.
    type: list
    elements: str
    default: []
  health_timeout:
    description: Seconds to wait for services to be running and healthy.
    type: int
    default: 180
  require_healthy:
    description:
      - V(false) (default) - a service that was unhealthy or stopped when the backup was taken may come back the same
        way (C(as_before)); a rollback restores the old state and cannot repair an application.
      - V(true) - every service must be running, and healthy where it has a healthcheck, whatever it was at backup
        time. One-shot services that exited 0 still count as completed.
    type: bool
    default: false
  helper_image:
    description:
      - Image for the helper containers that read volumes (created, never started). Default - an image the
        project's containers use. Never pulled.
    type: str
  workers:
    description: Volumes compared at the same time.
    type: int
    default: 4
"""

EXAMPLES = r"""
- name: Prove the rollback
  homeiq.phase0.rollback_verify:
    project_name: homeiq
    backup_root: /srv/homeiq/backups
    backup_id: phase0_20260204_111804
    health_timeout: 300
"""

RETURN = r"""
ok:
  description: Whether every check passed.
  returned: always
  type: bool
backup_id:
  description: The backup compared with.
  returned: always
  type: str
services:
  description: One row per container.
  returned: when services were checked
  type: list
  elements: dict
  sample: [{service: db, container: homeiq-db-1, status: ok, detail: "running, healthy"}]
images:
  description: One row per recorded image.
  returned: when images were checked
  type: list
  elements: dict
  sample: [{image: "homeiq/api:latest", expected_id: "sha256:1f...", actual_id: "sha256:1f...", ok: true}]
volumes:
  description: One row per volume with both digests.
  returned: when volumes were checked
  type: list
  elements: dict
  sample: [{name: homeiq_db, archive_digest: "9a0c...", live_digest: "9a0c...", members: 120, ok: true}]
problems:
  description: Every mismatch, one sentence each.
  returned: always
  type: list
  elements: str
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils.bounded_map import bounded_map
from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import project_containers
from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import Phase0DockerClient, docker_argument_spec
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_digest import tree_state
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_engine import HelperContainer, pick_helper_image
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_source import (
    BackupUnavailable,
    archive_path,
    expected_from_entry,
    load_backup,
    resolve_backup,
)
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_stream import ValidatedTarReader
from ansible_collections.homeiq.phase0.plugins.module_utils.rollback_checks import (
    judge_images,
    judge_services,
    judge_volumes,
)

MOUNT = "/volume"
POLL_SECONDS = 2


def _expected_states(backup_dir):
    """Service states at backup time (stack_state.json); {} when the backup has none."""
    try:
        with open(os.path.join(backup_dir, "stack_state.json"), "r", encoding="utf-8") as handle:
            services = json.load(handle).get("services") or []
    except (OSError, ValueError):
        return {}
    return dict((s.get("name"), {"state": s.get("state"), "health": s.get("health")}) for s in services)


def check_services(api, project, expected, timeout, strict=False):
    deadline = time.monotonic() + timeout
    while True:
        verdict = judge_services(project_containers(api, project), expected, strict)
        if verdict["problems"] or not verdict["pending"]:
            return verdict
        if time.monotonic() >= deadline:
            verdict["problems"].append("still starting after %ds: %s" % (timeout, ", ".join(verdict["pending"])))
            return verdict
        time.sleep(POLL_SECONDS)


def check_images(api, recorded):
    current = {}
    for image in recorded:
        ref = "%s:%s" % (image.get("repository"), image.get("tag")) if image.get("tag") else image.get("repository")
        try:
            current[ref] = api.inspect_image(ref)["Id"]
        except Exception:  # pylint: disable=broad-exception-caught
            # A missing image is a finding of the check, not an error of the module.
            current[ref] = None
    return judge_images(recorded, current)


def _volume_row(api, backup_dir, helper_image, entry):
    name = entry.get("name")
    row = {"name": name}
    try:
        api.inspect_volume(name)
    except Exception:  # pylint: disable=broad-exception-caught
        # The rows report it; a missing volume is a mismatch, not a crash.
        row["error"] = "volume %s does not exist" % name
        return row
    reader = ValidatedTarReader(archive_path(backup_dir, entry.get("archive")), expected=expected_from_entry(entry),
                                allow_devices=True, allow_external_symlinks=True)
    try:
        wanted = tree_state(reader)
    finally:
        reader.close()
    with HelperContainer(api, helper_image, {MOUNT: name}) as helper:
        live = helper.tree_state(MOUNT)
    row.update(archive_digest=wanted.digest, live_digest=live.digest, members=live.members,
               archive_members=wanted.members)
    return row


def check_volumes(api, backup_dir, manifest, names, helper_image, workers):
    entries = [v for v in manifest.get("volumes") or [] if not names or v.get("name") in names]
    outcomes = bounded_map(lambda entry: _volume_row(api, backup_dir, helper_image, entry), entries, workers=workers)
    rows = []
    for outcome in outcomes:
        if outcome.ok:
            rows.append(outcome.value)
        else:
            rows.append({"name": outcome.item.get("name"), "error": str(outcome.error)})
    return judge_volumes(rows)


def main():
    module = AnsibleModule(
        argument_spec=docker_argument_spec(
            project_name=dict(type="str", required=True),
            backup_dir=dict(type="path"),
            backup_root=dict(type="path"),
            backup_id=dict(type="str"),
            checks=dict(type="list", elements="str", choices=["services", "images", "volumes"],
                        default=["services", "images", "volumes"]),
            volumes=dict(type="list", elements="str", default=[]),
            health_timeout=dict(type="int", default=180),
            require_healthy=dict(type="bool", default=False),
            helper_image=dict(type="str"),
            workers=dict(type="int", default=4),
        ),
        required_one_of=[("backup_dir", "backup_root")],
        mutually_exclusive=[("backup_dir", "backup_root")],
        supports_check_mode=True,
    )
    p = module.params
    try:
        if p["backup_dir"]:
            backup_dir = p["backup_dir"]
            manifest = load_backup(backup_dir)
            backup_id = manifest.get("backup_id")
        else:
            backup_id, backup_dir = resolve_backup(p["backup_root"], p["backup_id"] or None)
            manifest = load_backup(backup_dir)
    except BackupUnavailable as exc:
        module.fail_json(msg=str(exc))

    client = Phase0DockerClient(module)
    api = client.api
    result = {"changed": False, "backup_id": backup_id, "problems": []}
    ok = True
    if "services" in p["checks"]:
        services = check_services(api, p["project_name"], _expected_states(backup_dir), p["health_timeout"],
                                  p["require_healthy"])
        result["services"] = services["rows"]
        result["problems"] += services["problems"]
        ok = ok and services["ok"]
    if "images" in p["checks"]:
        images = check_images(api, manifest.get("images") or [])
        result["images"] = images["rows"]
        result["problems"] += images["problems"]
        ok = ok and images["ok"]
    if "volumes" in p["checks"]:
        candidates = [c.get("Image") for c in project_containers(api, p["project_name"])]
        try:
            helper_image = pick_helper_image(api, p["helper_image"], candidates)
        except ValueError as exc:
            module.fail_json(msg=str(exc), **result)
        volumes = check_volumes(api, backup_dir, manifest, p["volumes"], helper_image, p["workers"])
        result["volumes"] = volumes["rows"]
        result["problems"] += volumes["problems"]
        ok = ok and volumes["ok"]
    result["ok"] = ok
    if not ok:
        module.fail_json(msg="the stack does not match backup %s: %s" % (backup_id, "; ".join(result["problems"])),
                         **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
