# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The backup manifest: the commit point of a backup directory.

A backup directory (`backups/phase0_<YYYYmmdd_HHMMSS>/`) exists for restore, verify and
"latest" only when its `manifest.json` is complete. write_backup_manifest() writes SHA256SUMS
and MANIFEST.md first and manifest.json LAST, each atomically (atomic_file), so a crash at any
point leaves either no manifest or a complete one.

Interface:
    SCHEMA = 'homeiq.phase0/backup-manifest/v1';  MANIFEST_NAME, SUMS_NAME, GUIDE_NAME
    BACKUP_DIR_RE          phase0_YYYYmmdd_HHMMSS
    build_manifest(backup_id, project, volumes=(), configs=(), images=(), git=None, host=None,
                   created=None, extra=None) -> dict              (pure; validates the entries)
    manifest_files(manifest) -> [(relpath, sha256, bytes)]        every file the manifest covers
    render_sha256sums(manifest) -> str                           `sha256sum -c` format (pure)
    parse_sha256sums(text) -> [(sha256, relpath)]                 (pure; reads GNU escapes)
    render_guide(manifest, backup_dir) -> str                     MANIFEST.md (pure)
    rollback_command(project_dir, output_dir, backup_id, backup_root=None) -> str  the rollback.yml
        command line, with its rollback_confirm=true guard (pure; project_dir None -> '<project dir>')
    backup_root_option(backup_dir, output_dir) -> None (in <output_dir>/backups) or the backup's root
    check_relpath(path, what)   raises ManifestError unless path is relative and stays inside
    check_files(backup_dir, manifest) -> [problem strings]        files exist, sizes match
    write_backup_manifest(backup_dir, manifest) -> {path: written}   SHA256SUMS, MANIFEST.md, manifest.json
    load_manifest(backup_dir) -> dict; raises IncompleteBackup when missing/partial/invalid
    list_backups(backups_root) -> [{backup_id, path, created, complete, reason}], oldest first
    latest_backup(backups_root) -> path of the newest complete backup; raises IncompleteBackup
    resolve_backup_dir(backup_dir=None, backups_root=None, backup_id=None) -> path (latest when
        backup_id is None or 'latest')
    ManifestError(ValueError), IncompleteBackup(ManifestError)

Volume entries (from the volume_backup module) carry: name, archive (path relative to the
backup dir), sha256, bytes, compression, raw_sha256, raw_bytes, members, file_bytes, labels,
driver, consistency, and may carry more (warnings, helper_image, duration_s, ...).
git.files entries are {path, sha256, bytes} like config entries (covered by SHA256SUMS and
verify); bare paths, as manifests written before carried them, are accepted and not covered.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import socket
import time

from ansible_collections.homeiq.phase0.plugins.module_utils.atomic_file import write_file_atomic

