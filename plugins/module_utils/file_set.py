# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install a set of small files under one directory in one go (one module run instead of one per file).

Interface:
    plan_file_set(dest_dir, files) -> list of {path, full_path, mode, action}   (reads only)
        files: [{path (relative, no '..'), content (str), mode ('0644' or int)}]
        action: create | update | chmod | none
    apply_file_set(plan, files) -> None   writes create/update atomically, chmods the rest
    FileSetError: a path that is absolute, climbs out of dest_dir or is a symlink
"""
from __future__ import annotations

import os
import stat

from ansible_collections.homeiq.phase0.plugins.module_utils.atomic_file import ensure_private_dir, write_file_atomic


class FileSetError(ValueError):
    pass


def _mode(value):
    if isinstance(value, int):
        return value
    return int(str(value), 8)


def _target(dest_dir, relpath):
    if not relpath or os.path.isabs(relpath) or ".." in relpath.replace("\\", "/").split("/"):
        raise FileSetError("file path %r must be relative to dest_dir and must not contain '..'" % relpath)
    return os.path.join(dest_dir, os.path.normpath(relpath))


def plan_file_set(dest_dir, files):
    plan = []
    for item in files:
        full = _target(dest_dir, item["path"])
        mode = _mode(item.get("mode") or "0644")
        data = item["content"].encode("utf-8")
        action = "create"
        if os.path.islink(full):
            raise FileSetError("%s is a symlink; refusing to write through it" % full)
        if os.path.exists(full):
            with open(full, "rb") as handle:
                same = handle.read(len(data) + 1) == data
            current = stat.S_IMODE(os.stat(full).st_mode)
            action = "update" if not same else ("chmod" if current != mode else "none")
        plan.append({"path": item["path"], "full_path": full, "mode": "%04o" % mode, "action": action})
    return plan


def apply_file_set(plan, files, dir_mode=0o755):
    contents = dict((item["path"], item["content"]) for item in files)
    for entry in plan:
        if entry["action"] == "none":
            continue
        ensure_private_dir(os.path.dirname(entry["full_path"]), mode=dir_mode)
        if entry["action"] in ("create", "update"):
            write_file_atomic(entry["full_path"], contents[entry["path"]], mode=_mode(entry["mode"]))
        else:
            os.chmod(entry["full_path"], _mode(entry["mode"]))
