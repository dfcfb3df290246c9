"""backup_lock: one run per project and output dir; stale locks of dead local PIDs are broken,
live or foreign ones never (TARGETS 8, 9). Uses real processes, not mocks, for liveness."""
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.backup_lock import (
    BackupLock, LockBusy, boot_id, holder_status, lock_path, process_start_ticks, read_lock)

HOLD_SCRIPT = """
import sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.homeiq.phase0.plugins.module_utils.backup_lock import BackupLock
lock = BackupLock(sys.argv[2], "proj")
lock.acquire()
print("locked", flush=True)
time.sleep(float(sys.argv[3]))
"""


def collections_root():
    import ansible_collections.homeiq.phase0 as package
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(package.__file__))))


def write_holder(path, **fields):
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "boot_id": boot_id(),
              "start_ticks": process_start_ticks(os.getpid()), "created": "2026-01-01T00:00:00Z"}
    holder.update(fields)
    with open(path, "w") as handle:
        json.dump(holder, handle)


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_second_run_fails_fast_with_a_locked_message(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, collections_root(), str(tmp_path), "30"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with pytest.raises(LockBusy) as caught:
            BackupLock(str(tmp_path), "proj", timeout=1).acquire()
        waited = time.monotonic() - started
        assert str(caught.value).startswith("locked:")
        assert "pid %d" % holder.pid in str(caught.value)
        assert waited < 10
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_holder_is_taken_over(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, collections_root(), str(tmp_path), "30"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    lock = BackupLock(str(tmp_path), "proj")
    info = lock.acquire()
    try:
        assert info["broken_stale"]["pid"] == holder.pid
        assert "not running" in info["broken_stale"]["broken_because"]
    finally:
        lock.release()


def test_stale_lock_of_dead_pid_is_broken_and_reported(tmp_path):
    pid = dead_pid()
    write_holder(lock_path(str(tmp_path), "proj"), pid=pid, state={"stopped": ["abc"]})
    lock = BackupLock(str(tmp_path), "proj")
    info = lock.acquire()
    assert info["broken_stale"]["pid"] == pid
    assert info["broken_stale"]["state"] == {"stopped": ["abc"]}
    assert read_lock(info["path"])["pid"] == os.getpid()
    lock.release()
    assert not os.path.exists(info["path"])


def test_lock_of_a_live_pid_is_never_broken(tmp_path):
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        write_holder(lock_path(str(tmp_path), "proj"), pid=sleeper.pid,
                     start_ticks=process_start_ticks(sleeper.pid))
        with pytest.raises(LockBusy, match="pid %d is running" % sleeper.pid):
            BackupLock(str(tmp_path), "proj", timeout=0.3).acquire()
        assert read_lock(lock_path(str(tmp_path), "proj"))["pid"] == sleeper.pid
    finally:
        sleeper.kill()
        sleeper.wait()


def test_foreign_host_lock_is_never_broken(tmp_path):
    write_holder(lock_path(str(tmp_path), "proj"), pid=dead_pid(), host="another-host")
    with pytest.raises(LockBusy, match="another host"):
        BackupLock(str(tmp_path), "proj", timeout=0).acquire()


def test_update_records_state_durably(tmp_path):
    with BackupLock(str(tmp_path), "proj") as lock:
        lock.update(stopped=["c1"], paused=[])
        assert read_lock(lock.path)["state"] == {"stopped": ["c1"], "paused": []}


def test_a_shorter_update_overwrites_without_truncating(tmp_path):
    """The lock is rewritten in one write, padded, never emptied first (a kill mid-update must leave a
    readable holder); a shorter state still reads back exactly, and a long stale holder is overwritten."""
    path = lock_path(str(tmp_path), "proj")
    write_holder(path, pid=dead_pid(), host=socket.gethostname(), filler="x" * 5000)
    with BackupLock(str(tmp_path), "proj") as lock:
        assert read_lock(path)["pid"] == os.getpid() and "filler" not in read_lock(path)
        lock.update(stopped=["c%d" % index for index in range(200)], paused=[])
        long_size = os.path.getsize(path)
        lock.update(stopped=[], paused=[])
        assert os.path.getsize(path) == long_size
        with open(path, "rb") as handle:
            assert handle.read().endswith(b" ")
        assert read_lock(path)["state"] == {"stopped": [], "paused": []}


def test_locks_are_per_project(tmp_path):
    with BackupLock(str(tmp_path), "one"):
        with BackupLock(str(tmp_path), "two"):
            pass


def test_symlink_at_lock_path_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    os.symlink(str(target), lock_path(str(tmp_path), "proj"))
    with pytest.raises(OSError):
        BackupLock(str(tmp_path), "proj").acquire()
    assert target.read_text() == "keep"


def _probe(alive, ticks):
    return lambda pid: (alive, ticks)


@pytest.mark.parametrize("holder,probe,status", [
    ({"pid": 5, "host": "h", "boot_id": "b", "start_ticks": 7}, _probe(True, 7), "live"),
    ({"pid": 5, "host": "h", "boot_id": "b", "start_ticks": 7}, _probe(False, None), "dead"),
    ({"pid": 5, "host": "h", "boot_id": "b", "start_ticks": 7}, _probe(True, 99), "dead"),
    ({"pid": 5, "host": "h", "boot_id": "old", "start_ticks": 7}, _probe(True, 7), "dead"),
    ({"pid": 5, "host": "other", "boot_id": "b"}, _probe(False, None), "foreign"),
    ({"pid": 5, "host": "h"}, _probe(True, None), "live"),
    ({}, _probe(True, None), "dead"),
])
def test_holder_status(holder, probe, status):
    assert holder_status(holder, "h", "b", probe)[0] == status