SCHEMA = "homeiq.phase0/backup-manifest/v1"
MANIFEST_NAME = "manifest.json"
SUMS_NAME = "SHA256SUMS"
GUIDE_NAME = "MANIFEST.md"
BACKUP_DIR_RE = re.compile(r"^phase0_(\d{8})_(\d{6})$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

# What a restore of a volume archive made through the Engine API brings back (TARGETS 18, 21).
PRESERVES = {
    "uid": True, "gid": True, "mode": True, "mtime": "whole seconds", "hardlinks": True,
    "symlinks": True, "fifos": True, "devices": "only with allow_devices",
    "xattrs": False, "acls": False, "sparse": False,
}

VOLUME_REQUIRED = ("name", "archive", "sha256", "bytes", "labels", "driver", "consistency")
CONSISTENCY_VALUES = ("stop", "pause", "live", "idle", "none", "sqlite")


class ManifestError(ValueError):
    pass


class IncompleteBackup(ManifestError):
    """No complete manifest: the backup directory must be treated as nonexistent."""


def check_relpath(path, what):
    if not isinstance(path, str) or not path or path.startswith("/") or "\x00" in path \
            or ".." in path.split("/") or "\n" in path:
        raise ManifestError("%s must be a path relative to the backup directory, got %r" % (what, path))


def _check_file_entry(entry, what, path_key):
    check_relpath(entry.get(path_key), "%s.%s" % (what, path_key))
    if not _HEX64.match(str(entry.get("sha256", ""))):
        raise ManifestError("%s.sha256 must be 64 lowercase hex digits" % what)
    if not isinstance(entry.get("bytes"), int) or entry["bytes"] < 0:
        raise ManifestError("%s.bytes must be a non-negative integer" % what)


def _check_volume(entry, index):
    what = "volumes[%d]" % index
    if not isinstance(entry, dict):
        raise ManifestError("%s must be a dict" % what)
    missing = [key for key in VOLUME_REQUIRED if key not in entry]
    if missing:
        raise ManifestError("%s (%s) lacks %s" % (what, entry.get("name"), ", ".join(missing)))
    _check_file_entry(entry, what, "archive")
    if entry["consistency"] not in CONSISTENCY_VALUES:
        raise ManifestError("%s.consistency must be one of %s" % (what, ", ".join(CONSISTENCY_VALUES)))


def build_manifest(backup_id, project, volumes=(), configs=(), images=(), git=None, host=None,
                   created=None, extra=None):
    if not BACKUP_DIR_RE.match(str(backup_id or "")):
        raise ManifestError("backup_id must look like phase0_YYYYmmdd_HHMMSS, got %r" % backup_id)
    volumes = [dict(entry) for entry in (volumes or ())]
    for index, entry in enumerate(volumes):
        _check_volume(entry, index)
    configs = [dict(entry) for entry in (configs or ())]
    for index, entry in enumerate(configs):
        _check_file_entry(entry, "configs[%d]" % index, "path")
    git = dict(git or {})
    if git.get("files") is not None:
        git["files"] = [dict(entry) if isinstance(entry, dict) else entry for entry in git["files"]]
        for index, entry in enumerate(git["files"]):
            if isinstance(entry, dict):
                _check_file_entry(entry, "git.files[%d]" % index, "path")
            else:
                check_relpath(entry, "git.files[%d]" % index)
    images = [dict(entry) for entry in (images or ())]
    for index, entry in enumerate(images):
        for key in ("repository", "tag", "id", "snapshot_tag"):
            if key not in entry:
                raise ManifestError("images[%d] lacks %s" % (index, key))
        if entry.get("archive") is not None:
            _check_file_entry(entry, "images[%d]" % index, "archive")
    names = [entry["archive"] for entry in volumes] + [entry["path"] for entry in configs] + \
        [entry["archive"] for entry in images if entry.get("archive")] + \
        [entry["path"] for entry in git.get("files") or () if isinstance(entry, dict)]
    duplicates = sorted(set(name for name in names if names.count(name) > 1))
    if duplicates:
        raise ManifestError("two entries name the same file: %s" % ", ".join(duplicates))
    manifest = {
        "schema": SCHEMA,
        "backup_id": backup_id,
        "created": created or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": host or socket.gethostname(),
        "project": project,
        "volumes": volumes,
        "configs": configs,
        "images": images,
        "git": git,
        "preserves": dict(PRESERVES),
    }
    manifest.update(extra or {})
    manifest["complete"] = True
    return manifest


def manifest_files(manifest):
    files = []
    for entry in manifest.get("volumes", ()):
        files.append((entry["archive"], entry["sha256"], entry["bytes"]))
    for entry in manifest.get("configs", ()):
        files.append((entry["path"], entry["sha256"], entry["bytes"]))
    for entry in manifest.get("images", ()):
        if entry.get("archive"):
            files.append((entry["archive"], entry["sha256"], entry["bytes"]))
    # The git captures; a manifest written before they were hashed lists bare paths.
    for entry in (manifest.get("git") or {}).get("files") or ():
        if isinstance(entry, dict):
            files.append((entry["path"], entry["sha256"], entry["bytes"]))
    return files


def _escape_sum_name(name):
    if "\\" in name or "\n" in name:
        return True, name.replace("\\", "\\\\").replace("\n", "\\n")
    return False, name


def render_sha256sums(manifest):
    lines = []
    for path, digest, dummy in sorted(manifest_files(manifest)):
        escaped, name = _escape_sum_name(path)
        lines.append("%s%s  %s\n" % ("\\" if escaped else "", digest, name))
    return "".join(lines)


def parse_sha256sums(text):
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        escaped = line.startswith("\\")
        if escaped:
            line = line[1:]
        match = re.match(r"^([0-9a-fA-F]{64}) [ *](.+)$", line)
        if not match:
            raise ManifestError("SHA256SUMS line %d is not '<sha256>  <path>'" % number)
        name = match.group(2)
        if escaped:
            name = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), name)
        entries.append((match.group(1).lower(), name))
    return entries


def _q(value):
    return shlex.quote(str(value))


ROLLBACK_PLAYBOOK = "homeiq.phase0.rollback"
PROJECT_DIR_PLACEHOLDER = "<project dir>"


