"""volume_backup against the real engine (TARGETS 1-3, 8-12, 14, 25, and check mode).

Volumes are filled by a busybox fixture container; the stack is plain containers carrying the
compose labels. Volumes are 20-30 MB except the SIGKILL test (200 MB).
"""
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

import pytest

from backup_stack import (FILL_MIXED, IMAGE, BackupStack, communicate_or_explain, helpers_left, parse_result,
                          run_module_async, tree, wait_for)
from helpers import run_module, tmpfs_inside

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_extract import extract_archive
from ansible_collections.homeiq.phase0.plugins.module_utils.backup_lock import lock_path, read_lock

pytestmark = pytest.mark.integration

HEALTHY_ONCE = {  # healthy on first start, unhealthy after any restart (the marker lives in the volume)
    "test": ["CMD-SHELL", "grep -q ok /tmp/health"], "interval": 500000000, "timeout": 1000000000,
    "retries": 1, "start_period": 0}
HEALTHY_ONCE_CMD = ("if [ -e /data/.started ]; then echo bad > /tmp/health; else touch /data/.started; "
                    "echo ok > /tmp/health; fi; trap 'exit 0' TERM; while :; do sleep 0.2; done")
ALWAYS_HEALTHY = dict(HEALTHY_ONCE, test=["CMD-SHELL", "true"])


@pytest.fixture
def stack(docker_client, prefix):
    made = BackupStack(docker_client, prefix)
    yield made
    made.cleanup()


def backup_dir(tmp_path, stamp="20260204_111804"):
    return str(tmp_path / "backups" / ("phase0_" + stamp))


def backup(stack, target, check=False, env=None, **args):
    params = {"project_name": stack.project, "backup_dir": target, "stop_timeout": 5, "health_timeout": 30}
    params.update(args)
    return run_module("homeiq.phase0.volume_backup", params, check=check, env=env)[0]


def actions(result):
    return [(event["name"].split("-", 1)[-1], event["action"], event["ok"]) for event in result["containers"]]


@pytest.mark.parametrize("method", ["api", "host"])
def test_backup_stops_restarts_and_round_trips(stack, tmp_path, docker_client, method):
    """Default consistency stops the writer, archives, starts it, waits for health; the archive
    restores byte for byte with owners, modes, links (TARGETS 11, 18 via our extractor), from the
    Engine API and from GNU tar on the Mountpoint alike."""
    volume = stack.volume("data", fill=FILL_MIXED.format(mb=20))
    stack.container("api", {volume: True}, healthcheck=ALWAYS_HEALTHY)
    stack.container("reader", {volume: False})
    wait_for(lambda: stack.state(stack.containers[0]).get("Health", {}).get("Status") == "healthy", 30, 0.2)
    old_umask = os.umask(0o022)
    try:
        result = backup(stack, backup_dir(tmp_path), method=method)
    finally:
        os.umask(old_umask)
    assert not result.get("failed"), result.get("msg")
    assert result["volumes"][0]["method"] == method and result["volumes"][0]["method_reason"] == (
        "requested" if method == "api" else "running as root on the engine host")
    assert actions(result) == [("api", "stop", True), ("api", "start", True)]
    assert [(h["name"].split("-", 1)[-1], h["status"]) for h in result["health"]] == [("api", "healthy")]
    assert stack.state(stack.containers[0])["Running"] and stack.state(stack.containers[1])["Running"]
    entry = result["volumes"][0]
    assert entry["consistency"] == "stop" and entry["containers"] == ["%s-api" % stack.project]
    assert entry["labels"]["com.docker.compose.volume"] == "data" and entry["driver"] == "local"
    assert entry["raw_bytes"] > 20 << 20 and entry["bytes"] < entry["raw_bytes"]
    # ., sub, empty, sub/random.bin, text.txt, link, hard, fifo
    assert entry["members"] == 8
    path = os.path.join(backup_dir(tmp_path), entry["archive"])
    # TARGET 25: private modes whatever the umask.
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for directory in (backup_dir(tmp_path), os.path.dirname(path)):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    with open(os.path.join(backup_dir(tmp_path), "backup.log")) as handle:
        log = handle.read()
    assert "volume=%s done" % volume in log and "mb_s=" in log
    assert "volume=%s method=%s (" % (volume, method) in log
    staging = tmp_path / "staging"
    staging.mkdir()
    facts = extract_archive(path, str(staging), expected=entry)
    assert facts["raw_sha256"] == entry["raw_sha256"]
    source = tree(stack.mountpoint(volume))
    restored = tree(str(staging))
    assert restored == source
    assert not helpers_left(docker_client, stack.project)
    assert not os.path.exists(lock_path(str(tmp_path / "backups"), stack.project)), "the run lock is released"


