# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One backup run at a time per compose project and output directory.

Interface:
    lock_path(lock_dir, project) -> '<lock_dir>/.phase0-backup-<project>.lock'
    BackupLock(lock_dir, project, timeout=0, poll=0.1, log=None, details=None)
        .acquire() -> dict(path, waited_s, broken_stale=<previous holder dict or None>)
            raises LockBusy (a live holder, or one we cannot judge, kept it past `timeout` s).
        .update(**state)   rewrite the lock content with extra state (durably): the run records
                           the containers it stopped/paused so a run after a crash can restart them.
        .release()         unlink the file, then drop the flock.
        context manager: acquire on enter, release on exit.
    read_lock(path) -> holder dict or None
    holder_status(holder, host, boot_id, pid_probe) -> ('live'|'dead'|'foreign', reason)   (pure)
    LockBusy(Exception): .holder (dict), .path; str() is the user-facing "locked" message.

How the lock works: the file is opened O_NOFOLLOW and held with flock(LOCK_EX) for the whole
run, and it contains {pid, host, boot_id, start_ticks, ...} of the holder. When the flock is
free but the file names a holder, the content decides:
  - same host, and the pid is gone, or belongs to another process (start time differs), or the
    machine rebooted since (boot id differs)  -> stale: broken, and reported to the caller;
  - same host and the pid is alive               -> live: never broken, we wait;
  - another host                                 -> foreign: never broken (we cannot see its pids).
After taking the flock we check the path still names the inode we locked (a releasing holder
unlinks it), so two runs can never both believe they hold it.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import socket
import time

LOCK_PREFIX = ".phase0-backup-"
LOCK_SUFFIX = ".lock"
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class LockBusy(Exception):
    """The lock is held by a live (or foreign) holder; str() is the message for the user."""

    def __init__(self, path, holder, timeout, reason):
        self.path = path
        self.holder = holder or {}
        self.timeout = timeout
        self.reason = reason
        super().__init__(
            "locked: another backup run holds %s (pid %s on host %s since %s; %s); waited %s s "
            "(lock_timeout). Wait for it to finish%s."
            % (path, self.holder.get("pid", "?"), self.holder.get("host", "?"),
               self.holder.get("created", "?"), reason, timeout,
               "; this lock belongs to another host: remove the file by hand only if no run is active there"
               if reason.startswith("foreign") else ""))


def lock_path(lock_dir, project):
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", project or "volumes") or "volumes"
    return os.path.join(lock_dir, LOCK_PREFIX + safe + LOCK_SUFFIX)


def boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return None


def process_start_ticks(pid):
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or None."""
    try:
        with open("/proc/%d/stat" % int(pid)) as handle:
            data = handle.read()
    except (OSError, ValueError):
        return None
    # The command name (field 2) may contain spaces and parentheses; fields restart after the last ')'.
    fields = data[data.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def pid_probe(pid):
    """(alive, start_ticks) of a local pid."""
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False, None
    except PermissionError:
        pass
    except (OverflowError, ValueError):
        return False, None
    return True, process_start_ticks(pid)


def holder_status(holder, host, this_boot_id, probe=pid_probe):
    """Judge a lock holder: ('live'|'dead'|'foreign', reason). Pure apart from `probe`."""
    if not holder or not holder.get("pid"):
        return "dead", "lock file has no holder"
    if holder.get("host") != host:
        return "foreign", "foreign host %s" % holder.get("host")
    if holder.get("boot_id") and this_boot_id and holder["boot_id"] != this_boot_id:
        return "dead", "host rebooted since pid %s took the lock" % holder["pid"]
    alive, ticks = probe(holder["pid"])
    if not alive:
        return "dead", "pid %s is not running" % holder["pid"]
    if holder.get("start_ticks") is not None and ticks is not None and int(holder["start_ticks"]) != ticks:
        return "dead", "pid %s now belongs to another process" % holder["pid"]
    return "live", "pid %s is running" % holder["pid"]


def read_lock(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read(65536)
    except OSError:
        return None
    return _parse(data)


def _parse(data):
    try:
        holder = json.loads(data.decode("utf-8")) if data.strip() else None
    except (ValueError, UnicodeDecodeError):
        return {"pid": None, "unparsable": True}
    return holder if isinstance(holder, dict) else None


class BackupLock:
    """The run lock (see module doc)."""

    def __init__(self, lock_dir, project, timeout=0, poll=0.1, details=None):
        self.path = lock_path(lock_dir, project)
        self.project = project
        self.timeout = max(0.0, float(timeout or 0))
        self.poll = poll
        self.host = socket.gethostname()
        self.boot_id = boot_id()
        self.details = dict(details or {})
        self.state = {}
        self._fd = None
        self.acquired_at = None

    def _content(self):
        body = {
            "pid": os.getpid(), "host": self.host, "boot_id": self.boot_id,
            "start_ticks": process_start_ticks(os.getpid()), "project": self.project,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.acquired_at or time.time())),
        }
        body.update(self.details)
        body["state"] = self.state
        return json.dumps(body, sort_keys=True).encode("utf-8")

    def _write(self):
        # One write over the old content, padded with spaces (JSON allows them) instead of a truncate
        # first: a run killed mid-update leaves the old or the new holder, never an empty file that
        # would hide the containers it stopped and the archives it published from the next run.
        data = self._content()
        size = os.fstat(self._fd).st_size
        if len(data) < size:
            data += b" " * (size - len(data))
        os.pwrite(self._fd, data, 0)
        os.fsync(self._fd)

    def _try_once(self):
        """One attempt: returns (acquired, broken_holder, busy_holder, busy_reason)."""
        fd = os.open(self.path, _OPEN_FLAGS, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                return False, None, read_lock(self.path), "held by a running process (flock)"
            try:
                same = os.stat(self.path, follow_symlinks=False)
            except FileNotFoundError:
                return False, None, None, "released while we waited"
            if (same.st_ino, same.st_dev) != (os.fstat(fd).st_ino, os.fstat(fd).st_dev):
                return False, None, None, "released while we waited"
            os.lseek(fd, 0, os.SEEK_SET)
            holder = _parse(os.read(fd, 65536))
            broken = None
            if holder is not None:
                status, reason = holder_status(holder, self.host, self.boot_id)
                if status != "dead":
                    return False, None, holder, reason
                broken = dict(holder, broken_because=reason)
            self._fd, fd = fd, None
            return True, broken, None, None
        finally:
            if fd is not None:
                os.close(fd)

    def acquire(self):
        started = time.monotonic()
        deadline = started + self.timeout
        while True:
            acquired, broken, holder, reason = self._try_once()
            if acquired:
                self.acquired_at = time.time()
                self._write()
                return {"path": self.path, "waited_s": round(time.monotonic() - started, 3),
                        "broken_stale": broken}
            if time.monotonic() >= deadline:
                raise LockBusy(self.path, holder, self.timeout, reason or "busy")
            time.sleep(min(self.poll, max(0.0, deadline - time.monotonic())) or self.poll)

    def update(self, **state):
        """Record run state (e.g. stopped containers) in the lock file, durably."""
        self.state.update(state)
        if self._fd is not None:
            self._write()

    def release(self):
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, exc_type, exc, tb):
        self.release()
        return False
