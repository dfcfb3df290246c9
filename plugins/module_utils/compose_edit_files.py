# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file side of setting a healthcheck: which file, backup, atomic replace, override files, revert.

- `target_file(project, service)`: the file to edit - the last file (in merge order, following
  `include:`) that sets the service's healthcheck, else the last file that defines the service.
- `backup_path` / `write_backup`: the original is copied, byte for byte, under the backup
  directory at its path relative to the project directory (0600 file, 0700 directories).
  An existing backup is never overwritten: it holds the original from before the first edit.
- `replace_file`: the new text goes to a temp file in the same directory (same mode and owner),
  is fsynced and renamed over the original; a symlinked target is refused.
- `render_override`: an override file for `-f` that sets only healthcheck keys.
"""
from __future__ import annotations

import hashlib
import os
import stat
import tempfile

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_edit import (
    ComposeEditError,
    load_plain,
    normalize_changes,
    render_value,
    same_value,
)

OVERRIDE_HEADER = ("# Written by homeiq.phase0.compose_healthcheck: healthcheck overrides only.\n"
                   "# Use it as the last -f file (or in COMPOSE_FILE) after the project's own files.\n")


def target_file(project, service):
    """The compose file whose healthcheck keys decide the service's healthcheck."""
    source = project.service_sources.get(service)
    if source is None:
        raise ComposeEditError("service %r is not defined in the compose files of %s (%s)" % (
            service, project.name, ", ".join(project.files)))
    return source.healthcheck_file or source.files[-1]


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def _private_dirs(path):
    missing = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        if os.path.islink(current) or os.path.lexists(current):
            raise ComposeEditError("%s exists and is not a directory" % current)
        missing.append(current)
        current = os.path.dirname(current)
    for directory in reversed(missing):
        os.mkdir(directory, 0o700)
        os.chmod(directory, 0o700)


def backup_path(backup_dir, project_dir, file_path):
    """Where the backup of file_path goes: its path relative to the project dir, under backup_dir."""
    relative = os.path.relpath(os.path.abspath(file_path), os.path.abspath(project_dir))
    if relative.startswith(".."):
        relative = os.path.basename(file_path)
    return os.path.join(os.path.abspath(backup_dir), "compose_backup", relative)


def write_backup(path, data):
    """Write the original bytes once; an existing backup is kept (it is the older original)."""
    if os.path.lexists(path):
        if os.path.islink(path):
            raise ComposeEditError("refusing to write a backup through the symlink %s" % path)
        return False
    _private_dirs(os.path.dirname(path))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])
        os.fsync(fd)
    finally:
        os.close(fd)
    return True


def replace_file(path, data):
    """Atomically replace `path` with `data`, keeping its mode and owner; refuse a symlink."""
    if os.path.islink(path):
        raise ComposeEditError("refusing to replace %s: it is a symlink; edit its target %s instead" % (
            path, os.path.realpath(path)))
    try:
        info = os.stat(path)
        mode, uid, gid = stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid
    except FileNotFoundError:
        mode, uid, gid = 0o644, None, None
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".partial", dir=directory)
    try:
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:])
        os.fchmod(fd, mode)
        if uid is not None and os.geteuid() == 0:
            os.fchown(fd, uid, gid)
        os.fsync(fd)
        os.close(fd)
        fd = None
        os.replace(temp, path)
    except BaseException:
        if fd is not None:
            os.close(fd)
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_override(text):
    """The services mapping of one of our override files ({} for an empty or missing file)."""
    data = load_plain(text or "") or {}
    if not isinstance(data, dict) or not isinstance(data.get("services") or {}, dict):
        raise ComposeEditError("the override file is not a compose mapping with services")
    return data.get("services") or {}


def render_override(services):
    """Our override file's text for {service: {healthcheck: {...}}} (sorted, stable)."""
    lines = [OVERRIDE_HEADER.rstrip("\n"), "services:"]
    for name in sorted(services):
        healthcheck = (services[name] or {}).get("healthcheck") or {}
        lines.append("  %s:" % render_value("name", name))
        lines.append("    healthcheck:")
        for key in ("test", "interval", "timeout", "retries", "start_period", "start_interval"):
            if key in healthcheck:
                lines.append("      %s: %s" % (key, render_value(key, healthcheck[key])))
    return "\n".join(lines) + "\n"


def plan_override(existing_text, service, changes):
    """(new_text, changed, before, after) for setting `changes` on `service` in our override file."""
    changes = normalize_changes(changes)
    services = load_override(existing_text)
    before = dict((services.get(service) or {}).get("healthcheck") or {})
    after = dict(before)
    after.update(changes)
    changed = any(not same_value(k, before.get(k), v) for k, v in changes.items())
    if not changed:
        return existing_text, False, before, before
    services = dict(services)
    services[service] = {"healthcheck": after}
    return render_override(services), True, before, after