def archive_members(path):
    """{name: (type, permission bits, uid, gid, size, mtime, linkname, sha256 of the data)} of an archive."""
    import hashlib
    import io
    import tarfile

    from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import DecompressingReader

    with open(path, "rb") as handle:
        raw = DecompressingReader(handle, "zstd")
        data = b"".join(iter(lambda: raw.read(1 << 20), b""))
    found = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            content = tar.extractfile(member).read() if member.isfile() else b""
            found[member.name] = (member.type, member.mode & 0o7777, member.uid, member.gid, member.size,
                                  member.mtime, member.linkname, hashlib.sha256(content).hexdigest())
    return found


def test_host_and_api_archives_hold_the_same_members(stack, tmp_path):
    """The fast path writes the archive the Engine API would: same names, types, modes, owners,
    sizes, whole-second mtimes, link targets and bytes, member for member (long names included)."""
    volume = stack.volume("data", fill=FILL_MIXED.format(mb=2) + " && mkdir -p /data/" + "d" * 120 +
                          " && echo deep > /data/" + "d" * 120 + "/" + "f" * 120 + " && touch '/data/a b ü'")
    results = {}
    for method in ("api", "host"):
        target = backup_dir(tmp_path, stamp="20260204_11180%d" % len(results))
        result = backup(stack, target, method=method, helper_image=IMAGE)
        assert not result.get("failed"), result.get("msg")
        entry = result["volumes"][0]
        assert entry["method"] == method
        results[method] = (entry, archive_members(os.path.join(target, entry["archive"])))
    api, host = results["api"][1], results["host"][1]
    assert len(api) == results["api"][0]["members"] == results["host"][0]["members"] == 11
    assert host == api
    assert results["api"][0]["file_bytes"] == results["host"][0]["file_bytes"]


