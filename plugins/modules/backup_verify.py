#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup_verify
short_description: Verify a backup against its manifest, naming every bad file
version_added: "0.1.0"
description:
  - Checks a backup directory written by M(homeiq.phase0.volume_backup) and M(homeiq.phase0.backup_manifest).
  - V(quick) checks that every file the manifest lists exists with the recorded size and SHA-256, and that
    C(SHA256SUMS) agrees with the manifest and the files.
  - V(full) also trial-reads every volume archive. It decompresses it, re-hashes the raw tar and walks every member,
    then compares raw SHA-256, raw size, member count and file bytes with the manifest. A truncated member, a cut
    stream or a flipped bit fails it. Members that a restore would refuse (path traversal, links out of the volume,
    devices) are reported as warnings.
  - With O(trial_restore=true) every volume archive is also restored into a scratch volume through the Engine API
    (the validated stream a rollback uses), counted against the manifest, and the scratch volume removed. Live
    volumes are never touched. This needs the Docker connection options; the other checks do not.
  - A directory without a complete C(manifest.json) is not a backup, and the task fails.
  - The task fails when any file is bad. RV(bad_files) names every bad file, and RV(problems) says what is wrong with each.
options:
  backup_dir:
    description: The backup directory to verify.
    type: path
  output_dir:
    description: The phase 0 output directory; backups are looked up under C(<output_dir>/backups/). Use with O(backup_id).
    type: path
  backup_id:
    description: With O(output_dir), the backup to verify (C(phase0_<YYYYmmdd_HHMMSS>)), or V(latest) for the newest complete one.
    type: str
    default: latest
  mode:
    description: V(quick) (sizes and hashes) or V(full) (adds decompression, raw hash and a walk of every tar member).
    type: str
    choices: [quick, full]
    default: quick
  check_members:
    description: In V(full) mode, judge every tar member with the restore validator and report those a restore would refuse.
    type: bool
    default: true
  workers:
    description: Files verified in parallel.
    type: int
    default: 2
  trial_restore:
    description:
      - Also restore every volume archive into a scratch volume (labelled C(homeiq.phase0.trial-restore-of), no
        Compose labels), count the restored tree against the manifest, then remove the scratch volume.
      - Skipped in check mode (it creates volumes); RV(trial_restore) then says so.
    type: bool
    default: false
  helper_image:
    description:
      - With O(trial_restore), a local image for the helper container that mounts the scratch volume (never pulled).
        Default - an image recorded in the manifest, else any local image.
    type: str
extends_documentation_fragment:
  - homeiq.phase0.docker
author:
  - homeiq.phase0 contributors (@homeiq)
attributes:
  check_mode:
    support: full
    description: Verification only reads, so it runs in check mode too.
  diff_mode:
    support: none
    description: Verification only reads, so there is no diff.
"""

EXAMPLES = r"""
- name: Quick check of the newest backup
  homeiq.phase0.backup_verify:
    output_dir: "{{ phase0_output_dir }}"

- name: Full trial read of one backup
  homeiq.phase0.backup_verify:
    backup_dir: /srv/homeiq/backups/phase0_20260204_111804
    mode: full
"""

RETURN = r"""
backup_id:
  description: The backup verified.
  returned: when a complete manifest was found
  type: str
backup_dir:
  description: Its directory.
  returned: always
  type: str
ok:
  description: True when every file passed.
  returned: when a complete manifest was found
  type: bool
bad_files:
  description: Paths (relative to the backup directory) of every file that failed.
  returned: when a complete manifest was found
  type: list
  elements: str
problems:
  description: One line per problem, C(<file>) then what is wrong with it.
  returned: when a complete manifest was found
  type: list
  elements: str
files:
  description: Per file, the expected and actual size and SHA-256 (and for full mode the member count and raw size), ok and problems.
  returned: when a complete manifest was found
  type: list
  elements: dict
trial_restore:
  description:
    - With O(trial_restore), one row per volume - C(name), C(archive), C(scratch_volume), C(ok), C(problem), C(members),
      C(file_bytes), C(seconds), C(removed) (the scratch volume is gone). Empty in check mode or without the option.
  returned: when a complete manifest was found
  type: list
  elements: dict
duration_s:
  description: Seconds spent.
  returned: when a complete manifest was found
  type: float
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import HAS_ZSTD
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_verify import verify_backup
from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import Phase0DockerClient, docker_argument_spec
from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import (
    IncompleteBackup, ManifestError, load_manifest, resolve_backup_dir)
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_engine import pick_helper_image
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_trial import trial_restore


def run_trial_restore(module, backup_dir, manifest, report):
    """Restore every archive into a scratch volume (one engine client for all); adds problems to report."""
    client = Phase0DockerClient(module)
    try:
        image = pick_helper_image(client.api, module.params["helper_image"],
                                  [i.get("id") for i in manifest.get("images") or []])
        rows = trial_restore(client.api, backup_dir, manifest, image)
    # engine errors (and no usable helper image) end as a clear failure naming the endpoint
    except Exception as exc:  # pylint: disable=broad-except
        client.fail("trial restore of %s on %s failed: %s" % (backup_dir, client.endpoint, exc), **report)
    client.close()
    for row in rows:
        if not row["ok"]:
            report["ok"] = False
            report["problems"].append("%s: trial restore failed: %s" % (row["archive"], row["problem"]))
            if row["archive"] not in report["bad_files"]:
                report["bad_files"].append(row["archive"])
        if not row["removed"]:
            module.warn("scratch volume %s of the trial restore could not be removed; remove it with "
                        "docker volume rm %s" % (row["scratch_volume"], row["scratch_volume"]))
    return rows


def main():
    module = AnsibleModule(
        argument_spec=docker_argument_spec(
            backup_dir=dict(type="path"),
            output_dir=dict(type="path"),
            backup_id=dict(type="str", default="latest"),
            mode=dict(type="str", choices=["quick", "full"], default="quick"),
            check_members=dict(type="bool", default=True),
            workers=dict(type="int", default=2),
            trial_restore=dict(type="bool", default=False),
            helper_image=dict(type="str"),
        ),
        supports_check_mode=True,
        required_one_of=[("backup_dir", "output_dir")],
        mutually_exclusive=[("backup_dir", "output_dir")],
    )
    params = module.params
    try:
        backup_dir = resolve_backup_dir(
            params["backup_dir"],
            os.path.join(params["output_dir"], "backups") if params["output_dir"] else None,
            params["backup_id"])
    except ManifestError as exc:
        module.fail_json(msg=str(exc), backup_dir=params["backup_dir"])
    try:
        report = verify_backup(backup_dir, params["mode"], params["workers"], params["check_members"])
    except IncompleteBackup as exc:
        module.fail_json(msg="not a complete backup: %s" % exc, backup_dir=backup_dir)
    for warning in report.pop("warnings"):
        module.warn(warning)
    if not HAS_ZSTD and params["mode"] == "full":
        module.warn("the zstandard package is missing: zstd archives cannot be trial-read")
    report["trial_restore"] = []
    if params["trial_restore"] and module.check_mode:
        module.warn("check mode: the trial restore was not run (it creates scratch volumes)")
    elif params["trial_restore"] and report["ok"]:
        report["trial_restore"] = run_trial_restore(module, backup_dir, load_manifest(backup_dir), report)
    if not report["ok"]:
        module.fail_json(msg="backup %s failed %s verification: %d bad file(s): %s. %s" % (
            report["backup_id"], report["mode"], len(report["bad_files"]), ", ".join(report["bad_files"]),
            "; ".join(report["problems"][:10])), **report)
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
