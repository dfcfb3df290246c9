#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup_manifest
short_description: Commit a backup directory by writing its manifest last
version_added: "0.1.0"
description:
  - Writes C(SHA256SUMS) (C(sha256sum -c) compatible), C(MANIFEST.md) (a restore guide with the exact verify
    and restore commands) and finally C(manifest.json) (schema C(homeiq.phase0/backup-manifest/v1),
    C(complete=true)) into O(backup_dir), each atomically (temporary file, fsync, rename, directory fsync), mode 0600.
  - C(manifest.json) is the commit point. A backup directory without it does not exist for restore, verify or "latest".
  - Refuses to commit when a listed file is missing or its size differs from its entry
    (and, with O(check_hashes=true), when its SHA-256 differs).
  - A backup is immutable. Running again with the same entries changes nothing. Different entries for a
    directory that already has a complete manifest fail the task.
options:
  backup_dir:
    description: The backup directory, named C(phase0_<YYYYmmdd_HHMMSS>).
    type: path
    required: true
  backup_id:
    description: The backup id; default is the directory's name.
    type: str
  project:
    description: The compose project name recorded in the manifest.
    type: str
  volumes:
    description:
      - Volume entries, normally RV(homeiq.phase0.volume_backup#module:volumes) unchanged.
      - Each needs name, archive, sha256, bytes, labels, driver and consistency; other keys are kept.
    type: list
    elements: dict
    default: []
  configs:
    description: Config file entries, each with path (relative to O(backup_dir)), sha256 and bytes (and optionally source).
    type: list
    elements: dict
    default: []
  images:
    description: Image entries, each with repository, tag, id and snapshot_tag (and optionally archive, sha256, bytes).
    type: list
    elements: dict
    default: []
  git:
    description:
      - Git state of the project (for example commit, dirty, files).
      - C(files) lists the git captures, paths relative to O(backup_dir). A bare path is hashed here
        and recorded as C({path, sha256, bytes}), so C(SHA256SUMS) and M(homeiq.phase0.backup_verify)
        cover it like a config copy. A listed capture that is missing fails the module (in check mode
        it is recorded as the bare path).
    type: dict
    default: {}
  host:
    description: Host name recorded in the manifest; default is this host's name.
    type: str
  check_hashes:
    description: Re-read every listed file and compare its SHA-256 before committing (slower; sizes are always checked).
    type: bool
    default: false
author:
  - homeiq.phase0 contributors (@homeiq)
attributes:
  check_mode:
    support: full
    description: Validates the entries and the files and reports the manifest it would write; writes nothing.
  diff_mode:
    support: none
    description: Writes new files only, so there is no diff.
"""

EXAMPLES = r"""
- name: Commit the backup
  homeiq.phase0.backup_manifest:
    backup_dir: "{{ volume_backup.backup_dir }}"
    project: homeiq
    volumes: "{{ volume_backup.volumes }}"
    configs: "{{ config_backup.files }}"
    images: "{{ image_snapshot.images }}"
    git: "{{ git_state }}"
"""

RETURN = r"""
manifest:
  description: The manifest written (or that would be written in check mode).
  returned: always
  type: dict
manifest_path:
  description: Path of C(manifest.json).
  returned: always
  type: str
files:
  description: The files written, in order (C(manifest.json) last).
  returned: changed
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_verify import hash_file, verify_file
from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import (
    MANIFEST_NAME, IncompleteBackup, ManifestError, build_manifest, check_files, check_relpath, load_manifest,
    manifest_files, write_backup_manifest)

# Host-specific or run-specific keys of volume_backup results that do not belong in a manifest.
_DROP_KEYS = ("path",)


def _comparable(manifest, existing=None):
    """The entries that make a manifest; `existing`: the one on disk, compared in its own form (a
    manifest written before git captures were hashed lists bare paths, so the new one's are cut to
    paths, and re-running on such a backup stays "no change")."""
    comparable = dict((key, value) for key, value in manifest.items() if key not in ("created", "host"))
    old_files = ((existing or {}).get("git") or {}).get("files")
    new_files = (comparable.get("git") or {}).get("files")
    if old_files and new_files and all(isinstance(entry, str) for entry in old_files):
        comparable["git"] = dict(comparable["git"], files=[
            entry.get("path") if isinstance(entry, dict) else entry for entry in new_files])
    return comparable


def _hashed_git(git, backup_dir, check_mode):
    """git.files as [{path, sha256, bytes}]: a bare path is hashed here (left bare in check mode,
    where the role wrote no capture). Returns (git, problems)."""
    git = dict(git or {})
    problems = []
    files = []
    for entry in git.get("files") or ():
        if isinstance(entry, dict) or not isinstance(entry, str):
            files.append(entry)
            continue
        try:
            check_relpath(entry, "git.files")
        except ManifestError as exc:
            problems.append(str(exc))
            continue
        try:
            digest, size = hash_file(os.path.join(backup_dir, entry))
        except FileNotFoundError:
            if not check_mode:
                problems.append("%s: missing (git capture)" % entry)
            files.append(entry)
            continue
        except OSError as exc:
            problems.append("%s: cannot read the git capture (%s; a symlink is refused)" % (entry, exc.strerror))
            continue
        files.append({"path": entry, "sha256": digest, "bytes": size})
    if "files" in git:
        git["files"] = files
    return git, problems


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backup_dir=dict(type="path", required=True),
            backup_id=dict(type="str"),
            project=dict(type="str"),
            volumes=dict(type="list", elements="dict", default=[]),
            configs=dict(type="list", elements="dict", default=[]),
            images=dict(type="list", elements="dict", default=[]),
            git=dict(type="dict", default={}),
            host=dict(type="str"),
            check_hashes=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    backup_dir = os.path.abspath(params["backup_dir"])
    path = os.path.join(backup_dir, MANIFEST_NAME)
    volumes = [dict((k, v) for k, v in entry.items() if k not in _DROP_KEYS) for entry in params["volumes"]]
    git, git_problems = _hashed_git(params["git"], backup_dir, module.check_mode)
    if git_problems:
        module.fail_json(msg="refusing to commit the backup: %s" % "; ".join(git_problems), problems=git_problems,
                         manifest_path=path)
    try:
        manifest = build_manifest(params["backup_id"] or os.path.basename(backup_dir), params["project"],
                                  volumes, params["configs"], params["images"], git, params["host"])
    except ManifestError as exc:
        module.fail_json(msg="invalid manifest entries: %s" % exc, manifest_path=path)
    manifest = json.loads(json.dumps(manifest))  # the JSON form is what is written and compared
    if not os.path.isdir(backup_dir) or os.path.islink(backup_dir):
        module.fail_json(msg="backup_dir %s is not a directory" % backup_dir, manifest_path=path)
    existing = None
    if os.path.lexists(path):
        try:
            existing = load_manifest(backup_dir)
        except IncompleteBackup:
            existing = None
    if existing is not None:
        if _comparable(existing) == _comparable(manifest, existing):
            module.exit_json(changed=False, manifest=existing, manifest_path=path)
        module.fail_json(msg="%s already holds a complete manifest with different entries; a backup is immutable: "
                             "write a new backup directory instead" % backup_dir, manifest_path=path)
    problems = check_files(backup_dir, manifest)
    if not problems and params["check_hashes"]:
        for relpath, digest, size in manifest_files(manifest):
            ok, file_problems, dummy, dummy2 = verify_file(os.path.join(backup_dir, relpath), digest, size)
            problems.extend("%s: %s" % (relpath, text) for text in file_problems)
    if problems:
        module.fail_json(msg="refusing to commit the backup: %s" % "; ".join(problems), problems=problems,
                         manifest_path=path)
    if module.check_mode:
        module.exit_json(changed=True, manifest=manifest, manifest_path=path)
    try:
        written = write_backup_manifest(backup_dir, manifest)
    except OSError as exc:
        module.fail_json(msg="could not write the manifest: %s" % exc, manifest_path=path)
    module.exit_json(changed=True, manifest=manifest, manifest_path=path, files=list(written))


if __name__ == "__main__":
    main()