def test_volume_with_driver_options_is_read_through_the_engine(stack, tmp_path, docker_client):
    """A local volume with driver options (here tmpfs; NFS and CIFS alike) is only mounted while a
    container uses it: auto reads it through the engine and says why; method=host refuses."""
    volume = stack.volume("scratch", driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=8m"})
    writer = stack.container("api", {volume: True})
    target = backup_dir(tmp_path)
    result = backup(stack, target, helper_image=IMAGE)
    assert not result.get("failed"), result.get("msg")
    entry = result["volumes"][0]
    assert entry["method"] == "api" and "driver options" in entry["method_reason"]
    with open(os.path.join(target, "backup.log")) as handle:
        assert "volume=%s method=api (the local volume has driver options" % volume \
            in handle.read()
    # Check mode predicts both: auto would use the engine, method=host fails as the real run does.
    planned = backup(stack, backup_dir(tmp_path, stamp="20260204_111806"), check=True, helper_image=IMAGE)
    assert planned["plan"]["volumes"][0]["method"] == "api"
    assert "driver options" in planned["plan"]["volumes"][0]["method_reason"]
    checked = backup(stack, backup_dir(tmp_path, stamp="20260204_111806"), check=True, method="host",
                     helper_image=IMAGE)
    assert checked.get("failed") and checked["error_kind"] == "method" and "driver options" in checked["msg"]
    forced = backup(stack, backup_dir(tmp_path, stamp="20260204_111805"), method="host", helper_image=IMAGE)
    assert forced.get("failed") and forced["error_kind"] == "method"
    assert volume in forced["msg"] and "driver options" in forced["msg"] and "method auto" in forced["msg"]
    # Refused before anything was stopped: no container action at all, the writer kept running.
    assert forced["containers"] == [] and stack.state(writer)["Running"]
    assert not os.path.exists(os.path.join(backup_dir(tmp_path, stamp="20260204_111805"), entry["archive"]))
    assert not helpers_left(docker_client, stack.project)


def test_volume_with_a_mount_inside_is_read_through_the_engine(stack, tmp_path, docker_client):
    """The engine mounts a volume into its helper recursively, so a file system mounted inside the
    volume's directory on the host is part of the archive. auto must not read such a directory with
    GNU tar (it would have to cross into the mount): it uses the engine, and the archive holds the
    mounted file; method=host refuses before any container is stopped."""
    volume = stack.volume("data", fill="echo top > /data/top")
    writer = stack.container("api", {volume: True})
    with tmpfs_inside(docker_client.api.inspect_volume(volume)["Mountpoint"], "cache dir",
                      "on the mounted file system\n") as nested:
        target = backup_dir(tmp_path)
        result = backup(stack, target, helper_image=IMAGE)
        assert not result.get("failed"), result.get("msg")
        entry = result["volumes"][0]
        assert entry["method"] == "api", entry
        assert "mounted inside the volume's directory (%s)" % nested in entry["method_reason"]
        members = archive_members(os.path.join(target, entry["archive"]))
        assert "./cache dir/inside" in members and "./top" in members, sorted(members)
        forced_dir = backup_dir(tmp_path, stamp="20260204_111805")
        forced = backup(stack, forced_dir, method="host", helper_image=IMAGE)
        assert forced.get("failed") and forced["error_kind"] == "method"
        assert "mounted inside" in forced["msg"] and forced["containers"] == []
        assert stack.state(writer)["Running"]


def test_check_mode_reports_the_plan_and_writes_nothing(stack, tmp_path):
    volume = stack.volume("data", fill="dd if=/dev/zero of=/data/z bs=1M count=3 2>/dev/null")
    stack.container("api", {volume: True})
    target = backup_dir(tmp_path)
    result = backup(stack, target, check=True)
    assert result["changed"] is True
    assert result["plan"]["stop"] == ["%s-api" % stack.project]
    assert result["plan"]["volumes"][0]["estimated_bytes"] >= 3 << 20
    # As root next to the engine a plain local volume would be read from its directory.
    assert result["plan"]["volumes"][0]["method"] == "host", result["plan"]
    assert backup(stack, target, check=True, method="api")["plan"]["volumes"][0]["method_reason"] == "requested"
    assert not os.path.exists(target)
    assert stack.state(stack.containers[0])["Running"]


def test_failure_after_stop_restarts_the_container(stack, tmp_path):
    """TARGET 10: the archive step raises after the stop; the container runs again, restart reported."""
    volume = stack.volume("data", fill="echo x > /data/x")
    container = stack.container("db", {volume: True}, labels={"docker-volume-backup.stop-during-backup": "true"})
    result = backup(stack, backup_dir(tmp_path), env={"PHASE0_TEST_FAIL_AFTER_STOP": "1"})
    assert result["failed"] and result["error_kind"] == "fault_injection"
    assert actions(result) == [("db", "stop", True), ("db", "start", True)]
    assert stack.state(container)["Running"]
    assert not os.listdir(os.path.join(backup_dir(tmp_path), "volumes"))


def test_pause_path_runs_hook_first_and_unpauses_on_every_path(stack, tmp_path):
    """TARGET 12: pre-hook before the pause (exec on a paused container would fail), unpause on
    success and on the error path."""
    volume = stack.volume("data", fill="echo x > /data/x")
    container = stack.container("db", {volume: True}, labels={
        "homeiq.phase0.consistency": "pause", "homeiq.phase0.backup-pre": "echo dumped > /data/dump.txt"})
    result = backup(stack, backup_dir(tmp_path))
    assert not result.get("failed"), result.get("msg")
    assert actions(result) == [("db", "pre-hook", True), ("db", "pause", True), ("db", "unpause", True)]
    # ., x and the dump.txt the hook wrote before the pause
    assert result["volumes"][0]["consistency"] == "pause" and result["volumes"][0]["members"] == 3
    assert not stack.state(container)["Paused"]
    failed = backup(stack, backup_dir(tmp_path, "20260204_111805"), env={"PHASE0_TEST_FAIL_AFTER_STOP": "1"})
    assert failed["failed"]
    assert actions(failed)[-2:] == [("db", "pause", True), ("db", "unpause", True)]
    assert not stack.state(container)["Paused"] and stack.state(container)["Running"]


def test_stopped_stack_is_backed_up_with_its_own_image(stack, tmp_path):
    """No running container: the volume is idle, nothing is stopped or started, and the helper is
    created from the image of the project's stopped container (no helper_image, nothing pulled)."""
    volume = stack.volume("data", fill="echo x > /data/x")
    container = stack.container("db", {volume: True})
    container.stop(timeout=2)
    result = backup(stack, backup_dir(tmp_path))
    assert not result.get("failed"), result.get("msg")
    entry = result["volumes"][0]
    assert entry["consistency"] == "idle" and entry["members"] == 2
    assert entry["helper_image"] == container.image.id
    assert result["containers"] == [] and not stack.state(container)["Running"]


def test_live_copy_is_recorded_and_warned(stack, tmp_path):
    """TARGET 14: a running writer left running -> consistency live plus a warning."""
    volume = stack.volume("data", fill="echo x > /data/x")
    container = stack.container("api", {volume: True})
    result = backup(stack, backup_dir(tmp_path), consistency="live")
    assert not result.get("failed"), result.get("msg")
    assert result["volumes"][0]["consistency"] == "live"
    assert any("consistency: live" in warning for warning in result["warnings"])
    assert result["containers"] == [] and stack.state(container)["Running"]


def test_unhealthy_after_restart_is_reported(stack, tmp_path):
    """TARGET 11: restart verified by health; an unhealthy container fails the task by name."""
    volume = stack.volume("data")
    container = stack.container("api", {volume: True}, healthcheck=HEALTHY_ONCE, command=HEALTHY_ONCE_CMD)
    wait_for(lambda: stack.state(container).get("Health", {}).get("Status") == "healthy", 30, 0.2)
    result = backup(stack, backup_dir(tmp_path), health_timeout=20)
    assert result["failed"] and result["error_kind"] == "unhealthy"
    assert "%s-api (unhealthy, was healthy)" % stack.project in result["msg"]
    assert [(h["before"], h["status"], h["ok"]) for h in result["health"]] == [("healthy", "unhealthy", False)]
    assert actions(result) == [("api", "stop", True), ("api", "start", True)]
    assert os.path.exists(os.path.join(backup_dir(tmp_path), "volumes", volume + ".tar.zst"))


def test_unhealthy_before_and_after_is_a_warning_not_a_failure(stack, tmp_path):
    """A container already unhealthy when it was stopped only has to come back to that: running again."""
    volume = stack.volume("data", fill="echo x > /data/x")
    sick = stack.container("sick", {volume: True}, healthcheck=dict(ALWAYS_HEALTHY, test=["CMD-SHELL", "false"]))
    wait_for(lambda: stack.state(sick).get("Health", {}).get("Status") == "unhealthy", 30, 0.2)
    result = backup(stack, backup_dir(tmp_path), health_timeout=20)
    assert not result.get("failed"), result.get("msg")
    assert actions(result) == [("sick", "stop", True), ("sick", "start", True)]
    assert [(h["before"], h["status"], h["ok"]) for h in result["health"]] == [("unhealthy", "unhealthy", True)]
    assert any("%s-sick was already unhealthy before the backup" % stack.project in warning
               for warning in result["warnings"])
    assert stack.state(sick)["Running"]
    assert os.path.exists(os.path.join(backup_dir(tmp_path), "volumes", volume + ".tar.zst"))


def test_enospc_fails_cleanly_and_restarts(stack, tmp_path):
    """TARGET 3: a tiny tmpfs as output dir; distinct msg, no partial, no manifest, container running."""
    volume = stack.volume("data", fill="dd if=/dev/urandom of=/data/r bs=1M count=20 2>/dev/null")
    container = stack.container("db", {volume: True})
    mount = tmp_path / "tiny"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=False).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        target = str(mount / "backups" / "phase0_20260204_111804")
        result = backup(stack, target, space_margin=0)
        assert result["failed"] and result["error_kind"] == "enospc"
        assert result["msg"].startswith("out of disk space (ENOSPC)")
        assert actions(result) == [("db", "stop", True), ("db", "start", True)]
        assert stack.state(container)["Running"]
        leftovers = [name for _root, _dirs, files in os.walk(str(mount)) for name in files]
        assert leftovers == ["backup.log"]
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_failed_run_removes_the_archives_it_had_published(stack, tmp_path):
    """A run that fails on its second volume leaves no complete-looking file of its first one."""
    small = stack.volume("a", fill="echo x > /data/x")
    big = stack.volume("b", fill="dd if=/dev/urandom of=/data/r bs=1M count=8 2>/dev/null")
    container = stack.container("db", {small: True, big: True})
    result = backup(stack, backup_dir(tmp_path), env={"PHASE0_TEST_ENOSPC_AFTER_BYTES": str(1 << 20)})
    assert result["failed"] and result["error_kind"] == "enospc"
    assert result["removed_on_failure"] == [os.path.join(backup_dir(tmp_path), "volumes", small + ".tar.zst")]
    assert os.listdir(os.path.join(backup_dir(tmp_path), "volumes")) == []
    assert actions(result) == [("db", "stop", True), ("db", "start", True)]
    assert stack.state(container)["Running"]


