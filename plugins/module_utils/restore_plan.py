# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What volume_restore will do with each volume, decided before anything is written. Pure.

Interface:
    select_entries(manifest_volumes, names=None, volume_map=None) -> list of (entry, target_name)
        raises ValueError naming volumes asked for that the manifest does not have.
    plan_volume(target_name, state, replace, running_users=()) -> dict(action, changed, problem)
        state: 'missing' | 'empty' | 'same' (holds exactly the archive's tree) | 'different'
        action: 'create' | 'fill' | 'replace' | 'unchanged' | 'blocked' | 'busy'
        problem: the message for the user when the action is 'blocked' or 'busy', else None.
    choose_method(requested, host_ok, host_reason) -> (method, reason)
        requested: 'auto' | 'api' | 'host'; raises ValueError when 'host' is asked for but impossible.
    host_path_problem(is_root, endpoint, volume, remaps_ids=False) -> None or the reason the host fast
        path cannot be used (remaps_ids: the engine runs with userns-remap or rootless, so host ids
        in the directory are not the archive's container ids; None: unknown)
    staging_volume_name(target, run_id) -> str
    compose_labels_missing(labels) -> list of the Compose labels an entry lacks
"""
from __future__ import annotations

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


def plan_volume(target_name, state, replace, running_users=()):
    if state == "same":
        return {"action": "unchanged", "changed": False, "problem": None}
    if running_users:
        return {"action": "busy", "changed": False,
                "problem": "volume %s is in use by running container(s) %s: stop them first (the restore "
                           "role stops the stack)" % (target_name, ", ".join(sorted(running_users)))}
    if state == "missing":
        return {"action": "create", "changed": True, "problem": None}
    if state == "empty":
        return {"action": "fill", "changed": True, "problem": None}
    if replace:
        return {"action": "replace", "changed": True, "problem": None}
    return {"action": "blocked", "changed": False,
            "problem": "volume %s is not empty and differs from the backup; restoring would replace its "
                       "content. Set replace: true (role variable restore_replace_volumes: true) to "
                       "replace it" % target_name}


def host_path_problem(is_root, endpoint, volume, remaps_ids=False):
    if not is_root:
        return "the module does not run as root"
    if not (endpoint or "").startswith("unix://"):
        return "the engine is not on this host (docker_host %s)" % endpoint
    if remaps_ids is None:
        return "the engine's security options are unknown (docker info failed)"
    if remaps_ids:
        return "the engine remaps user ids (userns-remap or rootless), so the directory's owners are not the archive's"
    if volume is None:
        return None
    if volume.get("Driver") != "local":
        return "volume driver %s is not local" % volume.get("Driver")
    if volume.get("Options"):
        return "the volume has mount options (%s)" % ", ".join(sorted(volume["Options"]))
    return None


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
