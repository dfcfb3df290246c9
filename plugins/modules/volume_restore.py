#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: volume_restore
short_description: Restore Docker volumes from a verified homeiq.phase0 backup, safely
version_added: 0.1.0
description:
  - Restores named volumes from a backup directory written by M(homeiq.phase0.volume_backup) and
    committed by its C(manifest.json). A backup without a complete manifest is refused.
  - Before anything is written, every archive is verified and judged in one streaming pass - size and
    SHA-256 of the compressed file, decompression, SHA-256 of the raw tar, the tar end-of-archive
    marker, member count and file bytes against the manifest - and every tar member is checked - no
    absolute names, no C(..), no path through or over a symlink, no hardlink outside the archive, no
    symlink pointing outside the volume unless O(allow_external_symlinks), no device files unless
    O(allow_devices). One bad archive fails the whole task before the first write.
  - Content goes into a fresh staging volume first. On the host fast path the staging directory is
    swapped with the volume's directory by rename only when extraction is complete. Through the Engine
    API (C(put_archive) on a created, never started helper container) the target is emptied and filled
    again only after staging succeeded. A volume the module creates itself is removed again on failure.
  - A missing volume is created with the driver, driver options and labels recorded in the manifest
    (Compose recognises its volumes by the C(com.docker.compose.*) labels). Backups never record a secret
    driver option (for example C(password=) inside C(o) for CIFS); a missing volume that had one is
    refused before any write, with a message to create it with its real options first.
  - Keeps numeric uid/gid, modes (setuid, setgid, sticky included), symlinks, hardlinks, FIFOs and
    whole-second mtimes. Extended attributes and sparse holes are not preserved (file content is).
  - A volume used by a running container is never written; in check mode this is a warning (a rollback
    checks its backup before it stops the stack).
  - Safe by default - a volume that is not empty and differs from the backup is only replaced with
    O(replace=true); without it the task fails and says so. A volume that already holds exactly the
    archive's tree is left alone (not changed), so a second run changes nothing.
  - Never pulls an image. The helper container uses O(helper_image), else an image already present
    (one used by the volume's containers, one recorded in the manifest, or any local image).
  - "Test-only fault injection, never for production: E(PHASE0_TEST_RESTORE_ABORT_AFTER_BYTES=<n>) in the module's
    environment aborts the restore stream after n bytes, so tests can prove that the live volume is unchanged."
author:
  - homeiq.phase0 contributors (@homeiq)
extends_documentation_fragment:
  - homeiq.phase0.docker
attributes:
  check_mode:
    description: Verifies and judges the archives and inspects the volumes, then reports what would be created, filled or replaced.
    support: full
  diff_mode:
    description: Shows, per volume, its state before and the archive it would receive.
    support: full
options:
  backup_dir:
    description:
      - The backup directory (C(<phase0_output_dir>/backups/phase0_<timestamp>)) holding C(manifest.json).
      - One of O(backup_dir) and O(backup_root) is required.
    type: path
  backup_root:
    description:
      - The directory holding the backups (C(<phase0_output_dir>/backups)); the backup is O(backup_id) in
        it, or the newest complete one. A backup without a complete C(manifest.json) does not count.
    type: path
  backup_id:
    description:
      - With O(backup_root), the backup to use (C(phase0_<YYYYmmdd_HHMMSS>)). Default - the newest complete one.
    type: str
  volumes:
    description:
      - Names of the backed-up volumes to restore, as in the manifest. Default - every volume of the backup.
    type: list
    elements: str
  volume_map:
    description:
      - "Restore a backed-up volume into a volume with another name: C({backup_name: target_name})."
    type: dict
  replace:
    description:
      - Replace the content of a volume that is not empty and differs from the backup.
      - Without it such a volume fails the task with a message saying so, before anything is written.
    type: bool
    default: false
  allow_devices:
    description:
      - Create character and block device files from the archive. Refused by default.
    type: bool
    default: false
  allow_external_symlinks:
    description:
      - Create symlinks whose target is absolute or climbs out of the volume (for example C(/etc/localtime)).
      - They are never written through during the restore. Refused by default.
    type: bool
    default: false
  method:
    description:
      - How content is written.
      - V(host) extracts directly into the volume directories (root on the engine host, an engine that does
        not remap user ids, local driver, no driver options, no file system mounted at or inside the volume's
        directory, which is renamed). V(api) streams the validated tar through the Engine API C(put_archive).
      - V(auto) uses V(host) when possible, else V(api).
    type: str
    choices: [auto, api, host]
    default: auto
  helper_image:
    description:
      - Local image for the helper container (created, never started, except to empty a volume on the
        V(api) path, which needs C(sh) and C(rm) in it). It is never pulled.
    type: str
"""

EXAMPLES = r"""
- name: Restore every volume of a backup into empty or missing volumes
  homeiq.phase0.volume_restore:
    backup_dir: /srv/homeiq/backups/phase0_20260101_120000

- name: Roll back two volumes, replacing what they hold now
  homeiq.phase0.volume_restore:
    backup_dir: "{{ backup_dir }}"
    volumes: [homeiq_influxdb_data, homeiq_sqlite_data]
    replace: true
"""

RETURN = r"""
backup_id:
  description: Id of the backup used.
  returned: when the manifest was read
  type: str
  sample: phase0_20260101_120000
backup_dir:
  description: Directory of the backup used.
  returned: when the manifest was read
  type: str
manifest:
  description: >-
    What the backup holds, for the next steps of a rollback - backup_id, created, project, host,
    volumes (names), configs and images (the manifest's records).
  returned: when the manifest was read
  type: dict
volumes:
  description: One entry per volume, in the order restored.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Volume name in the backup., type: str}
    target: {description: Volume restored into., type: str}
    state_before: {description: "C(missing), C(empty), C(same) (already holds the archive's tree) or C(different).", type: str}
    action: {description: "C(create), C(fill), C(replace) or C(unchanged).", type: str}
    changed: {description: Whether this volume is (or in check mode would be) changed., type: bool}
    method: {description: "C(host) or C(api).", type: str}
    method_reason: {description: Why that method., type: str}
    helper_image: {description: Image of the helper container., type: str}
    archive: {description: Archive file., type: str}
    verify: {description: "The pre-restore scan - ok, sha256, bytes, raw_sha256, raw_bytes, members, file_bytes, codec, duration_s.", type: dict}
    members: {description: Members restored (null in check mode or when unchanged)., type: int}
    file_bytes: {description: Regular-file bytes restored., type: int}
    seconds: {description: Time to restore this volume., type: float}
    mb_per_s: {description: Raw tar MB/s of the restore., type: float}
would_replace:
  description: Volumes whose current content is (or in check mode would be) replaced.
  returned: always
  type: list
  elements: str
problems:
  description: Why the task failed - archives that failed verification or member checks, volumes that block.
  returned: failure
  type: list
  elements: str
"""

import os
import traceback
import uuid

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import HAS_ZSTD, ZSTD_IMPORT_ERROR
from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import (
    Phase0DockerClient, docker_argument_spec, remaps_ids)
from ansible_collections.homeiq.phase0.plugins.module_utils.host_volume import read_mountinfo
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_engine import pick_helper_image
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_plan import (
    choose_method, compose_labels_missing, host_path_problem, plan_volume, select_entries)
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_source import (
    BackupUnavailable, archive_path, expected_from_entry, load_backup, manifest_summary, resolve_backup)
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_stream import scan_archive
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_volume import (
    RestoreFailed, inspect_target, restore_volume)


def argument_spec():
    return docker_argument_spec(
        backup_dir=dict(type="path"),
        backup_root=dict(type="path"),
        backup_id=dict(type="str"),
        volumes=dict(type="list", elements="str"),
        volume_map=dict(type="dict"),
        replace=dict(type="bool", default=False),
        allow_devices=dict(type="bool", default=False),
        allow_external_symlinks=dict(type="bool", default=False),
        method=dict(type="str", default="auto", choices=["auto", "api", "host"]),
        helper_image=dict(type="str"),
    )


def verify_archives(backup_dir, selected, validator_options):
    """Scan every selected archive; returns (entries with scans, problems). Reads only."""
    items, problems = [], []
    for entry, target in selected:
        try:
            path = archive_path(backup_dir, entry.get("archive"))
        except BackupUnavailable as exc:
            problems.append("volume %s: %s" % (entry["name"], exc))
            continue
        report = scan_archive(path, expected=expected_from_entry(entry), **validator_options)
        if not report.ok:
            problems.extend("volume %s (%s): %s" % (entry["name"], path, p) for p in report.problems)
        items.append({"entry": entry, "target": target, "archive": path, "scan": report})
    return items, problems


def helper_candidates(api, target, manifest):
    candidates = [c.get("ImageID") for c in api.containers(all=True, filters={"volume": target})]
    candidates += [i.get("id") for i in manifest.get("images") or []]
    return candidates


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[("backup_dir", "backup_root")],
                           mutually_exclusive=[("backup_dir", "backup_root")])
    params = module.params
    if not HAS_ZSTD:
        module.fail_json(msg=missing_required_lib("zstandard"), exception=ZSTD_IMPORT_ERROR)
    backup_dir = params["backup_dir"]
    try:
        if params["backup_root"]:
            _backup_id, backup_dir = resolve_backup(params["backup_root"], params["backup_id"])
        manifest = load_backup(backup_dir)
        selected = select_entries(manifest.get("volumes") or [], params["volumes"], params["volume_map"])
    except (BackupUnavailable, ValueError) as exc:
        module.fail_json(msg=str(exc), volumes=[], would_replace=[])
    validator_options = {"allow_devices": params["allow_devices"],
                         "allow_external_symlinks": params["allow_external_symlinks"]}

    items, problems = verify_archives(backup_dir, selected, validator_options)
    if problems:
        module.fail_json(msg="backup %s refused before any write: %s" % (backup_dir, "; ".join(problems[:5])),
                         problems=problems, volumes=[], would_replace=[], backup_id=manifest.get("backup_id"))

    client = Phase0DockerClient(module)
    api = client.api
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    remapped = False
    if is_root and (client.endpoint or "").startswith("unix://"):
        try:
            remapped = remaps_ids(api.info().get("SecurityOptions"))
        except Exception:  # pylint: disable=broad-except  # unknown: the Engine API path is used
            remapped = None
    mountinfo = read_mountinfo()
    results = []
    try:
        for item in items:
            entry, target = item["entry"], item["target"]
            item["expected"] = dict((k, v) for k, v in item["scan"].as_dict().items()
                                    if k in ("sha256", "bytes", "raw_sha256", "raw_bytes", "members", "file_bytes"))
            item["helper_image"] = pick_helper_image(api, params["helper_image"],
                                                     helper_candidates(api, target, manifest))
            host_reason = host_path_problem(is_root, client.endpoint, None, remapped)
            found = inspect_target(api, target, item["archive"], item["expected"], validator_options,
                                   item["helper_image"], host_reason is None)
            volume = found["volume"] or {"Driver": entry.get("driver") or "local", "Options": entry.get("options")}
            host_reason = host_path_problem(is_root, client.endpoint, volume, remapped, mountinfo)
            item["method"], item["method_reason"] = choose_method(params["method"], host_reason is None, host_reason)
            item.update(found)
            # In check mode running containers do not block: a rollback checks its backup before it
            # stops the stack. The real run refuses to write under a running container.
            running = [] if module.check_mode else found["running"]
            if module.check_mode and found["running"] and found["state"] != "same":
                module.warn("volume %s is in use by running container(s) %s; they must be stopped before "
                            "the real restore" % (target, ", ".join(found["running"])))
            item.update(plan_volume(target, found["state"], params["replace"], running, entry.get("options")))
            if item["problem"]:
                problems.append(item["problem"])
            missing_labels = compose_labels_missing(entry.get("labels"))
            if found["state"] == "missing" and missing_labels:
                module.warn("volume %s will be created without the label(s) %s; Compose may not adopt it"
                            % (target, ", ".join(missing_labels)))
    except (ValueError, RestoreFailed) as exc:
        client.fail(str(exc), volumes=[], would_replace=[])
    except Exception as exc:  # pylint: disable=broad-except  # engine errors end as a clear failure
        client.fail("inspecting the target volumes failed: %s" % exc, exception=traceback.format_exc(),
                    volumes=[], would_replace=[])

    def describe(item):
        return {"name": item["entry"]["name"], "target": item["target"], "state_before": item["state"],
                "action": item["action"], "changed": item["changed"], "method": item["method"],
                "method_reason": item["method_reason"], "helper_image": item["helper_image"],
                "archive": item["archive"], "verify": item["scan"].as_dict(),
                "members": None, "file_bytes": None, "seconds": None, "mb_per_s": None}

    would_replace = [i["target"] for i in items if i["action"] == "replace"]
    if problems:
        client.fail("restore refused before any write: %s" % "; ".join(problems), problems=problems,
                    volumes=[describe(i) for i in items], would_replace=would_replace,
                    backup_id=manifest.get("backup_id"))

    diff = {"before": "".join("%s: %s\n" % (i["target"], i["state"]) for i in items),
            "after": "".join("%s: %s from %s\n" % (i["target"], "unchanged" if not i["changed"] else i["action"],
                                                   os.path.basename(i["archive"])) for i in items)}
    run_id = uuid.uuid4().hex[:8]
    for item in items:
        row = describe(item)
        if item["changed"] and not module.check_mode:
            try:
                row.update(restore_volume(api, item, {"validator_options": validator_options, "run_id": run_id}))
            except RestoreFailed as exc:
                results.append(row)
                client.fail(str(exc), volumes=results, would_replace=would_replace,
                            backup_id=manifest.get("backup_id"), **exc.details)
            except Exception as exc:  # pylint: disable=broad-except
                results.append(row)
                client.fail("restoring volume %s failed: %s" % (item["target"], exc),
                            exception=traceback.format_exc(), volumes=results, would_replace=would_replace)
        results.append(row)
    changed = any(i["changed"] for i in items)
    extra = {"diff": diff} if module._diff else {}
    module.exit_json(changed=changed, backup_id=manifest.get("backup_id"), volumes=results,
                     backup_dir=os.path.abspath(backup_dir), manifest=manifest_summary(manifest),
                     would_replace=would_replace, **extra,
                     msg="%s %d volume(s) from %s; %d already matched"
                     % ("would restore" if module.check_mode else "restored",
                        sum(1 for i in items if i["changed"]), backup_dir,
                        sum(1 for i in items if not i["changed"])))


if __name__ == "__main__":
    main()