def test_preflight_refuses_without_space(stack, tmp_path):
    volume = stack.volume("data", fill="dd if=/dev/zero of=/data/z bs=1M count=2 2>/dev/null")
    stack.container("db", {volume: True})
    result = backup(stack, backup_dir(tmp_path), space_margin=1e9)
    assert result["failed"] and result["error_kind"] == "space"
    assert str(result["free_bytes"]) in result["msg"] and "space_margin" in result["msg"]
    assert not os.path.exists(backup_dir(tmp_path))
    assert stack.state(stack.containers[0])["Running"]


def test_symlink_at_output_path_is_refused(stack, tmp_path):
    """TARGET 25: a pre-created symlink at the archive path is never followed."""
    volume = stack.volume("data", fill="echo x > /data/x")
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    target = backup_dir(tmp_path)
    os.makedirs(os.path.join(target, "volumes"))
    os.symlink(str(victim), os.path.join(target, "volumes", volume + ".tar.zst"))
    result = backup(stack, target, helper_image="phase0-fixture/busybox")
    assert result["failed"] and "symlink" in result["msg"]
    assert victim.read_text() == "keep me"


def test_concurrent_runs_second_is_locked(stack, tmp_path):
    """TARGET 8: two runs 100 ms apart with lock_timeout 1: the second fails 'locked', writes no archive."""
    volume = stack.volume("data", fill="dd if=/dev/urandom of=/data/r bs=1M count=20 2>/dev/null")
    common = {"project_name": stack.project, "helper_image": "phase0-fixture/busybox", "lock_timeout": 1}
    first = run_module_async("homeiq.phase0.volume_backup", dict(common, backup_dir=backup_dir(tmp_path)),
                             env={"PHASE0_TEST_SLOW_ARCHIVE_MS": "300"})
    lock = lock_path(str(tmp_path / "backups"), stack.project)
    wait_for(lambda: os.path.exists(lock), 60)
    time.sleep(0.1)
    second, _proc = run_module("homeiq.phase0.volume_backup",
                               dict(common, backup_dir=backup_dir(tmp_path, "20260204_111805")))
    out, err = first.communicate(timeout=300)
    first_result = parse_result(out)
    assert second["failed"] and second["error_kind"] == "locked" and second["msg"].startswith("locked:")
    assert not os.path.exists(os.path.join(backup_dir(tmp_path, "20260204_111805"), "volumes"))
    assert not first_result.get("failed"), first_result.get("msg")
    assert os.path.exists(os.path.join(backup_dir(tmp_path), "volumes", volume + ".tar.zst"))


