# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a volume backup against the Engine API: the I/O half of volume_backup.

Interface:
    gather(api, project=None, names=None, exclude=(), consistency='auto', compression='zstd',
           use_mountpoint=None) -> (plan, facts)
        lists volumes and containers (two API calls), selects and plans (volume_backup_plan),
        estimates sizes from the engine's df() (UsageData) or, as root on the engine host,
        from the volumes' Mountpoints. facts['project_images']: image ids of every container of
        the project or mounting a selected volume, in any state (helper image candidates when
        no running container uses the volume, e.g. a stopped stack).
    BackupRun(api, plan, backup_dir, options, replan=None).run() -> result dict
        options: compression, compression_level, threads, stop_timeout, health_timeout,
        lock_timeout, helper_image, project, chunk_size, stall_timeout, workers (8),
        method (auto | api | host: where the tar stream comes from; host is GNU tar on the
        volume's directory, see host_tar; the same names as volume_restore's method).
        Takes the run lock; if it broke a stale lock, restarts/unpauses the containers the dead run
        had stopped/paused and, when it did, plans again with replan(), and removes the archives
        the dead run had published (recorded in its lock) when no manifest.json covers them.
        Cleans stale *.partial files and helper containers, then for each
        group of volumes: pre-hooks, stop/pause the group's containers concurrently (bounded),
        archive each volume through a helper container that is created, never started, with
        the volume mounted read-only (get_archive -> archive_stream -> AtomicWriter; or, with
        method host, GNU tar on the volume's directory while the helper holds it), and, in
        `finally`, start/unpause the containers again right after the group's last archive;
        health waits run in the background while the next group is archived.
        Raises BackupFailed(kind, msg, result) with kind in: locked, space, enospc, truncated,
        engine, hook, helper_image, unhealthy, interrupted, fault_injection, io, method.
    get_archive_chunks(api, container_id, path, chunk_size, stall_timeout) -> (chunks, stat)
        streams the tar from the engine with a per-read stall timeout (never unbounded); chunks
        has close(), which ends the stream also before its first chunk.
    engine_path_stat(api, container_id, path, timeout) -> the engine's stat dict of a path (HEAD)
    wait_healthy(api, container_id, timeout) -> {status: healthy|running|unhealthy|exited|paused|timeout|error,
                                                  health, running, seconds}
        A restarted container only has to come back to the health it had when it was stopped
        (volume_backup_plan.health_verdict): unhealthy before and after is a warning, not a failure.
    BackupLog(path): .line(text) appends a timestamped line to backup.log (0600, O_NOFOLLOW).

Test-only fault injection (environment of the module process; never set in production):
    PHASE0_TEST_FAIL_AFTER_STOP=1        raise right after a group's containers were stopped/paused
    PHASE0_TEST_ENOSPC_AFTER_BYTES=<n>   the archive writer raises ENOSPC after n bytes
    PHASE0_TEST_SLOW_ARCHIVE_MS=<ms>     sleep this long after every raw MiB (crash tests)
"""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import stat
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import (
    CodecError, effective_threads, engine_stream_threads)
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_stream import archive_stream
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_tarscan import (
    TarFormatError, TruncatedArchive)
from ansible_collections.homeiq.phase0.plugins.module_utils.atomic_file import (
    AtomicWriter, UnsafePathError, ensure_private_dir, fsync_dir, remove_stale_partials)
from ansible_collections.homeiq.phase0.plugins.module_utils.backup_lock import BackupLock, LockBusy
from ansible_collections.homeiq.phase0.plugins.module_utils.bounded_map import bounded_map
from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import remaps_ids
from ansible_collections.homeiq.phase0.plugins.module_utils.host_tar import (
    HostTarChunks, HostTarError, gnu_tar_version, mountpoint_refusal)
from ansible_collections.homeiq.phase0.plugins.module_utils.host_volume import read_mountinfo
from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import MANIFEST_NAME
from ansible_collections.homeiq.phase0.plugins.module_utils.volume_backup_plan import (
    has_live_wal, health_verdict, plan_backup, select_volumes, space_problem, sqlite_files)

HELPER_LABEL = "homeiq.phase0.helper"
HELPER_PROJECT_LABEL = "homeiq.phase0.helper-project"
HELPER_MOUNT = "/phase0-src"
HELPER_ENTRYPOINT = ["/phase0-helper-never-started"]
CHUNK_SIZE = 1 << 20
MB = 1000.0 * 1000.0
DEFAULT_STOP_TIMEOUT = 10
# zstd job size for method host, where zstd gets every core: 2 MiB jobs kept the pipeline's peak
# RSS at 55 MB (8 MiB, zstd's default at level 3: 136 MB; the whole module process: 74 MB) for an
# archive 1.4 % bigger (1 GiB benchmark).
HOST_JOB_SIZE = 2 << 20
_UNSET = object()


class BackupFailed(Exception):
    def __init__(self, kind, msg, result=None):
        self.kind = kind
        self.msg = msg
        self.result = result or {}
        super().__init__(msg)


class Interrupted(Exception):
    pass


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class BackupLog:
    """Append-only, private backup.log in the backup directory."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(path, flags, 0o600)
        os.fchmod(self._fd, 0o600)

    def line(self, text):
        data = ("%s %s\n" % (_now(), text)).encode("utf-8", "replace")
        with self._lock:
            if self._fd is not None:
                os.write(self._fd, data)

    def close(self):
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None


# --- facts --------------------------------------------------------------------------------

def _tree_size(path):
    total = 0
    stack = [path]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def local_engine(api):
    base = getattr(api, "base_url", "") or ""
    return base.startswith("http+docker://localhost") or base.startswith("http+unix")


def volume_sizes(api, volumes, use_mountpoint=None):
    """({name: bytes or None}, source). Mountpoint walk as root on the engine host, else df()."""
    names = [volume["Name"] for volume in volumes]
    if not names:
        return {}, "none"
    if use_mountpoint is None:
        use_mountpoint = hasattr(os, "geteuid") and os.geteuid() == 0 and local_engine(api)
    if use_mountpoint and all(volume.get("Mountpoint") and os.path.isdir(volume["Mountpoint"]) for volume in volumes):
        return dict((volume["Name"], _tree_size(volume["Mountpoint"])) for volume in volumes), "mountpoint"
    sizes = dict((name, None) for name in names)
    for volume in api.df().get("Volumes") or ():
        if volume.get("Name") in sizes:
            size = (volume.get("UsageData") or {}).get("Size")
            sizes[volume["Name"]] = size if isinstance(size, int) and size >= 0 else None
    return sizes, "engine_df"


def gather(api, project=None, names=None, exclude=(), consistency="auto", compression="zstd",
           use_mountpoint=None):
    all_volumes = api.volumes().get("Volumes") or []
    selected, excluded, missing = select_volumes(all_volumes, project, names, exclude)
    containers = api.containers(all=True)
    sizes, size_source = volume_sizes(api, selected, use_mountpoint)
    plan = plan_backup(selected, containers, consistency, sizes, compression)
    known = [size for size in sizes.values() if size is not None]
    names_selected = set(volume["Name"] for volume in selected)
    project_images = []
    for container in containers:
        mounts = set(mount.get("Name") for mount in container.get("Mounts") or ())
        if ((project and (container.get("Labels") or {}).get("com.docker.compose.project") == project)
                or mounts & names_selected):
            image = container.get("ImageID") or container.get("Image")
            if image and image not in project_images:
                project_images.append(image)
    facts = {"excluded": excluded, "missing": missing, "size_source": size_source,
             "project_images": project_images,
             "estimated_bytes": sum(known) if known else (0 if not selected else None),
             "unknown_sizes": sorted(name for name, size in sizes.items() if size is None)}
    return plan, facts


def free_bytes(path):
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize


def check_space(backup_dir, facts, margin):
    """Raise BackupFailed('space') when free space is below the estimate x margin."""
    problem = space_problem(free_bytes(backup_dir), facts.get("estimated_bytes"), margin)
    if problem:
        raise BackupFailed("space", problem, {"free_bytes": free_bytes(backup_dir),
                                              "estimated_bytes": facts.get("estimated_bytes")})


# --- engine calls -------------------------------------------------------------------------

def get_archive_chunks(api, container_id, path, chunk_size=CHUNK_SIZE, stall_timeout=120):
    """Stream a tar from the engine. Unlike docker-py's get_archive, keep a read timeout.

    Returns (chunks, stat dict): chunks is iterable once and has close(), which the caller calls
    on every path (an unread stream keeps the engine busy). A connection dropped mid-stream surfaces as an
    exception from the iterator (requests' ChunkedEncodingError) or as a short tar stream,
    which archive_stream rejects.
    """
    url = api._url("/containers/{0}/archive", container_id)
    response = api._get(url, params={"path": path}, stream=True, timeout=stall_timeout,
                        headers={"Accept-Encoding": "identity"})
    api._raise_for_status(response)
    return _ArchiveChunks(response, chunk_size), _path_stat(response.headers)


def _path_stat(headers):
    stat_header = headers.get("x-docker-container-path-stat")
    if not stat_header:
        return {}
    try:
        import base64
        stat = json.loads(base64.b64decode(stat_header))
    except ValueError:
        return {}
    return stat if isinstance(stat, dict) else {}


def engine_path_stat(api, container_id, path, timeout=60):
    response = api.head(api._url("/containers/{0}/archive", container_id), params={"path": path}, timeout=timeout)
    api._raise_for_status(response)
    return _path_stat(response.headers)


class _ArchiveChunks:
    """The archive body as chunks of about chunk_size; close() ends the HTTP response at any time
    (also before the first chunk was read, which a generator's finally cannot do)."""

    def __init__(self, response, chunk_size):
        self._response = response
        self._chunk_size = chunk_size

    def __iter__(self):
        # The engine sends HTTP chunks of about 32 KiB and iter_content yields them as they come:
        # coalesce them to chunk_size, so hashing, the tar scan and zstd work on large blocks
        # (per-chunk Python overhead was 3x the cost of the data at 32 KiB).
        pending, size = [], 0
        try:
            for chunk in self._response.iter_content(self._chunk_size, False):
                pending.append(chunk)
                size += len(chunk)
                if size >= self._chunk_size:
                    yield b"".join(pending)
                    pending, size = [], 0
            if pending:
                yield b"".join(pending)
        finally:
            self.close()

    def close(self):
        self._response.close()


def wait_healthy(api, container_id, timeout, poll=0.5, recover=False):
    """Wait for a restarted container to settle. recover: it was healthy before the backup, so an
    unhealthy reading is waited out until the timeout (a probe that timed out on a busy host
    recovers at its next success); otherwise unhealthy is the answer at once."""
    started = time.monotonic()
    deadline = started + max(0, timeout)
    status = "timeout"
    while True:
        try:
            state = api.inspect_container(container_id).get("State") or {}
        except Exception as exc:  # pylint: disable=broad-except  # reported, never raised
            return {"status": "error", "error": str(exc), "health": None, "running": False,
                    "seconds": round(time.monotonic() - started, 3)}
        health = (state.get("Health") or {}).get("Status")
        if not state.get("Running"):
            if state.get("Status") in ("exited", "dead"):
                status = "exited"
                break
        elif state.get("Paused"):
            status = "paused"
        elif health is None or health == "none":
            status = "running"
            break
        elif health == "healthy":
            status = "healthy"
            break
        elif health == "unhealthy":
            status = "unhealthy"
            if not recover or time.monotonic() >= deadline:
                break
        if time.monotonic() >= deadline:
            status = "unhealthy" if health == "unhealthy" else "timeout"
            break
        time.sleep(poll)
    return {"status": status, "health": health if health not in (None, "none") else None,
            "running": bool(state.get("Running")) and not state.get("Paused"),
            "seconds": round(time.monotonic() - started, 3)}


class _FaultyWriter:
    """Test-only: raise ENOSPC after `limit` bytes (PHASE0_TEST_ENOSPC_AFTER_BYTES)."""

    def __init__(self, writer, limit):
        self._writer = writer
        self._left = limit

    def write(self, data):
        if len(data) > self._left:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + " (test fault injection)")
        self._left -= len(data)
        return self._writer.write(data)


