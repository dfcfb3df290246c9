# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide what a volume backup will do, before it touches anything. Pure functions, no I/O.

Interface:
    PROJECT_LABEL = 'com.docker.compose.project'; COMPOSE_VOLUME_LABEL = 'com.docker.compose.volume'
    CONSISTENCY_LABEL = 'homeiq.phase0.consistency'; OFFEN_STOP_LABEL = 'docker-volume-backup.stop-during-backup'
    PRE_HOOK_LABELS = ('homeiq.phase0.backup-pre', 'docker-volume-backup.archive-pre')
    select_volumes(all_volumes, project=None, names=None, exclude=()) -> (selected, excluded, missing)
        all_volumes: volume dicts as the Engine lists them (Name, Driver, Labels, Mountpoint, ...).
        names given: exactly those (missing lists absent names); else every volume labelled with
        the project. exclude: fnmatch patterns on the full name or the compose short name.
    container_method(container, option) -> (method, warning or None)   method: stop|pause|live
        option auto: the container's homeiq.phase0.consistency label, else stop for
        docker-volume-backup.stop-during-backup=true, live for an explicit =false (with a warning),
        else stop (the default for a running container that mounts the volume read-write). An
        explicit option wins over labels.
    plan_backup(volumes, containers, option='auto', sizes=None, compression='zstd',
                volumes_subdir='volumes') -> plan dict:
        {volumes: [{name, archive, driver, labels, options (volume_options.record_driver_options), mountpoint,
                     estimated_bytes, consistency,
                    writers: [{id, name, method, state}], warnings}],
         groups: [{volumes: [...], stop: [ids], pause: [ids], hooks: [{id, name, command}]}],
         containers: {id: {id, name, image, image_id, labels, state}}, warnings: [...]}
        containers: the Engine's container list entries (/containers/json?all=1: Id, Names,
        Image, ImageID, State, Labels, Mounts[{Type, Name, RW}]).
        A group is a set of volumes whose containers must be stopped/paused together: a
        container that mounts two volumes is stopped once, not twice.
    consistency_of(writers) -> stop|pause|live|idle    (the weakest guarantee among writers)
    space_problem(free_bytes, estimated_bytes, margin) -> message or None
    archive_name(volume, compression) -> 'volumes/<volume>.tar.zst'
    sqlite_files(names) -> names that look like SQLite databases or their WAL/journal files
    health_verdict(before, outcome) -> (ok, warning or None)
        before: the container's health when it was stopped (healthy, unhealthy, starting, or None
        without a healthcheck); outcome: wait_healthy's {status, health, running}. A container only
        has to come back to the health it had: healthy before -> healthy; no healthcheck -> running;
        not yet healthy before (unhealthy or starting) -> running again, and still unhealthy (or not
        yet decided) is a warning, not a failure. Exited, paused or an error always fails.