def test_stale_lock_of_dead_pid_is_broken_live_one_is_not(stack, tmp_path):
    """TARGET 9 through the module: dead PID broken and logged; live PID kept."""
    stack.volume("data", fill="echo x > /data/x")
    root = tmp_path / "backups"
    root.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = lock_path(str(root), stack.project)
    with open(lock, "w") as handle:
        json.dump({"pid": dead.pid, "host": os.uname()[1], "created": "2026-01-01T00:00:00Z"}, handle)
    result = backup(stack, backup_dir(tmp_path), helper_image="phase0-fixture/busybox")
    assert not result.get("failed"), result.get("msg")
    assert result["lock"]["broken_stale"]["pid"] == dead.pid
    assert any("broke a stale lock of pid %d" % dead.pid in warning for warning in result["warnings"])
    with open(os.path.join(backup_dir(tmp_path), "backup.log")) as handle:
        assert "broke a stale lock of pid %d" % dead.pid in handle.read()
    live = subprocess.Popen(["sleep", "60"])
    try:
        with open(lock, "w") as handle:
            json.dump({"pid": live.pid, "host": os.uname()[1]}, handle)
        result = backup(stack, backup_dir(tmp_path, "20260204_111805"), helper_image="phase0-fixture/busybox")
        assert result["failed"] and result["error_kind"] == "locked"
        assert read_lock(lock)["pid"] == live.pid
    finally:
        live.kill()
        live.wait()


