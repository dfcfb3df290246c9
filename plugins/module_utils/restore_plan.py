# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What volume_restore will do with each volume, decided before anything is written. Pure.

Interface:
    select_entries(manifest_volumes, names=None, volume_map=None) -> list of (entry, target_name)
        raises ValueError naming volumes asked for that the manifest does not have.
    plan_volume(target_name, state, replace, running_users=(), driver_options=None)
        -> dict(action, changed, problem)
        state: 'missing' | 'empty' | 'same' (holds exactly the archive's tree) | 'different'
        driver_options: the backup's recorded options; a missing volume whose options had a
        secret withheld (volume_options.creation_problem) is 'blocked', not created without it.
        action: 'create' | 'fill' | 'replace' | 'unchanged' | 'blocked' | 'busy'
        problem: the message for the user when the action is 'blocked' or 'busy', else None.
    choose_method(requested, host_ok, host_reason) -> (method, reason)
        requested: 'auto' | 'api' | 'host'; raises ValueError when 'host' is asked for but impossible.
    host_path_problem(is_root, endpoint, volume, remaps_ids=False, mountinfo='') -> None or the reason
        the host fast path cannot be used (host_volume's checks; remaps_ids: the engine runs with
        userns-remap or rootless, so host ids in the directory are not the archive's container ids;
        None: unknown; mountinfo: host_volume.read_mountinfo, for an existing volume's Mountpoint,
        which must have no mount at or inside it)
    staging_volume_name(target, run_id) -> str
    compose_labels_missing(labels) -> list of the Compose labels an entry lacks
"""
from __future__ import annotations

from ansible_collections.homeiq.phase0.plugins.module_utils.host_volume import (
    engine_refusal, mounts_refusal, volume_refusal)
from ansible_collections.homeiq.phase0.plugins.module_utils.volume_options import creation_problem

COMPOSE_LABELS = ("com.docker.compose.project", "com.docker.compose.volume", "com.docker.compose.version")
STAGING_LABEL = "homeiq.phase0.restore-staging"
HELPER_LABEL = "homeiq.phase0.restore-helper"


def select_entries(manifest_volumes, names=None, volume_map=None):
    by_name = dict((entry["name"], entry) for entry in manifest_volumes)
    wanted = list(names) if names else sorted(by_name)
    missing = [name for name in wanted if name not in by_name]
    if missing:
        raise ValueError("the backup has no volume named %s (it has: %s)"
                         % (", ".join(missing), ", ".join(sorted(by_name)) or "none"))
    mapping = volume_map or {}
    unknown = sorted(set(mapping) - set(by_name))
    if unknown:
        raise ValueError("volume_map names volumes the backup does not have: %s" % ", ".join(unknown))
    return [(by_name[name], mapping.get(name) or name) for name in wanted]


def plan_volume(target_name, state, replace, running_users=(), driver_options=None):
    if state == "same":
        return {"action": "unchanged", "changed": False, "problem": None}
    if running_users:
        return {"action": "busy", "changed": False,
                "problem": "volume %s is in use by running container(s) %s: stop them first (the restore "
                           "role stops the stack)" % (target_name, ", ".join(sorted(running_users)))}
    if state == "missing":
        problem = creation_problem(target_name, driver_options)
        if problem is not None:
            return {"action": "blocked", "changed": False, "problem": problem}
        return {"action": "create", "changed": True, "problem": None}
    if state == "empty":
        return {"action": "fill", "changed": True, "problem": None}
    if replace:
        return {"action": "replace", "changed": True, "problem": None}
    return {"action": "blocked", "changed": False,
            "problem": "volume %s is not empty and differs from the backup; restoring would replace its "
                       "content. Set replace: true (role variable restore_replace_volumes: true) to "
                       "replace it" % target_name}


def host_path_problem(is_root, endpoint, volume, remaps_ids=False, mountinfo=""):
    refusal = engine_refusal(0 if is_root else None, (endpoint or "").startswith("unix://"), remaps_ids,
                             "docker_host %s" % endpoint)
    if refusal is not None or volume is None:
        return refusal
    refusal = volume_refusal(volume.get("Driver"), volume.get("Options"))
    if refusal is None and volume.get("Mountpoint"):
        # The swap renames the volume's directory: a mount at it cannot be renamed, and one inside
        # it would go with the old content, which is then deleted.
        refusal = mounts_refusal(volume["Mountpoint"], mountinfo, include_self=True)
    return refusal


def choose_method(requested, host_ok, host_reason):
    if requested == "api":
        return "api", "requested"
    if host_ok:
        return "host", "running as root on the engine host"
    if requested == "host":
        raise ValueError("method=host is not possible here: %s" % host_reason)
    return "api", host_reason


def staging_volume_name(target, run_id):
    return "%s-p0restore-%s" % (target, run_id)


def compose_labels_missing(labels):
    labels = labels or {}
    return [label for label in COMPOSE_LABELS if not labels.get(label)]
