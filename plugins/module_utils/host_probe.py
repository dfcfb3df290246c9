# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measurements for the host preflight: engine answers, CLI plugins, memory, disk, stats.

Each function measures one thing and returns plain values (or raises); host_checks turns
them into pass/warn/fail. Nothing here changes the engine, except the optional throw-away
`df` container used to read free space on a remote engine's data root.
"""
from __future__ import annotations

import os
import re
import subprocess
import time

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import (
    PROJECT_LABEL, project_containers, container_name)
from ansible_collections.homeiq.phase0.plugins.module_utils.bounded_map import bounded_map
from ansible_collections.homeiq.phase0.plugins.module_utils.host_checks import cpu_percent, memory_usage

CLI_TIMEOUT = 30
# Stats calls wait on the engine's sampling interval, not on CPU: a wide bound is cheap.
STATS_WORKERS = 64  # every container of a 40-60 service stack in one round of ~1-2 s waits
DF_MOUNT = "/phase0-data-root"


def timed(fn, *args, **kwargs):
    """(result, milliseconds)."""
    started = time.monotonic()
    result = fn(*args, **kwargs)
    return result, round((time.monotonic() - started) * 1000.0, 2)


def run_cli(argv, docker_host=None, timeout=CLI_TIMEOUT):
    """(stdout, error) of a CLI call; error is None on exit 0, else a short reason."""
    env = dict(os.environ)
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    env.setdefault("LC_ALL", "C")
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except FileNotFoundError:
        return None, "%s: command not found" % argv[0]
    except subprocess.TimeoutExpired:
        return None, "%s did not finish within %d s" % (" ".join(argv[:3]), timeout)
    except OSError as exc:
        return None, "%s: %s" % (argv[0], exc)
    if proc.returncode != 0:
        return None, (proc.stderr or proc.stdout or "exit %d" % proc.returncode).strip()
    return proc.stdout, None


def compose_versions(docker_cli="docker", docker_host=None):
    """(plugin version text or None, standalone docker-compose version text or None, plugin error)."""
    plugin, plugin_error = run_cli([docker_cli, "compose", "version", "--short"], docker_host)
    standalone = None
    if not plugin:
        out, dummy = run_cli(["docker-compose", "version", "--short"], docker_host)
        if not out:
            out, dummy = run_cli(["docker-compose", "--version"], docker_host)
        standalone = out
    return (plugin.strip() if plugin else None), (standalone.strip() if standalone else None), plugin_error


def buildx_outputs(docker_cli="docker", docker_host=None):
    """Run `docker buildx version` and `docker buildx ls` for real: (ver_out, ver_err, ls_out, ls_err)."""
    version, version_error = run_cli([docker_cli, "buildx", "version"], docker_host)
    if not version:
        return None, version_error, None, None
    listing, listing_error = run_cli([docker_cli, "buildx", "ls"], docker_host)
    return version, None, listing, listing_error


def host_memory_bytes():
    """MemTotal of the machine this module runs on (/proc/meminfo, else sysconf)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (IOError, OSError, ValueError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def free_bytes(path):
    """Free bytes for unprivileged users at path, or at its nearest existing parent."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    stat = os.statvfs(probe)
    return stat.f_bavail * stat.f_frsize, probe


def engine_is_local(endpoint, info):
    """Is the engine's filesystem this host's? A unix socket to a non-Desktop engine whose data root exists here."""
    root = info.get("DockerRootDir") or ""
    desktop = "docker desktop" in (info.get("OperatingSystem") or "").lower()
    return endpoint.startswith("unix://") and not desktop and bool(root) and os.path.isdir(root)


def parse_df(output):
    """Free bytes from POSIX `df -Pk` output (the Available column of the last line)."""
    lines = [line for line in (output or "").splitlines() if line.strip()]
    if len(lines) < 2:
        raise ValueError("unexpected df output: %r" % (output or "")[:200])
    fields = lines[-1].split()
    return int(fields[3]) * 1024


def data_root_free_via_container(api, root, images, timeout=60):
    """Free bytes at the engine host's data root, read by `df` in a throw-away container.

    For engines whose filesystem this host cannot see (remote, Docker Desktop). Tries the given
    local images in order until one has `df`; never pulls. Returns (bytes, image used).
    """
    errors = []
    for image in images:
        container = None
        try:
            container = api.create_container(
                image, command=["df", "-Pk", DF_MOUNT], entrypoint=[], network_disabled=True,
                labels={"org.homeiq.phase0.probe": "disk"},
                host_config=api.create_host_config(binds={root: {"bind": DF_MOUNT, "mode": "ro"}}))
            api.start(container)
            status = api.wait(container, timeout=timeout).get("StatusCode")
            output = api.logs(container, stdout=True, stderr=True).decode("utf-8", "replace")
            if status == 0:
                return parse_df(output), image
            errors.append("%s: exit %s %s" % (image, status, output.strip()[:120]))
        except Exception as exc:  # try the next image; pylint: disable=broad-except
            errors.append("%s: %s" % (image, " ".join(str(exc).split())[:160]))
        finally:
            if container is not None:
                try:
                    api.remove_container(container, force=True)
                except Exception:  # pylint: disable=broad-except
                    pass
    raise RuntimeError("no image with df could read %s: %s" % (root, "; ".join(errors) or "no candidate image"))


def project_volume_bytes(api, project_name):
    """Sum and per-volume sizes of the project's volumes (`docker system df -v`'s UsageData)."""
    usage = api.df()
    volumes = {}
    for volume in usage.get("Volumes") or []:
        if (volume.get("Labels") or {}).get(PROJECT_LABEL) == project_name:
            size = (volume.get("UsageData") or {}).get("Size")
            volumes[volume["Name"]] = size if size is not None and size >= 0 else 0
    return sum(volumes.values()), volumes


def stats_snapshot(api, containers, workers=STATS_WORKERS):
    """CPU % and memory of the running (and paused) containers, as `docker stats --no-stream` shows them.

    The engine takes two samples about a second apart per call (that is where CPU % comes
    from), so a call costs ~1-2 s of waiting, not work: the calls run with a wide bound.
    Returns (samples, errors).
    """
    running = [c for c in containers if c.get("State") in ("running", "paused")]  # as docker ps lists them
    samples, errors = [], []
    for outcome in bounded_map(lambda c: api.stats(c["Id"], stream=False), running, workers):
        name = container_name(outcome.item)
        if not outcome.ok:
            errors.append("%s: %s" % (name, " ".join(str(outcome.error).split())[:160]))
            continue
        sample = outcome.value
        used, limit, mem_pct = memory_usage(sample)
        samples.append({"container": name,
                        "service": (outcome.item.get("Labels") or {}).get("com.docker.compose.service"),
                        "cpu_percent": cpu_percent({"cpu_stats": sample.get("precpu_stats") or {}}, sample),
                        "memory_bytes": used, "memory_limit_bytes": limit,
                        "memory_percent": mem_pct, "pids": (sample.get("pids_stats") or {}).get("current")})
    return samples, errors


def project_summaries(api, project_name):
    return project_containers(api, project_name, all=True) if project_name else []


def short_os(info):
    return re.sub(r"\s+", " ", "%s %s" % (info.get("OperatingSystem") or "", info.get("KernelVersion") or "")).strip()