@pytest.mark.slow
def test_sigkill_mid_backup_then_next_run_recovers(stack, tmp_path, docker_client):
    """TARGET 2: SIGKILL the module after 10 MB of a 200 MB volume: no final file, no manifest; the
    next run removes the stale partial and the archive the dead run had finished (a_first, under its
    final name in a directory no manifest will ever cover), restarts the container the dead run
    stopped, and its output restores byte for byte."""
    first = stack.volume("a_first", fill="seq 1 50000 > /data/f")
    volume = stack.volume("big", fill="dd if=/dev/urandom of=/data/big bs=1M count=200 2>/dev/null && "
                                      "seq 1 100000 > /data/t && ln -s t /data/l")
    container = stack.container("db", {volume: True, first: True})
    killed_dir = backup_dir(tmp_path)
    proc = run_module_async("homeiq.phase0.volume_backup",
                            {"project_name": stack.project, "backup_dir": killed_dir, "stop_timeout": 5},
                            # 50 ms per MiB: the 200 MiB stream lasts >= 10 s, well past the first
                            # progress line (after 2 s), so the kill always lands mid-volume.
                            env={"PHASE0_TEST_SLOW_ARCHIVE_MS": "50"})
    partial = os.path.join(killed_dir, "volumes", volume + ".tar.zst.partial")
    wait_for(lambda: os.path.exists(partial) and os.path.getsize(partial) >= 10 << 20, 120)
    # An operator watching the run sees the volume and how far along it is in backup.log while the
    # archive is still being written (the progress requirement), not only once it is done.
    progress = re.compile(r"volume=%s bytes=(\d+) compressed=(\d+) elapsed=[\d.]+s mb_s=([\d.]+)$" % re.escape(volume),
                          re.M)
    log_path = os.path.join(killed_dir, "backup.log")
    seen = wait_for(lambda: progress.search(open(log_path).read()), 120)
    assert 0 < int(seen.group(1)) < 200 << 20 and int(seen.group(2)) > 0 and float(seen.group(3)) > 0
    assert not os.path.exists(os.path.join(killed_dir, "volumes", volume + ".tar.zst"))
    assert "volume=%s done" % volume not in open(log_path).read()
    holder = read_lock(lock_path(os.path.dirname(killed_dir), stack.project))
    finished = os.path.join(killed_dir, "volumes", first + ".tar.zst")
    assert os.path.isfile(finished) and holder["state"]["published"] == ["volumes/%s.tar.zst" % first]
    # The helper holds the volume read-only and is never started (get_archive needs no running process).
    helper = helpers_left(docker_client, stack.project)
    assert len(helper) == 1 and helper[0].attrs["State"]["Status"] == "created", helper
    assert [(m["Name"], m["RW"]) for m in helper[0].attrs["Mounts"]] == [(volume, False)]
    os.kill(holder["pid"], signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not os.path.exists(os.path.join(killed_dir, "volumes", volume + ".tar.zst"))
    assert not os.path.exists(os.path.join(killed_dir, "manifest.json"))
    assert not stack.state(container)["Running"], "the killed run had stopped the container"
    next_dir = backup_dir(tmp_path, "20260204_111900")
    result = backup(stack, next_dir)
    assert not result.get("failed"), result.get("msg")
    assert result["cleaned_partials"] == [partial]
    assert result["removed_dead_run_archives"] == [finished] and not os.path.exists(finished)
    assert sorted(os.listdir(os.path.join(killed_dir, "volumes"))) == []
    assert [(item["action"], item["ok"]) for item in result["recovered_containers"]] == [("start", True)]
    # Recovered, then planned again: the writer is stopped for the archive like any other writer.
    assert actions(result) == [("db", "start (recovery)", True), ("db", "stop", True), ("db", "start", True)]
    assert [item["consistency"] for item in result["volumes"]] == ["stop", "stop"]
    assert result["plan"]["stop"] == ["%s-db" % stack.project]
    assert stack.state(container)["Running"]
    assert not helpers_left(docker_client, stack.project)
    entry = result["volumes"][1]
    assert entry["name"] == volume
    staging = tmp_path / "staging"
    staging.mkdir()
    extract_archive(os.path.join(next_dir, entry["archive"]), str(staging), expected=entry)
    assert tree(str(staging)) == tree(stack.mountpoint(volume))


def test_sigterm_mid_backup_restarts_and_publishes_nothing(stack, tmp_path, docker_client):
    """A TERM (an AWX job cancelled, a systemd stop) mid-volume: the module ends with
    error_kind interrupted, the container it stopped runs again, its helper is gone, and no file
    with a final name, partial or manifest is left."""
    volume = stack.volume("term", fill="dd if=/dev/urandom of=/data/big bs=1M count=120 2>/dev/null")
    container = stack.container("db", {volume: True})
    target = backup_dir(tmp_path)
    proc = run_module_async("homeiq.phase0.volume_backup",
                            {"project_name": stack.project, "backup_dir": target, "stop_timeout": 5,
                             "health_timeout": 30}, env={"PHASE0_TEST_SLOW_ARCHIVE_MS": "20"})
    partial = os.path.join(target, "volumes", volume + ".tar.zst.partial")
    wait_for(lambda: os.path.exists(partial) and os.path.getsize(partial) >= 5 << 20, 120)
    assert not stack.state(container)["Running"], "the writer is stopped while its volume is archived"
    holder = read_lock(lock_path(os.path.dirname(target), stack.project))
    os.kill(holder["pid"], signal.SIGTERM)
    stdout, _stderr = communicate_or_explain(proc, 120, os.path.join(target, "backup.log"), holder["pid"])
    result = parse_result(stdout)
    assert result.get("failed") and result.get("error_kind") == "interrupted", result.get("msg")
    assert ("db", "start", True) in actions(result), result["containers"]
    assert stack.state(container)["Running"]
    assert not helpers_left(docker_client, stack.project)
    left = [name for _dir, _subdirs, names in os.walk(target) for name in names]
    assert sorted(left) == ["backup.log"], left
