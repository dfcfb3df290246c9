"""Back up a copy of the demo stack, destroy its data, roll back: every byte and every stat field returns.

Round trip (TARGETS 13, 18, 21): a volume subtree with uid 70/999, modes 0700/2775/1777/4755, a hardlink
pair, relative and absolute symlinks, a FIFO, an empty dir, a 0-byte file, names with spaces and non-ASCII,
a sparse file and a 200 MB random file; the SQLite writer keeps committing
during the backup. rollback.yml without rollback_confirm fails at once.
"""
import glob
import json
import os
import shutil
import subprocess
import time

import pytest

from helpers import DEMO_SRC, ROOT, compose, run_playbook
from test_volume_restore import POPULATE, listing, sh

needs_backup_core = pytest.mark.skipif(
    not os.path.exists(os.path.join(ROOT, "plugins", "modules", "volume_backup.py")),
    reason="needs homeiq.phase0.volume_backup (backup data core)")

DEBIAN = "phase0-fixture/debian-python:latest"
# The round trip names a 200 MB random file (test_volume_restore's own round trips use 50 MB).
ROUND_TRIP_MB = 200
SQLITE_CHECK = ("import sqlite3; c = sqlite3.connect('file:/d/events.db?mode=ro', uri=True); "
                "print(c.execute('PRAGMA integrity_check').fetchone()[0]); "
                "print(c.execute('SELECT count(*), min(id), max(id) FROM events').fetchone())")


def newest_manifest(out):
    path = sorted(glob.glob(os.path.join(str(out), "backups", "phase0_*", "manifest.json")))[-1]
    with open(path) as handle:
        return dict(json.load(handle), _dir=os.path.dirname(path))


def archived_sqlite(out, volume, scratch):
    """PRAGMA integrity_check and (count, min id, max id) of events.db as the newest backup's archive of
    `volume` holds it (with its -wal file, when one was archived)."""
    import sqlite3
    import tarfile

    import zstandard

    manifest = newest_manifest(out)
    entry = [item for item in manifest["volumes"] if item["name"] == volume][0]
    scratch.mkdir()
    with open(os.path.join(manifest["_dir"], entry["archive"]), "rb") as handle:
        with zstandard.ZstdDecompressor().stream_reader(handle) as raw:
            with tarfile.open(fileobj=raw, mode="r|") as archive:
                for member in archive:
                    base = os.path.basename(member.name)
                    if member.isfile() and base in ("events.db", "events.db-wal"):
                        with open(scratch / base, "wb") as target:
                            shutil.copyfileobj(archive.extractfile(member), target)
    conn = sqlite3.connect(str(scratch / "events.db"))
    try:
        status = conn.execute("PRAGMA integrity_check").fetchone()[0]
        return status, conn.execute("SELECT count(*), min(id), max(id) FROM events").fetchone()
    finally:
        conn.close()


def backup_playbook(tmp_path):
    path = tmp_path / "backup.yml"
    path.write_text("- name: Back up\n  hosts: localhost\n  gather_facts: false\n  roles:\n"
                    "    - role: homeiq.phase0.backup\n")
    return str(path)


def wait_healthy(stack_dir, name, services, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = compose(stack_dir, "ps", "--format", "{{.Service}} {{.Health}}", project_name=name).stdout
        healthy = {line.split()[0] for line in out.splitlines() if line.endswith(" healthy")}
        if set(services) <= healthy:
            return healthy
        time.sleep(3)
    raise AssertionError("services not healthy after %ss: %s" % (timeout, out))


@pytest.fixture
def stack(tmp_path, prefix):
    work = tmp_path / "demo"
    shutil.copytree(DEMO_SRC, work, ignore=shutil.ignore_patterns("backups", "diagnostics", "logs", "reports"))
    compose(work, "up", "-d", project_name=prefix)
    yield {"dir": str(work), "name": prefix}
    compose(work, "down", "-v", "-t", "2", "--remove-orphans", project_name=prefix, check=False)


def test_rollback_requires_confirmation(tmp_path):
    proc = run_playbook(os.path.join(ROOT, "playbooks", "rollback.yml"),
                        {"phase0_project_dir": str(tmp_path)})
    assert proc.returncode != 0
    assert "rollback_confirm=true" in proc.stdout


@needs_backup_core
def test_backup_destroy_rollback_round_trip(stack, tmp_path):
    project, volume = stack["name"], "%s_homeiq_logs" % stack["name"]
    wait_healthy(stack["dir"], project, ["sqlite-writer", "admin-api"])
    sh(volume, "mkdir -p /d/roundtrip && cd /d/roundtrip && " + POPULATE.replace("cd /d\n", "")
       .replace("BIGM", str(ROUND_TRIP_MB)))
    before = listing(volume)
    before = {k: v for k, v in before[0].items() if k.startswith("./roundtrip")}, before[1]
    out = tmp_path / "out"
    common = {"phase0_project_dir": stack["dir"], "phase0_project_name": project, "phase0_output_dir": str(out)}
    proc = run_playbook(backup_playbook(tmp_path), common)
    assert proc.returncode == 0, proc.stdout[-4000:]

    # Destroy: containers and volumes gone, volumes recreated empty by compose.
    compose(stack["dir"], "down", "-v", "-t", "2", project_name=project)
    compose(stack["dir"], "create", project_name=project)
    assert sh(volume, "ls -A /d").stdout == ""

    proc = run_playbook(os.path.join(ROOT, "playbooks", "rollback.yml"),
                        dict(common, rollback_confirm=True, restore_allow_external_symlinks=True))
    assert proc.returncode == 0, proc.stdout[-6000:]
    after = listing(volume)
    after = {k: v for k, v in after[0].items() if k.startswith("./roundtrip")}, after[1]
    assert after == before
    # The losses the API path cannot avoid are declared in the manifest itself (TARGETS 21).
    manifest = newest_manifest(out)
    assert manifest["preserves"]["sparse"] is False and manifest["preserves"]["xattrs"] is False
    assert manifest["preserves"]["uid"] is True and manifest["preserves"]["mtime"] == "whole seconds"
    # The database exactly as the backup holds it, opened on the host: a restore writes these bytes.
    status, (count, low, high) = archived_sqlite(out, "%s_sqlite_data" % project, tmp_path / "archived-db")
    # The writer only appends and trims the oldest rows: a consistent copy holds one contiguous id range.
    assert status == "ok" and count > 0 and count == high - low + 1, (status, count, low, high)
    sqlite = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", "%s_sqlite_data:/d" % project,
                             DEBIAN, "python3", "-c", SQLITE_CHECK], capture_output=True, text=True, check=True)
    status, counts = sqlite.stdout.splitlines()
    now_count, now_low, now_high = (int(n) for n in counts.strip("()").split(","))
    # After the rollback the writer goes on from the restored rows: the backup's range is all there (a
    # database the writer had made anew would start below the backup's newest id).
    assert status == "ok" and now_count == now_high - now_low + 1, (status, now_count, now_low, now_high)
    assert now_low <= low and now_high >= high, ((now_low, now_high), (low, high))
    wait_healthy(stack["dir"], project, ["sqlite-writer", "admin-api", "influxdb", "legacy-worker"])
