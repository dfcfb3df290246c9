# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Dockerfiles a compose project builds from, what they say, and drift from the running containers.

`build_specs` reads each service's `build:` (string or mapping; `context`, `dockerfile`,
`dockerfile_inline`, `target`, `args`) from a resolved ComposeProject (includes already
followed). `audit_dockerfiles` parses them (and any extra globbed files). `drift` compares the
final stage's runtime with what the running container reports. Build-arg values are used for
substitution only and never returned: they may hold secrets.
"""
from __future__ import annotations

import glob
import os
import re

from ansible_collections.homeiq.phase0.plugins.module_utils.dockerfile_parser import parse_dockerfile, summarize
from ansible_collections.homeiq.phase0.plugins.module_utils.version_policy import version_matches_spec

_REMOTE_CONTEXT = re.compile(r"^(https?://|git@|git://|ssh://|github\.com/)")

DRIFT_MATCH = "match"
DRIFT_STALE = "drift"
DRIFT_UNKNOWN = "unknown"
DRIFT_NOT_RUNNING = "not_running"
DRIFT_NO_RUNTIME = "no_runtime"


def build_args_dict(args):
    """Compose `build.args` (mapping or KEY=VALUE list) -> dict; bare KEYs have no value here."""
    if isinstance(args, dict):
        return dict((str(k), None if v is None else str(v)) for k, v in args.items())
    out = {}
    for item in args or ():
        key, sep, value = str(item).partition("=")
        out[key] = value if sep else None
    return out


def service_base_dir(project, service):
    """Relative build paths resolve against the project dir, or the included file's dir."""
    source = project.service_file(service)
    if source is None or source in project.files:
        return project.dir
    return os.path.dirname(source)


def build_specs(project):
    """One spec per service that builds: service, context, dockerfile path or inline text, target, args."""
    specs = []
    for service in sorted(project.services):
        build = (project.services[service] or {}).get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = str(build.get("context") or ".")
        spec = {"service": service, "target": build.get("target"), "image": (project.services[service] or {}).get("image"),
                "args": build_args_dict(build.get("args")), "note": None, "path": None, "inline": None}
        if _REMOTE_CONTEXT.match(context):
            spec.update(context=context, note="remote build context: not audited")
        else:
            base = service_base_dir(project, service)
            context = os.path.normpath(os.path.join(base, os.path.expanduser(context)))
            spec["context"] = context
            if build.get("dockerfile_inline"):
                spec["inline"] = str(build["dockerfile_inline"])
            else:
                dockerfile = str(build.get("dockerfile") or "Dockerfile")
                spec["path"] = os.path.normpath(os.path.join(context, dockerfile))
        specs.append(spec)
    return specs


def glob_specs(project_dir, patterns):
    """Extra Dockerfiles matched by globs (relative to project_dir), not tied to a service."""
    found = []
    for pattern in patterns or ():
        full = pattern if os.path.isabs(pattern) else os.path.join(project_dir, pattern)
        for path in sorted(glob.glob(full, recursive=True)):
            if os.path.isfile(path):
                found.append({"service": None, "context": os.path.dirname(path), "target": None, "image": None,
                              "args": {}, "note": None, "path": os.path.normpath(path), "inline": None})
    return found


def _relative(path, root):
    if not path:
        return path
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _display_path(spec, project_dir):
    if spec["path"]:
        return _relative(spec["path"], project_dir)
    if spec["inline"] is not None:
        return "<dockerfile_inline of %s>" % spec["service"]
    return spec.get("context") or "<unknown>"


def audit_one(spec, project_dir, read=None, runtime_images=None):
    """Parse one spec's Dockerfile; the result carries no build-arg values."""
    entry = {
        "path": spec["path"], "relpath": _display_path(spec, project_dir),
        "services": [spec["service"]] if spec["service"] else [], "context": spec.get("context"),
        "target": spec["target"], "build_arg_names": sorted(spec["args"]), "stages": [], "final": None,
        "errors": [], "note": spec["note"],
    }
    if spec["note"]:
        return entry
    if spec["inline"] is not None:
        text = spec["inline"]
    else:
        try:
            text = (read or _read_text)(spec["path"])
        except (IOError, OSError) as exc:
            entry["errors"].append("cannot read %s: %s" % (spec["path"], getattr(exc, "strerror", None) or exc))
            return entry
    args = dict((k, v) for k, v in spec["args"].items() if v is not None)
    parsed = parse_dockerfile(text, build_args=args, target=spec["target"], runtime_images=runtime_images)
    entry["stages"] = [_public_stage(stage) for stage in parsed["stages"]]
    entry["errors"].extend(parsed["errors"])
    entry["global_arg_names"] = sorted(parsed["global_args"])
    if parsed["final_stage"] is not None:
        summary = summarize(parsed)
        entry["final"] = {"base_image": summary["final_base_image"], "runtime": summary["final_runtime"],
                          "version": summary["final_version"], "stage_name": summary["final_stage_name"],
                          "stage_index": parsed["final_stage"], "build_runtimes": summary["build_runtimes"]}
    return entry


