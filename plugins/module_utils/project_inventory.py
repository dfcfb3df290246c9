# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a compose project has on the engine: services, containers, volumes, images, networks.

`gather_engine_facts` makes one list call per resource type, and inspects (concurrently,
bounded) only the containers that have a healthcheck. `build_inventory` is pure: it joins the
compose model with those facts into the `project` result of `homeiq.phase0.project_info`.
Environment values never enter the result.
"""
from __future__ import annotations

import re

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import (
    CONFIG_FILES_LABEL, ONEOFF_LABEL, PROJECT_LABEL, SERVICE_LABEL, VOLUME_LABEL, WORKING_DIR_LABEL,
    container_name, health_from_status, project_containers, project_images, project_networks,
    project_volumes, summarize)
from ansible_collections.homeiq.phase0.plugins.module_utils.bounded_map import bounded_map

CONTAINER_NUMBER_LABEL = "com.docker.compose.container-number"
_EXIT_CODE = re.compile(r"^Exited \((-?\d+)\)")


def exit_code_from_status(status):
    """'Exited (137) 2 minutes ago' -> 137; None for anything else."""
    match = _EXIT_CODE.match(status or "")
    return int(match.group(1)) if match else None


def health_details(inspected):
    """The health facts of one `inspect_container` answer (no probe output: it may hold secrets)."""
    health = ((inspected or {}).get("State") or {}).get("Health") or {}
    log = health.get("Log") or []
    last = log[-1] if log else {}
    return {
        "status": health.get("Status"),
        "failing_streak": health.get("FailingStreak"),
        "last_exit_code": last.get("ExitCode"),
        "last_check": last.get("End"),
    }


def gather_engine_facts(api, project_name, volume_sizes=False, workers=8):
    """All engine facts of a project: one list call per resource, health inspects in parallel."""
    containers = project_containers(api, project_name, all=True)
    volumes = project_volumes(api, project_name)
    networks = project_networks(api, project_name)
    images = project_images(api, project_name, containers)
    with_health = [c for c in containers if health_from_status(c.get("Status"))]
    health = {}
    for outcome in bounded_map(lambda c: api.inspect_container(c["Id"]), with_health, workers=workers):
        if outcome.ok:
            health[outcome.item["Id"]] = health_details(outcome.value)
    sizes = {}
    if volume_sizes:
        for volume in (api.df() or {}).get("Volumes") or []:
            size = (volume.get("UsageData") or {}).get("Size")
            sizes[volume.get("Name")] = size if size is not None and size >= 0 else None
    return {"containers": containers, "volumes": volumes, "networks": networks, "images": images,
            "health": health, "sizes": sizes if volume_sizes else None}


def _container_entry(summary, health):
    labels = summary.get("Labels") or {}
    status = summary.get("Status")
    details = health.get(summary.get("Id")) or {}
    number = labels.get(CONTAINER_NUMBER_LABEL)
    return {
        "id": summary.get("Id"),
        "name": container_name(summary),
        "service": labels.get(SERVICE_LABEL),
        "number": int(number) if number and number.isdigit() else None,
        "oneoff": labels.get(ONEOFF_LABEL) == "True",
        "state": summary.get("State"),
        "status": status,
        "health": details.get("status") or health_from_status(status),
        "failing_streak": details.get("failing_streak"),
        "last_probe_exit_code": details.get("last_exit_code"),
        "exit_code": exit_code_from_status(status),
        "image": summary.get("Image"),
        "image_id": summary.get("ImageID"),
        "created": summary.get("Created"),
        "volumes": sorted(m.get("Name") for m in summary.get("Mounts") or []
                          if m.get("Type") == "volume" and m.get("Name")),
    }


def _real_tags(tags):
    return sorted(t for t in tags or [] if t and t != "<none>:<none>")


def build_inventory(model, facts, project_name):
    """Join the compose model (ComposeProject.to_dict() or None) with engine facts.

    Services come from the files, plus any service that only the engine knows (`defined: false`,
    for example an orphan or a project inspected by name alone).
    """
    containers = sorted((_container_entry(c, facts.get("health") or {}) for c in facts.get("containers") or []),
                        key=lambda c: c["name"])
    by_service = {}
    for container in containers:
        by_service.setdefault(container["service"], []).append(container)

    defined = (model or {}).get("services") or {}
    services = []
    for name in sorted(set(defined) | {s for s in by_service if s}):
        own = by_service.get(name, [])
        spec = defined.get(name) or {}
        services.append({
            "name": name,
            "defined": name in defined,
            "file": spec.get("file"),
            "files": spec.get("files") or [],
            "healthcheck_file": spec.get("healthcheck_file"),
            "has_healthcheck": spec.get("has_healthcheck"),
            "profiles": spec.get("profiles") or [],
            "image": spec.get("image") or (own[0]["image"] if own else None),
            "containers": [c["name"] for c in own],
            "state": summarize([c["state"] for c in own], empty="absent"),
            "health": summarize([c["health"] or "none" for c in own]) if own else None,
        })

    used_by = {}
    for container in containers:
        for volume in container["volumes"]:
            used_by.setdefault(volume, []).append(container["name"])
    sizes = facts.get("sizes")
    volumes = []
    for record in sorted(facts.get("volumes") or [], key=lambda v: v.get("Name")):
        labels = record.get("Labels") or {}
        volumes.append({
            "name": record.get("Name"),
            "compose_volume": labels.get(VOLUME_LABEL),
            "driver": record.get("Driver"),
            "mountpoint": record.get("Mountpoint"),
            "scope": record.get("Scope"),
            "created": record.get("CreatedAt"),
            "labels": labels,
            "used_by": used_by.get(record.get("Name"), []),
            "size": sizes.get(record.get("Name")) if sizes is not None else None,
        })
    existing = {v["name"] for v in volumes} | set(used_by)
    declared = [{"key": key, "name": engine_name, "exists": engine_name in existing}
                for key, engine_name in sorted(((model or {}).get("volumes") or {}).items())]

    services_by_image = {}
    for container in containers:
        services_by_image.setdefault(container["image_id"], set()).add(container["service"])
    images = []
    for record in sorted(facts.get("images") or [], key=lambda i: i.get("Id")):
        labels = record.get("Labels") or {}
        from_label = {labels[SERVICE_LABEL]} if labels.get(PROJECT_LABEL) == project_name and labels.get(SERVICE_LABEL) else set()
        images.append({
            "id": record.get("Id"),
            "tags": _real_tags(record.get("RepoTags")),
            "digests": sorted(d for d in record.get("RepoDigests") or [] if "<none>" not in d),
            "size": record.get("Size"),
            "created": record.get("Created"),
            "services": sorted(s for s in services_by_image.get(record.get("Id"), set()) | from_label if s),
        })

    networks = [{"name": n.get("Name"), "id": n.get("Id"), "driver": n.get("Driver"),
                 "scope": n.get("Scope"), "labels": n.get("Labels") or {}}
                for n in sorted(facts.get("networks") or [], key=lambda n: n.get("Name"))]

    raw_containers = facts.get("containers") or []
    first_labels = (raw_containers[0].get("Labels") or {}) if raw_containers else {}
    result = {
        "name": project_name,
        "name_source": (model or {}).get("name_source", "explicit"),
        "dir": (model or {}).get("dir") or first_labels.get(WORKING_DIR_LABEL),
        "compose_files": (model or {}).get("compose_files")
        or [f for f in (first_labels.get(CONFIG_FILES_LABEL) or "").split(",") if f],
        "included_files": (model or {}).get("included_files") or [],
        "services": services,
        "containers": containers,
        "volumes": volumes,
        "declared_volumes": declared,
        "images": images,
        "networks": networks,
    }
    result["summary"] = {
        "services": len(services),
        "containers": len(containers),
        "running": sum(1 for c in containers if c["state"] == "running"),
        "healthy": sum(1 for c in containers if c["health"] == "healthy"),
        "unhealthy": sum(1 for c in containers if c["health"] == "unhealthy"),
        "starting": sum(1 for c in containers if c["health"] == "starting"),
        "volumes": len(volumes),
        "images": len(images),
        "networks": len(networks),
    }
    return result


def inventory_warnings(inventory, endpoint):
    """Warnings a user should see: an empty project, services without containers."""
    warnings = []
    if not inventory["containers"]:
        warnings.append(
            "no containers of compose project '%s' on %s: the stack is not up, or it runs under "
            "another project name (check project_name / COMPOSE_PROJECT_NAME)" % (inventory["name"], endpoint))
    else:
        absent = [s["name"] for s in inventory["services"] if s["state"] == "absent" and not s["profiles"]]
        if absent:
            warnings.append("services without a container: %s" % ", ".join(absent))
    return warnings