"""
from __future__ import annotations

import fnmatch
import posixpath

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import EXTENSIONS
from ansible_collections.homeiq.phase0.plugins.module_utils.volume_options import record_driver_options

PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_VOLUME_LABEL = "com.docker.compose.volume"
CONSISTENCY_LABEL = "homeiq.phase0.consistency"
OFFEN_STOP_LABEL = "docker-volume-backup.stop-during-backup"
PRE_HOOK_LABELS = ("homeiq.phase0.backup-pre", "docker-volume-backup.archive-pre")
METHODS = ("stop", "pause", "live")
_FALSE_WORDS = ("false", "0", "no", "off")
_STRENGTH = {"live": 0, "pause": 1, "stop": 2}
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3", ".db3")
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
_SQLITE_NAMES = _SQLITE_SUFFIXES + _SQLITE_SIDE_FILES  # one endswith() per tar member


def short_name(volume):
    labels = volume.get("Labels") or {}
    return labels.get(COMPOSE_VOLUME_LABEL) or volume["Name"]


def select_volumes(all_volumes, project=None, names=None, exclude=()):
    by_name = dict((volume["Name"], volume) for volume in all_volumes)
    missing = []
    if names:
        chosen = []
        for name in names:
            if name in by_name:
                chosen.append(by_name[name])
            else:
                missing.append(name)
    else:
        chosen = [volume for volume in all_volumes
                  if (volume.get("Labels") or {}).get(PROJECT_LABEL) == project]
    selected, excluded = [], []
    for volume in sorted(chosen, key=lambda item: item["Name"]):
        if any(fnmatch.fnmatchcase(volume["Name"], pattern) or fnmatch.fnmatchcase(short_name(volume), pattern)
               for pattern in exclude or ()):
            excluded.append(volume["Name"])
        else:
            selected.append(volume)
    return selected, excluded, missing


def container_name(container):
    names = container.get("Names") or [container.get("Name") or container.get("Id", "")[:12]]
    return names[0].lstrip("/")


def container_method(container, option):
    if option in METHODS:
        return option, None
    labels = container.get("Labels") or {}
    wanted = labels.get(CONSISTENCY_LABEL)
    if wanted is not None:
        if wanted.strip().lower() in METHODS:
            return wanted.strip().lower(), None
        return "stop", ("container %s: label %s=%r is not one of stop, pause, live; using stop"
                        % (container_name(container), CONSISTENCY_LABEL, wanted))
    offen = labels.get(OFFEN_STOP_LABEL)
    if offen is not None and str(offen).strip().lower() in _FALSE_WORDS:
        # offen/docker-volume-backup stops only the containers that carry this label; an explicit
        # `false` is the operator saying "never stop this one", so it is copied live, and said so.
        return "live", ("container %s: label %s=%s keeps it running during the backup (consistency: live)"
                        % (container_name(container), OFFEN_STOP_LABEL, offen))
    # `true` (or an offen group name) and no label at all both mean stop, this collection's default.
    return "stop", None


def consistency_of(writers):
    active = [writer for writer in writers if writer["state"] in ("running", "paused", "restarting")]
    if not active:
        return "idle"
    weakest = min(active, key=lambda writer: _STRENGTH[writer["method"]])
    return weakest["method"]


def archive_name(volume_name, compression, volumes_subdir="volumes"):
    return posixpath.join(volumes_subdir, volume_name + EXTENSIONS[compression])


def _writes_to(container, volume_name):
    for mount in container.get("Mounts") or ():
        if mount.get("Type") == "volume" and mount.get("Name") == volume_name and mount.get("RW", True):
            return True
    return False


def _pre_hook(container):
    labels = container.get("Labels") or {}
    for key in PRE_HOOK_LABELS:
        if labels.get(key):
            return labels[key]
    return None


def plan_backup(volumes, containers, option="auto", sizes=None, compression="zstd", volumes_subdir="volumes"):
    sizes = sizes or {}
    warnings = []
    known = {}
    plans = []
    for volume in volumes:
        name = volume["Name"]
        writers = []
        for container in containers:
            state = container.get("State")
            if state not in ("running", "paused", "restarting") or not _writes_to(container, name):
                continue
            method, warning = container_method(container, option)
            if warning and warning not in warnings:
                warnings.append(warning)
            if state == "paused":
                # Already frozen by someone else: we neither pause nor unpause it.
                method = "pause" if method != "live" else "live"
            writers.append({"id": container["Id"], "name": container_name(container), "method": method,
                            "state": state, "touch": state != "paused" and method != "live"})
            known[container["Id"]] = {
                "id": container["Id"], "name": container_name(container), "image": container.get("Image"),
                "image_id": container.get("ImageID"), "labels": container.get("Labels") or {}, "state": state,
                "pre_hook": _pre_hook(container)}
        consistency = consistency_of(writers)
        volume_warnings = []
        live = [writer["name"] for writer in writers if writer["method"] == "live"]
        if live:
            volume_warnings.append("volume %s is copied while %s keep(s) running and writing to it "
                                   "(consistency: live); the copy may not be crash-consistent"
                                   % (name, ", ".join(live)))
        plans.append({
            "name": name, "archive": archive_name(name, compression, volumes_subdir),
            "driver": volume.get("Driver"), "labels": volume.get("Labels") or {},
            "mountpoint": volume.get("Mountpoint"),
            # Recorded so a restore can recreate the volume as it was (secret values withheld); the host
            # path's check reads it too (a volume with options is a mount made while a container runs).
            "options": record_driver_options(volume.get("Options")),
            "estimated_bytes": sizes.get(name),
            "consistency": consistency, "writers": writers, "warnings": volume_warnings,
        })
    return {"volumes": plans, "groups": _groups(plans, known), "containers": known, "warnings": warnings}


def _groups(plans, known):
    """Union volumes that share a container we stop or pause; keep the volumes' order."""
    parent = list(range(len(plans)))

    def find(index):
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    owner = {}
    for index, plan in enumerate(plans):
        for writer in plan["writers"]:
            if not writer["touch"]:
                continue
            if writer["id"] in owner:
                parent[find(index)] = find(owner[writer["id"]])
            else:
                owner[writer["id"]] = index
    grouped = {}
    order = []
    for index in range(len(plans)):
        root = find(index)
        if root not in grouped:
            grouped[root] = []
            order.append(root)
        grouped[root].append(index)
    groups = []
    for root in order:
        members = [plans[index] for index in grouped[root]]
        stop, pause, hooks = [], [], []
        for plan in members:
            for writer in plan["writers"]:
                if not writer["touch"]:
                    continue
                target = stop if writer["method"] == "stop" else pause
                if writer["id"] not in stop and writer["id"] not in pause:
                    target.append(writer["id"])
                    hook = known[writer["id"]]["pre_hook"]
                    if hook:
                        hooks.append({"id": writer["id"], "name": writer["name"], "command": hook})
        groups.append({"volumes": [plan["name"] for plan in members], "stop": stop, "pause": pause,
                       "hooks": hooks})
    return groups


def space_problem(free_bytes, estimated_bytes, margin):
    """A refusal message when free space is below estimate x margin, else None."""
    if not margin or estimated_bytes is None:
        return None
    needed = int(estimated_bytes * float(margin))
    if free_bytes >= needed:
        return None
    return ("not enough free space for the backup: need %d bytes (estimated volume data %d bytes x "
            "space_margin %s) but only %d bytes are free at the output directory"
            % (needed, estimated_bytes, margin, free_bytes))


def sqlite_files(names):
    found = []
    lowered = [(name, name.lower()) for name in names]
    for name, low in lowered:
        if low.endswith(_SQLITE_NAMES):
            found.append(name)
    return found


def has_live_wal(names):
    """True when the names include a SQLite WAL file (a database in WAL mode with pending pages)."""
    return any(name.lower().endswith("-wal") for name in names)


_NOT_HEALTHY_BEFORE = ("unhealthy", "starting")


def health_verdict(before, outcome):
    """Did a restarted container come back to the health it had before the backup? (ok, warning)."""
    status = outcome.get("status")
    name = outcome.get("name") or outcome.get("id") or "container"
    if status in ("healthy", "running"):
        return True, None
    if before in _NOT_HEALTHY_BEFORE and outcome.get("running") and status in ("unhealthy", "timeout"):
        now = "unhealthy" if status == "unhealthy" else "still %s" % (outcome.get("health") or "starting")
        return True, ("container %s was already %s before the backup and is %s after its restart "
                      "(running again; not a failure of the backup)" % (name, before, now))
    return False, None