def _public_stage(stage):
    keys = ("index", "lineno", "name", "platform", "from", "image", "from_stage", "base_image", "digest",
            "runtime", "version", "unresolved_args")
    return dict((key, stage[key]) for key in keys)


def _read_text(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def audit_dockerfiles(specs, project_dir, read=None, runtime_images=None):
    """Parse every spec, one entry per distinct Dockerfile+target+args (services sharing it are merged)."""
    entries, index = [], {}
    for spec in specs:
        key = (spec["path"] or spec["inline"] or spec.get("context"), spec["target"],
               tuple(sorted((k, v) for k, v in spec["args"].items() if v is not None)))
        if spec["service"] is None:
            # A globbed file already built by a service is not listed twice.
            if any(e["path"] == spec["path"] for e in entries):
                continue
        if key in index:
            if spec["service"]:
                entries[index[key]]["services"].append(spec["service"])
            continue
        index[key] = len(entries)
        entries.append(audit_one(spec, project_dir, read, runtime_images))
    return entries


def base_image_counts(entries):
    """{base image: number of stages built on it} over every stage that is not a stage alias."""
    counts = {}
    for entry in entries:
        for stage in entry["stages"]:
            if stage["from_stage"] is None:
                counts[stage["base_image"]] = counts.get(stage["base_image"], 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def drift(entries, runtime_rows):
    """Compare each service's final stage with what its containers report.

    One record per (service, container): status match / drift (the image is older than the
    Dockerfile says: rebuild) / unknown / not_running / no_runtime.
    """
    by_service = {}
    for row in runtime_rows or ():
        by_service.setdefault(row.get("service"), []).append(row)
    records = []
    for entry in entries:
        final = entry.get("final") or {}
        for service in entry["services"]:
            rows = by_service.get(service) or []
            containers = sorted(set(r.get("container") for r in rows))
            if not containers:
                records.append(_drift_record(service, None, entry, final, None, DRIFT_NOT_RUNNING,
                                             "no container of this service exists"))
                continue
            for container in containers:
                records.append(_compare(service, container, entry, final,
                                        [r for r in rows if r.get("container") == container]))
    return records


def _compare(service, container, entry, final, rows):
    runtime, spec = final.get("runtime"), final.get("version")
    state = rows[0].get("state") if rows else None
    if state and state != "running":
        # A stopped container's version came from its image env at best; still comparable.
        pass
    if runtime is None:
        found = [r for r in rows if r.get("runtime") in ("python", "node")]
        if found:
            return _drift_record(service, container, entry, final, found[0], DRIFT_UNKNOWN,
                                 "final stage %s carries no known runtime but the container reports %s %s"
                                 % (final.get("base_image"), found[0]["runtime"], found[0].get("version")))
        return _drift_record(service, container, entry, final, None, DRIFT_NO_RUNTIME,
                             "final stage %s carries no python/node runtime" % final.get("base_image"))
    row = next((r for r in rows if r.get("runtime") == runtime), None)
    if row is None or not row.get("version"):
        why = "not running" if state and state != "running" else "did not report %s" % runtime
        return _drift_record(service, container, entry, final, row,
                             DRIFT_NOT_RUNNING if state and state != "running" else DRIFT_UNKNOWN,
                             "the container %s; the Dockerfile says %s %s" % (why, runtime, spec or "(floating tag)"))
    if not spec:
        return _drift_record(service, container, entry, final, row, DRIFT_UNKNOWN,
                             "the Dockerfile's %s tag floats (%s); the container runs %s"
                             % (runtime, final.get("base_image"), row["version"]))
    if version_matches_spec(row["version"], spec):
        return _drift_record(service, container, entry, final, row, DRIFT_MATCH,
                             "%s %s is under %s" % (runtime, row["version"], spec))
    return _drift_record(service, container, entry, final, row, DRIFT_STALE,
                         "the container runs %s %s but the Dockerfile says %s (%s): the image is stale, rebuild it"
                         % (runtime, row["version"], spec, final.get("base_image")))


def _drift_record(service, container, entry, final, row, status, message):
    return {
        "service": service, "container": container, "dockerfile": entry["relpath"],
        "final_base_image": final.get("base_image"), "runtime": final.get("runtime") or (row or {}).get("runtime"),
        "dockerfile_version": final.get("version"), "running_version": (row or {}).get("version"),
        "source": (row or {}).get("source"), "status": status, "message": message,
    }


def summarize_drift(records):
    counts = {}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    return counts