def rollback_command(project_dir, output_dir, backup_id, backup_root=None):
    """The command line that rolls back to backup_id - the one playbooks/rollback.yml accepts.

    rollback.yml refuses to run without -e rollback_confirm=true (its only guard), so the switch is part
    of the command. project_dir None stands for a project directory the caller does not know: the
    '<project dir>' placeholder, for a person to fill in; output_dir None leaves phase0_output_dir to its
    default (the project directory); backup_root (the directory holding the backup, when it is not
    <output_dir>/backups, the role's default) goes as restore_backup_root. Plain values go as -e key=value; when a value
    needs shell quoting (spaces, quotes, ...), the variables go as one JSON -e argument, which
    ansible-playbook reads as they are (key=value would split them at the space).
    """
    extra = [("phase0_project_dir", PROJECT_DIR_PLACEHOLDER if project_dir is None else str(project_dir)),
             ("phase0_output_dir", None if output_dir is None else str(output_dir)),
             ("phase0_backup_id", str(backup_id)),
             ("restore_backup_root", None if backup_root is None else str(backup_root))]
    extra = [(key, value) for key, value in extra if value is not None]
    if all(_q(value) == value for key, value in extra if value != PROJECT_DIR_PLACEHOLDER):
        args = " ".join("-e %s=%s" % item for item in extra) + " -e rollback_confirm=true"
    else:
        data = dict(extra, rollback_confirm=True)
        args = "-e %s" % _q(json.dumps(data))
    return "ansible-playbook %s %s" % (ROLLBACK_PLAYBOOK, args)


def backup_root_option(backup_dir, output_dir):
    """restore_backup_root for a rollback to backup_dir: None when it is in <output_dir>/backups (the
    role's default, which rollback.yml finds from phase0_output_dir), else the directory holding it."""
    if not backup_dir:
        return None
    root = os.path.dirname(os.path.abspath(backup_dir))
    if output_dir and root == os.path.join(os.path.abspath(output_dir), "backups"):
        return None
    return root


def _guide_rollback_command(backup_dir, backup_id):
    """The guide knows where the backup is, not the project: <output_dir>/backups/<id> is the role's
    default layout; a backup anywhere else is named by its own root (restore_backup_root)."""
    root = os.path.dirname(os.path.abspath(backup_dir))
    output_dir = os.path.dirname(root) if os.path.basename(root) == "backups" else None
    return rollback_command(None, output_dir, backup_id, backup_root=backup_root_option(backup_dir, output_dir))


def render_guide(manifest, backup_dir):
    """MANIFEST.md: what the backup holds and the exact commands to verify and restore it."""
    bid = manifest["backup_id"]
    project = manifest.get("project") or "(volumes given explicitly)"
    out = [
        "# Backup %s" % bid, "",
        "Generated from `manifest.json` (schema `%s`). The manifest is the commit point: this" % SCHEMA,
        "directory is a complete backup only while `manifest.json` is present and says `complete: true`.", "",
        "- Project: `%s`" % project,
        "- Created: %s on host `%s`" % (manifest.get("created"), manifest.get("host")),
        "- Volumes: %d, configs: %d, images: %d" % (len(manifest.get("volumes", ())),
                                                    len(manifest.get("configs", ())),
                                                    len(manifest.get("images", ()))),
        "",
        "## Verify", "",
        "```sh",
        "cd %s" % _q(backup_dir),
        "sha256sum -c %s" % SUMS_NAME,
        "ansible localhost -m homeiq.phase0.backup_verify -a %s" % _q("backup_dir=%s mode=full" % backup_dir),
        "```", "",
        "## Restore everything", "",
        "```sh",
        _guide_rollback_command(backup_dir, bid),
        "```", "",
        "Put the compose project's directory in place of `%s`." % PROJECT_DIR_PLACEHOLDER, "",
    ]
    volumes = manifest.get("volumes", ())
    if volumes:
        out += [
            "## Volumes", "",
            "| volume | archive | bytes | raw bytes | members | consistency | driver |",
            "|---|---|---:|---:|---:|---|---|",
        ]
        for entry in volumes:
            out.append("| `%s` | `%s` | %s | %s | %s | %s | %s |" % (
                entry["name"], entry["archive"], entry["bytes"], entry.get("raw_bytes", "?"),
                entry.get("members", "?"), entry["consistency"], entry.get("driver", "?")))
        out += [
            "",
            "### Restore one volume by hand", "",
            "Stop the containers using the volume first. Archives hold the volume root as `./`,",
            "with numeric owners; restore into an empty volume:", "",
        ]
        for entry in volumes:
            image = entry.get("helper_image") or "<an image with tar>"
            decompress = {"zstd": "zstd -dc", "gzip": "gzip -dc"}.get(entry.get("compression"), "cat")
            out += [
                "```sh",
                "# %s" % entry["name"],
                "docker volume create %s" % _q(entry["name"]),
                "%s %s | docker run --rm -i --network none -v %s:/data %s tar -xpf - --numeric-owner -C /data" % (
                    decompress, _q(os.path.join(backup_dir, entry["archive"])), _q(entry["name"]), _q(image)),
                "```",
            ]
        out.append("")
    configs = manifest.get("configs", ())
    if configs:
        out += ["## Configs", ""]
        out += ["- `%s` (%s bytes)%s" % (entry["path"], entry["bytes"],
                                         " from `%s`" % entry["source"] if entry.get("source") else "")
                for entry in configs]
        out.append("")
    images = manifest.get("images", ())
    if images:
        out += ["## Images", "", "| image | id | snapshot tag |", "|---|---|---|"]
        out += ["| `%s:%s` | `%s` | `%s` |" % (entry["repository"], entry["tag"], entry["id"], entry["snapshot_tag"])
                for entry in images]
        out += ["", "Put an image back: `docker tag <snapshot tag> <repository>:<tag>`.", ""]
    warned = [entry for entry in volumes if entry.get("consistency") in ("live", "none")]
    if warned:
        out += ["## Warnings", ""]
        out += ["- `%s` was copied while in use (`consistency: %s`): the copy may not be "
                "crash-consistent." % (entry["name"], entry["consistency"]) for entry in warned]
        out.append("")
    preserves = manifest.get("preserves") or {}
    if preserves:
        out += ["## What a restore preserves", ""]
        out += ["- %s: %s" % (key, value) for key, value in sorted(preserves.items())]
        out.append("")
    return "\n".join(out)