class BackupRun:
    """One locked backup run (see module doc)."""

    def __init__(self, api, plan, backup_dir, options, replan=None):
        self.api = api
        self.plan = plan
        self.replan = replan
        self.backup_dir = os.path.abspath(backup_dir)
        self.lock_dir = os.path.dirname(self.backup_dir)
        self.options = options
        self.workers = int(options.get("workers") or 8)
        self.events = []          # container actions, in order
        self.volumes = []         # per-volume results
        self.published = []       # final paths this run published
        self.warnings = list(plan.get("warnings") or ())
        self.recovered = []
        self.cleaned = []
        self.removed_dead_run_archives = []
        self.log = None
        self.lock = None
        self._health_pool = None
        self._health_futures = []
        self._interrupted = False
        self._stopped_now = set()
        self._paused_now = set()
        self._health_before = {}  # container id -> health when it was stopped (None: no healthcheck)
        self._tar_version = _UNSET
        self._remaps_ids = _UNSET  # None: docker info failed

    # -- helpers --
    def _log(self, text):
        if self.log is not None:
            self.log.line(text)

    def _event(self, container_id, action, ok, seconds, error=None, name=None, **extra):
        info = self.plan["containers"].get(container_id, {})
        event = {"id": container_id[:12], "name": name or info.get("name", container_id[:12]), "action": action,
                 "ok": ok, "seconds": round(seconds, 3)}
        if error:
            event["error"] = error
        event.update(extra)
        self.events.append(event)
        self._log("container=%s action=%s ok=%s seconds=%.3f%s" % (
            event["name"], action, ok, seconds, (" error=%s" % error) if error else ""))
        return event

    def _record_lock_state(self):
        if self.lock is not None:
            self.lock.update(stopped=sorted(self._stopped_now), paused=sorted(self._paused_now),
                             backup_dir=self.backup_dir,
                             published=[os.path.relpath(path, self.backup_dir) for path in self.published])

    def _timed_call(self, container_id, action, fn, name=None):
        started = time.monotonic()
        try:
            fn()
        except Exception as exc:  # pylint: disable=broad-except  # reported per container
            self._event(container_id, action, False, time.monotonic() - started, str(exc), name=name)
            return False
        self._event(container_id, action, True, time.monotonic() - started, name=name)
        return True

    def _stop_timeout(self, container_id):
        """Seconds to give the container to stop; records its health before the stop on the way."""
        try:
            attrs = self.api.inspect_container(container_id)
        except Exception:  # pylint: disable=broad-except  # fall back to the defaults
            attrs = {}
        health = ((attrs.get("State") or {}).get("Health") or {}).get("Status")
        self._health_before[container_id] = health if health not in (None, "none") else None
        if self.options.get("stop_timeout") is not None:
            return int(self.options["stop_timeout"])
        value = (attrs.get("Config") or {}).get("StopTimeout")
        return int(value) if value is not None else DEFAULT_STOP_TIMEOUT

    # -- phases --
    def _take_lock(self):
        self.lock = BackupLock(self.lock_dir, self.options.get("project") or "volumes",
                               timeout=self.options.get("lock_timeout") or 0,
                               details={"backup_dir": self.backup_dir})
        try:
            info = self.lock.acquire()
        except LockBusy as exc:
            raise BackupFailed("locked", str(exc), {"locked": True, "lock_holder": exc.holder, "lock_path": exc.path})
        self.lock_info = info
        return info

    def _recover_from_stale(self, holder):
        """A dead run left containers stopped/paused: bring them back (and say so)."""
        state = holder.get("state") or {}
        for action, ids in (("start", state.get("stopped") or ()), ("unpause", state.get("paused") or ())):
            for container_id in ids:
                try:
                    attrs = self.api.inspect_container(container_id)
                except Exception:  # pylint: disable=broad-except  # gone: nothing to recover
                    continue
                current = attrs.get("State") or {}
                name = (attrs.get("Name") or "").lstrip("/") or container_id[:12]
                if action == "start" and not current.get("Running"):
                    call = self.api.start
                elif action == "unpause" and current.get("Paused"):
                    call = self.api.unpause
                else:
                    continue
                ok = self._timed_call(container_id, "%s (recovery)" % action,
                                      lambda cid=container_id, fn=call: fn(cid), name=name)
                self.recovered.append({"id": container_id[:12], "name": name, "action": action, "ok": ok})

    def _remove_dead_run_archives(self, holder):
        """Archives a killed run renamed to their final names but never covered by a manifest.

        A SIGKILL (OOM killer, a host reset) skips the run's own clean-up, so the volumes it had
        finished would stay under final names in a directory that can never become complete.
        Only paths the dead run recorded in its lock are touched, only below its volumes/
        directory, only regular files, and never when that directory has a manifest.json."""
        backup_dir = holder.get("backup_dir")  # the lock's details, written when it was taken
        published = (holder.get("state") or {}).get("published") or ()
        if not backup_dir or not os.path.isabs(backup_dir) or not published:
            return
        if os.path.lexists(os.path.join(backup_dir, MANIFEST_NAME)):
            self._log("kept the archives of the dead run in %s: it has a %s" % (backup_dir, MANIFEST_NAME))
            return
        volumes_dir = os.path.join(backup_dir, "volumes")
        if os.path.islink(backup_dir) or os.path.islink(volumes_dir):
            # The run's own directories replaced by a symlink: unlink would act on whatever it points
            # at, perhaps another backup's archives. (The backups root above holds the lock itself.)
            self._log("kept the archives of the dead run in %s: a symlink is on the path" % volumes_dir)
            return
        removed = []
        for relative in published:
            path = os.path.normpath(os.path.join(backup_dir, str(relative)))
            if os.path.dirname(path) != volumes_dir:
                continue
            try:
                if not stat.S_ISREG(os.lstat(path).st_mode):
                    continue
                os.unlink(path)
            except FileNotFoundError:
                continue
            removed.append(path)
            self._log("removed %s: a dead run (pid %s) published it, but no manifest covers it" % (
                path, holder.get("pid")))
        if removed:
            fsync_dir(volumes_dir)
        self.removed_dead_run_archives = removed

    def _clean_stale_helpers(self):
        project = self.options.get("project") or "volumes"
        try:
            stale = self.api.containers(all=True, filters={"label": ["%s=volume_backup" % HELPER_LABEL,
                                                                     "%s=%s" % (HELPER_PROJECT_LABEL, project)]})
        except Exception:  # pylint: disable=broad-except  # cleanup is best effort
            return []
        removed = []
        for container in stale:
            try:
                self.api.remove_container(container["Id"], force=True, v=True)
                removed.append(container["Id"][:12])
            except Exception:  # pylint: disable=broad-except
                continue
        return removed

    def _helper_image(self, volume_plan):
        configured = self.options.get("helper_image")
        candidates = []
        if configured:
            candidates = [configured]
        else:
            for writer in volume_plan["writers"]:
                info = self.plan["containers"].get(writer["id"]) or {}
                candidates.append(info.get("image_id") or info.get("image"))
            candidates += [info.get("image_id") or info.get("image") for info in self.plan["containers"].values()]
            candidates += self.options.get("_project_images") or []
        for image in candidates:
            if not image:
                continue
            try:
                self.api.inspect_image(image)
                return image
            except Exception:  # pylint: disable=broad-except  # try the next candidate
                continue
        if configured:
            raise BackupFailed("helper_image", "helper_image %s is not present on the engine; it is never pulled: "
                                               "build or load it first" % configured)
        raise BackupFailed("helper_image", "no image to create the helper container for volume %s from: no "
                                           "container of the project uses an image present on the engine. Set "
                                           "helper_image to any local image (it is created, never started or "
                                           "pulled)" % volume_plan["name"])

    def _create_helper(self, volume_plan):
        from docker.types import Mount  # the module checked the SDK is importable

        image = self._helper_image(volume_plan)
        name = "phase0-backup-%s-%s" % (volume_plan["name"][:40], uuid.uuid4().hex[:8])
        host_config = self.api.create_host_config(
            mounts=[Mount(HELPER_MOUNT, volume_plan["name"], type="volume", read_only=True)])
        created = self.api.create_container(
            image, entrypoint=HELPER_ENTRYPOINT, command=[], name=name, network_disabled=True,
            host_config=host_config,
            labels={HELPER_LABEL: "volume_backup", HELPER_PROJECT_LABEL: self.options.get("project") or "volumes"})
        return created["Id"], image

    def _remove_helper(self, helper_id):
        try:
            self.api.remove_container(helper_id, force=True, v=True)
        except Exception as exc:  # pylint: disable=broad-except  # reported, the backup stands
            self.warnings.append("could not remove helper container %s: %s" % (helper_id[:12], exc))

    def _host_facts(self, volume_plan):
        """Everything the host method needs except the engine's stat of the volume root."""
        if self._tar_version is _UNSET:
            self._tar_version = gnu_tar_version()
        if self._remaps_ids is _UNSET:
            try:
                self._remaps_ids = remaps_ids(self.api.info().get("SecurityOptions"))
            except Exception:  # pylint: disable=broad-except  # unknown: no fast path
                self._remaps_ids = None
        mountpoint = volume_plan.get("mountpoint")
        facts = {"euid": os.geteuid() if hasattr(os, "geteuid") else None, "local_engine": local_engine(self.api),
                 "remaps_ids": self._remaps_ids,
                 "driver": volume_plan.get("driver"), "driver_options": volume_plan.get("options"),
                 "mountpoint": mountpoint, "mountinfo": read_mountinfo(), "tar_version": self._tar_version,
                 "lstat": None, "engine_stat": None}
        if mountpoint and os.path.isabs(mountpoint):
            try:
                facts["lstat"] = os.lstat(mountpoint)
            except OSError:
                pass
        return facts

    def _refuse_host(self, volume_plan, refusal):
        raise BackupFailed("method", "method is host, but volume %s cannot be read from its directory here: %s. "
                                     "Use method auto (falls back to the Engine API) or api"
                           % (volume_plan["name"], refusal))

    def _check_host_method(self):
        """method host: refuse before any container is stopped, for what can be known without a helper."""
        if self.options.get("method") != "host":
            return
        for volume_plan in self.plan["volumes"]:
            refusal = mountpoint_refusal(self._host_facts(volume_plan), check_identity=False)
            if refusal is not None:
                self._refuse_host(volume_plan, refusal)

    def predicted_methods(self):
        """Check mode: {volume name: (method, why)} as far as it is known without a helper (the
        engine's stat of the volume root is compared only when the backup runs). Raises
        BackupFailed for method host where a check fails, as the real run does."""
        self._check_host_method()
        wanted = self.options.get("method") or "auto"
        found = {}
        for volume_plan in self.plan["volumes"]:
            refusal = None
            if wanted != "api":
                refusal = mountpoint_refusal(self._host_facts(volume_plan), check_identity=False)
            if wanted == "api":
                found[volume_plan["name"]] = ("api", "requested")
            elif refusal is None:
                found[volume_plan["name"]] = ("host", "running as root on the engine host, if the engine's stat "
                                                      "of the volume root matches the directory (compared when "
                                                      "the backup runs)")
            else:
                found[volume_plan["name"]] = ("api", refusal)
        return found

    def _identity_refusal(self, facts, helper_id):
        """The engine's stat of the volume root (through the helper), then the directory's own."""
        facts.pop("engine_stat_error", None)
        try:
            facts["engine_stat"] = engine_path_stat(self.api, helper_id, HELPER_MOUNT,
                                                    self.options.get("stall_timeout") or 120)
        except Exception as exc:  # pylint: disable=broad-except  # no stat: no fast path
            facts["engine_stat"] = None
            facts["engine_stat_error"] = "%s: %s" % (type(exc).__name__, exc)
        try:
            facts["lstat"] = os.lstat(facts["mountpoint"])
        except OSError:
            facts["lstat"] = None
        return mountpoint_refusal(facts)

    def _method(self, volume_plan, helper_id):
        """('host' | 'api', why: 'requested', or why the volume's directory is not read)."""
        wanted = self.options.get("method") or "auto"
        if wanted == "api":
            return "api", "requested"
        facts = self._host_facts(volume_plan)
        refusal = mountpoint_refusal(facts, check_identity=False)
        if refusal is None:
            refusal = self._identity_refusal(facts, helper_id)
            if refusal is not None and "not the engine's volume" in refusal:
                # A writer creating a file in the volume root between the two stats changes its
                # mtime: look once more before deciding the directory is another engine's volume.
                refusal = self._identity_refusal(facts, helper_id)
        if refusal is None:
            return "host", "running as root on the engine host"
        if wanted == "host":
            self._refuse_host(volume_plan, refusal)
        return "api", refusal

    def _archive_volume(self, volume_plan):
        final = os.path.join(self.backup_dir, volume_plan["archive"])
        helper_id, image = self._create_helper(volume_plan)
        sqlite_names = []

        def on_member(member):
            if len(sqlite_names) < 50 and sqlite_files([member.name]):
                sqlite_names.append(member.name)

        slow_ms = int(os.environ.get("PHASE0_TEST_SLOW_ARCHIVE_MS") or 0)
        last_mib = [0]

        def on_chunk(raw_bytes):
            if self._interrupted:
                raise Interrupted("interrupted by a signal")
            if slow_ms and raw_bytes // CHUNK_SIZE > last_mib[0]:
                last_mib[0] = raw_bytes // CHUNK_SIZE
                time.sleep(slow_ms / 1000.0)

        def progress(raw, packed, elapsed):
            self._log("volume=%s bytes=%d compressed=%d elapsed=%.1fs mb_s=%.1f" % (
                volume_plan["name"], raw, packed, elapsed, raw / MB / elapsed if elapsed else 0))

        chunks = None
        chunk_size = self.options.get("chunk_size") or CHUNK_SIZE
        try:
            method, reason = self._method(volume_plan, helper_id)
            self._log("volume=%s method=%s (%s)" % (volume_plan["name"], method, reason))
            # The output file first: an unread archive stream keeps the engine busy with the helper
            # (its removal then waits for the client timeout), so nothing may fail in between.
            with AtomicWriter(final) as writer:
                if method == "host":
                    # The helper stays until the end: while it exists the volume cannot be removed.
                    chunks = HostTarChunks(volume_plan["mountpoint"], chunk_size)
                    tuning = {"threads": effective_threads(self.options.get("threads")), "prefetch": 0,
                              "hash_thread": True, "job_size": HOST_JOB_SIZE}
                else:
                    chunks, dummy = get_archive_chunks(self.api, helper_id, HELPER_MOUNT + "/.", chunk_size,
                                                       self.options.get("stall_timeout") or 120)
                    tuning = {"threads": engine_stream_threads(self.options.get("threads"))}
                sink = writer
                limit = os.environ.get("PHASE0_TEST_ENOSPC_AFTER_BYTES")
                if limit:
                    sink = _FaultyWriter(writer, int(limit))
                result = archive_stream(
                    chunks, sink, codec=self.options.get("compression") or "zstd",
                    level=self.options.get("compression_level"), progress=progress, on_chunk=on_chunk,
                    on_member=on_member, **tuning)
                # Listed before the rename, in this run and durably in the lock: a failure or TERM
                # right after the rename is undone by _unpublish, and a run killed there leaves a lock
                # that names the archive, so the next run removes it (no manifest will cover it).
                self.published.append(final)
                self._record_lock_state()
                writer.commit()
        finally:
            if chunks is not None:
                chunks.close()
            self._remove_helper(helper_id)
        entry = {
            "name": volume_plan["name"], "archive": volume_plan["archive"], "path": final,
            "compression": result.codec, "compression_level": result.level, "threads": result.threads,
            "sha256": result.sha256, "bytes": result.bytes, "raw_sha256": result.raw_sha256,
            "raw_bytes": result.raw_bytes, "members": result.members, "file_bytes": result.file_bytes,
            "duration_s": result.duration_s, "mb_per_s": result.mb_per_s,
            "labels": volume_plan["labels"], "driver": volume_plan["driver"], "options": volume_plan.get("options"),
            "consistency": volume_plan["consistency"], "helper_image": image, "method": method,
            "method_reason": reason,
            "estimated_bytes": volume_plan.get("estimated_bytes"),
            "containers": [writer["name"] for writer in volume_plan["writers"]],
            "warnings": list(volume_plan["warnings"]), "created": _now(),
        }
        if method == "host" and chunks.warnings:
            entry["consistency"] = "none"
            entry["warnings"].append("volume %s changed while GNU tar read it (%s): the copy is not consistent "
                                     "(consistency: none); use stop or pause" % (
                                         volume_plan["name"], "; ".join(chunks.warnings[:3])))
        if sqlite_names:
            entry["sqlite_files"] = sqlite_names
            if entry["consistency"] == "live" and has_live_wal(sqlite_names):
                entry["consistency"] = "none"
                entry["warnings"].append(
                    "volume %s holds SQLite databases in WAL mode (%s) and was copied live: the copy is "
                    "not consistent (consistency: none); use stop or pause" % (
                        volume_plan["name"], ", ".join(sqlite_names[:5])))
        self.warnings.extend(entry["warnings"])
        self._log("volume=%s done bytes=%d compressed=%d members=%d seconds=%.3f mb_s=%s sha256=%s" % (
            entry["name"], entry["raw_bytes"], entry["bytes"], entry["members"], entry["duration_s"],
            entry["mb_per_s"], entry["sha256"]))
        return entry

    def _run_hooks(self, group):
        for hook in group["hooks"]:
            started = time.monotonic()
            try:
                exec_id = self.api.exec_create(hook["id"], ["/bin/sh", "-c", hook["command"]])["Id"]
                output = self.api.exec_start(exec_id)
                code = self.api.exec_inspect(exec_id).get("ExitCode")
            except Exception as exc:  # pylint: disable=broad-except  # a hook failure fails the group
                self._event(hook["id"], "pre-hook", False, time.monotonic() - started, str(exc))
                raise BackupFailed("hook", "pre-backup hook of %s failed: %s" % (hook["name"], exc))
            ok = code == 0
            self._event(hook["id"], "pre-hook", ok, time.monotonic() - started,
                        None if ok else "exit code %s" % code)
            if not ok:
                tail = (output or b"")[-500:].decode("utf-8", "replace")
                raise BackupFailed("hook", "pre-backup hook of %s exited %s: %s" % (hook["name"], code, tail))

    def _quiesce(self, group):
        """Stop/pause the group's containers concurrently; record them first (crash recovery)."""
        self._stopped_now.update(group["stop"])
        self._paused_now.update(group["pause"])
        self._record_lock_state()
        failures = []
        stops = bounded_map(
            lambda cid: self._timed_call(cid, "stop", lambda: self.api.stop(cid, timeout=self._stop_timeout(cid))),
            group["stop"], self.workers)
        pauses = bounded_map(lambda cid: self._timed_call(cid, "pause", lambda: self.api.pause(cid)),
                             group["pause"], self.workers)
        for outcome in list(stops) + list(pauses):
            if not (outcome.ok and outcome.value):
                failures.append(outcome.item)
        if failures:
            names = [self.plan["containers"][cid]["name"] for cid in failures]
            raise BackupFailed("engine", "could not stop/pause %s; the backup of %s was not taken"
                               % (", ".join(names), ", ".join(group["volumes"])))

    def _resume(self, group):
        """Start/unpause in `finally`; every outcome is reported separately."""
        def start(cid):
            try:
                running = (self.api.inspect_container(cid).get("State") or {}).get("Running")
            except Exception:  # pylint: disable=broad-except  # try to start anyway
                running = False
            if running:
                self._event(cid, "start", True, 0.0, note="already running")
                return True
            ok = self._timed_call(cid, "start", lambda: self.api.start(cid))
            if ok:
                self._submit_health(cid)
            return ok

        def unpause(cid):
            try:
                paused = (self.api.inspect_container(cid).get("State") or {}).get("Paused")
            except Exception:  # pylint: disable=broad-except
                paused = True
            if not paused:
                self._event(cid, "unpause", True, 0.0, note="not paused")
                return True
            return self._timed_call(cid, "unpause", lambda: self.api.unpause(cid))

        outcomes = list(bounded_map(start, group["stop"], self.workers)) + \
            list(bounded_map(unpause, group["pause"], self.workers))
        for outcome in outcomes:
            if outcome.ok and outcome.value:
                self._stopped_now.discard(outcome.item)
                self._paused_now.discard(outcome.item)
        self._record_lock_state()

    def _submit_health(self, container_id):
        if self._health_pool is None:
            self._health_pool = ThreadPoolExecutor(max_workers=self.workers)
        timeout = self.options.get("health_timeout")
        timeout = 120 if timeout is None else timeout
        self._health_futures.append(
            (container_id, self._health_pool.submit(wait_healthy, self.api, container_id, timeout,
                                                    recover=self._health_before.get(container_id) == "healthy")))

    def _collect_health(self):
        report = []
        for container_id, future in self._health_futures:
            outcome = future.result()
            info = self.plan["containers"].get(container_id, {})
            outcome.update(id=container_id[:12], name=info.get("name", container_id[:12]),
                           before=self._health_before.get(container_id))
            outcome["ok"], warning = health_verdict(outcome["before"], outcome)
            if warning:
                self.warnings.append(warning)
                self._log(warning)
            report.append(outcome)
            self._log("container=%s health=%s before=%s ok=%s seconds=%s" % (
                outcome["name"], outcome["status"], outcome["before"], outcome["ok"], outcome["seconds"]))
        if self._health_pool is not None:
            self._health_pool.shutdown(wait=True)
        return report

    def _on_signal(self, signum, frame):
        self._interrupted = True
        raise Interrupted("interrupted by signal %d" % signum)

    def _result(self):
        return {"volumes": self.volumes, "containers": self.events, "warnings": self.warnings,
                "recovered_containers": self.recovered, "cleaned_partials": self.cleaned,
                "removed_dead_run_archives": self.removed_dead_run_archives,
                "lock": getattr(self, "lock_info", None)}

    def run(self):
        ensure_private_dir(self.backup_dir)
        self.log = BackupLog(os.path.join(self.backup_dir, "backup.log"))
        previous = None
        try:
            previous = signal.signal(signal.SIGTERM, self._on_signal)
        except ValueError:  # not the main thread (unit tests)
            previous = None
        try:
            return self._run_locked()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            self.log.close()

    def _run_locked(self):
        info = self._take_lock()
        self._log("lock acquired %s pid=%d host=%s" % (info["path"], os.getpid(), socket.gethostname()))
        try:
            if info.get("broken_stale"):
                holder = info["broken_stale"]
                message = "broke a stale lock of pid %s on %s (%s)" % (
                    holder.get("pid"), holder.get("host"), holder.get("broken_because"))
                self.warnings.append(message)
                self._log(message)
                self._recover_from_stale(holder)
                self._remove_dead_run_archives(holder)
                if self.recovered and self.replan is not None:
                    # Containers came back: plan again so they are stopped/paused like any writer.
                    self.plan = self.replan()
            self.cleaned = remove_stale_partials(self.lock_dir, max_depth=3, older_than=self.lock.acquired_at)
            for path in self.cleaned:
                self._log("removed stale partial file %s" % path)
            for helper in self._clean_stale_helpers():
                self._log("removed stale helper container %s" % helper)
            ensure_private_dir(os.path.join(self.backup_dir, "volumes"))
            self._archive_groups()
            health = self._collect_health()
            result = self._result()
            result["health"] = health
            bad = [item for item in health if not item["ok"]]
            if bad:
                raise BackupFailed("unhealthy", "the archives were written, but container(s) did not come back "
                                                "to the health they had before the backup: %s" % ", ".join(
                                                    "%s (%s, was %s)" % (item["name"], item["status"],
                                                                         item["before"] or "running")
                                                    for item in bad),
                                   result)
            return result
        finally:
            self.lock.release()

    def _archive_groups(self):
        plans = dict((volume["name"], volume) for volume in self.plan["volumes"])
        try:
            self._check_host_method()
            for group in self.plan["groups"]:
                if group["hooks"]:
                    self._run_hooks(group)
                try:
                    self._quiesce(group)
                    if os.environ.get("PHASE0_TEST_FAIL_AFTER_STOP") == "1" and (group["stop"] or group["pause"]):
                        raise BackupFailed("fault_injection", "test fault injection: failing after stop "
                                                              "(PHASE0_TEST_FAIL_AFTER_STOP=1)")
                    for name in group["volumes"]:
                        self.volumes.append(self._archive_volume(plans[name]))
                finally:
                    if group["stop"] or group["pause"]:
                        self._resume(group)
        except BaseException as exc:
            self._collect_health_quietly()
            self._unpublish()
            raise self._as_failure(exc)

    def _collect_health_quietly(self):
        try:
            self._health = self._collect_health()
        except Exception:  # pylint: disable=broad-except  # the original error matters more
            self._health = []

    def _unpublish(self):
        """A failed run leaves no complete-looking archive: remove what this run published."""
        removed = []
        for path in self.published:
            try:
                os.unlink(path)
                removed.append(path)
            except FileNotFoundError:
                continue
        if removed:
            self._log("run failed: removed this run's archives %s" % ", ".join(removed))
        self.removed_on_failure = removed

    def _as_failure(self, exc):
        result = self._result()
        result["health"] = getattr(self, "_health", [])
        result["removed_on_failure"] = getattr(self, "removed_on_failure", [])
        result["volumes"] = []
        if isinstance(exc, BackupFailed):
            exc.result.update(result)
            self._log("run failed (%s): %s" % (exc.kind, exc.msg))
            return exc
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            kind, msg = "enospc", "out of disk space (ENOSPC) while writing the archive under %s: %s" % (
                self.backup_dir, exc)
        elif isinstance(exc, UnsafePathError):
            kind, msg = "io", "refused an unsafe output path: %s" % exc
        elif isinstance(exc, HostTarError):
            kind, msg = "io", "reading the volume's directory failed, nothing published: %s" % exc
        elif isinstance(exc, TruncatedArchive):
            kind, msg = "truncated", "the volume's tar stream was cut short, nothing published: %s" % exc
        elif isinstance(exc, (TarFormatError, CodecError)):
            kind, msg = "truncated", "the volume's tar stream is malformed, nothing published: %s" % exc
        elif isinstance(exc, (Interrupted, KeyboardInterrupt)):
            kind, msg = "interrupted", "the backup was interrupted (%s); containers were restarted" % exc
        elif isinstance(exc, OSError):
            kind, msg = "io", "I/O error while writing the backup: %s" % exc
        else:
            kind, msg = "engine", "backup failed: %s: %s" % (type(exc).__name__, exc)
        self._log("run failed (%s): %s" % (kind, msg))
        return BackupFailed(kind, msg, result)
