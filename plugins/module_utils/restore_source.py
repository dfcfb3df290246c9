# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup a restore reads: its complete manifest and the archive files it names.

A backup directory without a complete manifest.json does not exist for restore (manifest.py
decides what is complete; this module only adds what restore needs on top).

Interface:
    load_backup(backup_dir) -> manifest dict; raises BackupUnavailable (missing, unreadable,
        wrong schema, or `complete` not true)
    archive_path(backup_dir, relative) -> absolute path of an archive inside the backup; raises
        BackupUnavailable for a path that leaves the backup directory, a symlink, or a missing file
    expected_from_entry(entry) -> the manifest values a scan is compared with
    complete_backups(backup_root) -> [(backup_id, backup_dir)] of backups with a complete manifest,
        oldest first (ids are phase0_<YYYYmmdd_HHMMSS>, so name order is time order)
    resolve_backup(backup_root, backup_id=None) -> (backup_id, backup_dir); the newest complete
        one when backup_id is empty; raises BackupUnavailable naming what exists
    manifest_summary(manifest) -> the parts a playbook needs (ids, project, volume names, configs, images)
"""
from __future__ import annotations

import os
import stat

from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import (
    IncompleteBackup, list_backups, load_manifest)

_EXPECTED_KEYS = (("sha256", "sha256"), ("bytes", "bytes"), ("raw_sha256", "raw_sha256"),
                  ("raw_bytes", "raw_bytes"), ("members", "members"), ("file_bytes", "file_bytes"))


class BackupUnavailable(ValueError):
    pass


def load_backup(backup_dir):
    try:
        return load_manifest(backup_dir)
    except IncompleteBackup as exc:
        raise BackupUnavailable("%s; an incomplete backup is never used for restore" % exc)


def archive_path(backup_dir, relative):
    if not relative or os.path.isabs(relative) or ".." in relative.replace("\\", "/").split("/"):
        raise BackupUnavailable("archive path %r in the manifest leaves the backup directory" % relative)
    path = os.path.join(os.path.abspath(backup_dir), relative)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise BackupUnavailable("archive %s named by the manifest is missing" % path)
    if not stat.S_ISREG(info.st_mode):
        raise BackupUnavailable("archive %s is not a regular file (symlinks are refused)" % path)
    return path


def expected_from_entry(entry):
    return dict((key, entry[field]) for key, field in _EXPECTED_KEYS if entry.get(field) is not None)


def complete_backups(backup_root):
    return [(item["backup_id"], item["path"]) for item in list_backups(backup_root) if item["complete"]]


def resolve_backup(backup_root, backup_id=None):
    backups = complete_backups(backup_root)
    if backup_id and backup_id != "latest":
        for name, path in backups:
            if name == backup_id:
                return name, path
        raise BackupUnavailable("backup %s is not a complete backup under %s (complete ones: %s)"
                                % (backup_id, backup_root, ", ".join(n for n, _p in backups) or "none"))
    if not backups:
        raise BackupUnavailable("no complete backup under %s (a backup without a complete manifest.json "
                                "does not count)" % backup_root)
    return backups[-1]


def manifest_summary(manifest):
    return {
        "backup_id": manifest.get("backup_id"), "created": manifest.get("created"),
        "project": manifest.get("project"), "host": manifest.get("host"),
        "volumes": [v.get("name") for v in manifest.get("volumes") or []],
        "configs": manifest.get("configs") or [], "images": manifest.get("images") or [],
    }