def check_files(backup_dir, manifest):
    problems = []
    for path, dummy, size in manifest_files(manifest):
        full = os.path.join(backup_dir, path)
        try:
            info = os.lstat(full)
        except FileNotFoundError:
            problems.append("%s: missing" % path)
            continue
        if not os.path.isfile(full) or os.path.islink(full):
            problems.append("%s: not a regular file" % path)
        elif info.st_size != size:
            problems.append("%s: %d bytes on disk, the entry says %d" % (path, info.st_size, size))
    return problems


def write_backup_manifest(backup_dir, manifest):
    """SHA256SUMS, MANIFEST.md, then manifest.json (the commit point), each atomic, 0600."""
    written = {}
    sums = os.path.join(backup_dir, SUMS_NAME)
    guide = os.path.join(backup_dir, GUIDE_NAME)
    final = os.path.join(backup_dir, MANIFEST_NAME)
    written[sums] = write_file_atomic(sums, render_sha256sums(manifest))
    written[guide] = write_file_atomic(guide, render_guide(manifest, backup_dir))
    body = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    written[final] = write_file_atomic(final, body)
    return written


def load_manifest(backup_dir):
    path = os.path.join(backup_dir, MANIFEST_NAME)
    if os.path.islink(path):
        raise IncompleteBackup("%s is a symlink; refusing it" % path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(64 << 20)
    except FileNotFoundError:
        raise IncompleteBackup("%s has no %s: the backup is incomplete and does not count"
                               % (backup_dir, MANIFEST_NAME))
    except OSError as exc:
        raise IncompleteBackup("cannot read %s: %s" % (path, exc))
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise IncompleteBackup("%s is not valid JSON (%s): the backup is incomplete" % (path, exc))
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise IncompleteBackup("%s does not have schema %s" % (path, SCHEMA))
    if manifest.get("complete") is not True:
        raise IncompleteBackup("%s does not say complete: true" % path)
    return manifest


def list_backups(backups_root):
    found = []
    try:
        names = sorted(os.listdir(backups_root))
    except FileNotFoundError:
        return found
    for name in names:
        match = BACKUP_DIR_RE.match(name)
        path = os.path.join(backups_root, name)
        if not match or os.path.islink(path) or not os.path.isdir(path):
            continue
        item = {"backup_id": name, "path": path, "complete": True, "reason": None, "created": None}
        try:
            manifest = load_manifest(path)
            item["created"] = manifest.get("created")
            if manifest.get("backup_id") != name:
                item.update(complete=False, reason="manifest names backup %r" % manifest.get("backup_id"))
        except IncompleteBackup as exc:
            item.update(complete=False, reason=str(exc))
        found.append(item)
    return found


def latest_backup(backups_root):
    complete = [item for item in list_backups(backups_root) if item["complete"]]
    if not complete:
        raise IncompleteBackup("no complete backup (with %s) under %s" % (MANIFEST_NAME, backups_root))
    return complete[-1]["path"]


def resolve_backup_dir(backup_dir=None, backups_root=None, backup_id=None):
    if backup_dir:
        return os.path.abspath(backup_dir)
    if not backups_root:
        raise ManifestError("give backup_dir, or backups_root with backup_id (or latest)")
    if backup_id in (None, "", "latest"):
        return latest_backup(backups_root)
    if not BACKUP_DIR_RE.match(backup_id):
        raise ManifestError("backup_id must look like phase0_YYYYmmdd_HHMMSS or be 'latest', got %r" % backup_id)
    return os.path.join(os.path.abspath(backups_root), backup_id)
