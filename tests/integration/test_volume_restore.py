"""volume_restore against the real engine: hostile archives, integrity, safety, check mode, fidelity.

TARGETS 15-22. The round trip uses a 50 MB random file; set PHASE0_BIG_RESTORE=1 for 200 MB.
"""
import os
import subprocess

import pytest

from helpers import run_module, tmpfs_inside
from restore_fixtures import make_backup, member, tar_bytes

BUSYBOX = "phase0-fixture/busybox:latest"
BIG_MB = 200 if os.environ.get("PHASE0_BIG_RESTORE") else 50
ROOT = member(".", "dir", mode=0o755)
GOOD = member("./ok.txt", data=b"fine")


def sh(volume, script, check=True):
    """Run a shell script in busybox with the volume at /d (no network)."""
    return subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", "%s:/d" % volume, BUSYBOX,
                           "sh", "-c", script], capture_output=True, text=True, check=check, timeout=600)


def listing(volume, skip_root_mtime=False):
    """What a user checks with stat: type, uid, gid, mode, size, mtime, link target, content hash,
    and the hardlink groups (names sharing an inode)."""
    out = sh(volume, "cd /d && find . | sort | while IFS= read -r p; do "
                     "printf '%s|%s|' \"$p\" \"$(stat -c '%F|%u|%g|%a|%s|%Y|%h|%i' \"$p\")\"; "
                     "if [ -L \"$p\" ]; then readlink \"$p\"; elif [ -f \"$p\" ]; then md5sum < \"$p\" | cut -c1-32; "
                     "else echo; fi; done").stdout
    rows, inodes = {}, {}
    for line in out.splitlines():
        name, kind, uid, gid, mode, size, mtime, links, inode, extra = line.split("|")
        if skip_root_mtime and name == ".":
            mtime = "-"
        size = size if kind.startswith("regular") else "-"  # dir sizes depend on the file system
        rows[name] = (kind, uid, gid, mode, size, mtime, links, extra)
        if kind.startswith("regular"):
            inodes.setdefault(inode, []).append(name)
    groups = sorted(sorted(names) for names in inodes.values() if len(names) > 1)
    return rows, groups


@pytest.fixture
def volumes(docker_client, prefix):
    made = []

    def name(suffix):
        made.append("%s_%s" % (prefix, suffix))
        return made[-1]

    yield name
    for volume in made:
        for ctr in docker_client.containers.list(all=True, filters={"volume": volume}):
            ctr.remove(force=True)
        try:
            docker_client.volumes.get(volume).remove(force=True)
        except Exception:  # pylint: disable=broad-except  # already gone
            pass


def exists(docker_client, volume):
    return any(v.name == volume for v in docker_client.volumes.list())


HOSTILE = {
    "dotdot": [ROOT, GOOD, member("../x", data=b"pwn")],
    "absolute": [ROOT, GOOD, member("/etc/x", data=b"pwn")],
    "inner_dotdot": [ROOT, GOOD, member("a/../../x", data=b"pwn")],
    "symlink_then_write": [ROOT, GOOD, member("./x", "symlink", linkname="../../.."), member("./x/y", data=b"pwn")],
    "symlink_root_then_write": [ROOT, GOOD, member("./x", "symlink", linkname="/"),
                                member("./x/tmp/pwn", data=b"pwn")],
    "hardlink_shadow": [ROOT, GOOD, member("./shadow", "hardlink", linkname="/etc/shadow")],
    "hardlink_unseen": [ROOT, GOOD, member("./h", "hardlink", linkname="./later"), member("./later", data=b"x")],
    "chardev": [ROOT, GOOD, member("./null", "chardev", devmajor=1, devminor=3)],
}


@pytest.mark.parametrize("method", ["host", "api"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_is_rejected_before_any_write(case, method, tmp_path, volumes, docker_client):
    existing = volumes("existing")
    sh(existing, "true")  # an existing, empty volume
    missing = volumes("missing")
    data = tar_bytes(HOSTILE[case])
    backup = make_backup(tmp_path, {"a": data, "b": data})
    result, _proc = run_module("homeiq.phase0.volume_restore", {
        "backup_dir": backup, "method": method, "volume_map": {"a": existing, "b": missing},
        "allow_external_symlinks": True})
    assert result.get("failed"), result
    assert "refused before any write" in result["msg"]
    assert "unsafe member" in result["msg"]
    assert not exists(docker_client, missing)
    assert sh(existing, "ls -A /d").stdout == ""
    assert not os.path.exists("/x") and not os.path.exists("/tmp/pwn") and not os.path.exists("/etc/x")


def test_put_archive_prevalidation_keeps_container_passwd(docker_client, tmp_path):
    """TARGETS 22: `../etc/passwd` through put_archive to /data is stopped by our reader."""
    from ansible_collections.homeiq.phase0.plugins.module_utils.restore_stream import (
        ArchiveRejected, ValidatedTarReader)
    backup = make_backup(tmp_path, {"v": tar_bytes([member("data", "dir"), member("data/../etc/passwd",
                                                                                  data=b"root::0:0::/:/bin/sh\n")])})
    api = docker_client.api
    ctr = api.create_container("phase0-fixture/debian-python:latest", entrypoint=["/never"],
                               volumes=["/data"])["Id"]
    try:
        before = b"".join(api.get_archive(ctr, "/etc/passwd")[0])
        reader = ValidatedTarReader(os.path.join(backup, "volumes", "v.tar.zst"))
        with pytest.raises(Exception) as info:
            api.put_archive(ctr, "/", reader)
        assert "ArchiveRejected" in repr(info.value) or isinstance(info.value, ArchiveRejected) \
            or "'..'" in str(info.value)
        assert b"".join(api.get_archive(ctr, "/etc/passwd")[0]) == before
    finally:
        api.remove_container(ctr, force=True, v=True)


def test_bit_flip_is_refused(tmp_path, volumes, docker_client):
    target = volumes("flip")
    backup = make_backup(tmp_path, {target: tar_bytes([ROOT, GOOD, member("./big", data=os.urandom(200000))])})
    path = os.path.join(backup, "volumes", target + ".tar.zst")
    with open(path, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0x01]))
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": backup})
    assert result.get("failed")
    assert "sha256" in result["msg"]
    assert not exists(docker_client, target)


def test_missing_or_incomplete_manifest_is_refused(tmp_path, volumes, docker_client):
    target = volumes("nomanifest")
    backup = make_backup(tmp_path / "a", {target: tar_bytes([ROOT, GOOD])})
    os.unlink(os.path.join(backup, "manifest.json"))
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": backup})
    assert result.get("failed") and "has no manifest.json" in result["msg"]
    backup = make_backup(tmp_path / "b", {target: tar_bytes([ROOT, GOOD])}, complete=False)
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": backup})
    assert result.get("failed") and "does not say complete: true" in result["msg"]
    assert not exists(docker_client, target)


@pytest.mark.parametrize("method", ["host", "api"])
def test_devices_only_with_allow_devices(method, tmp_path, volumes):
    target = volumes("dev")
    backup = make_backup(tmp_path, {target: tar_bytes([ROOT, member("./null", "chardev", devmajor=1, devminor=3)])})
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": backup, "method": method})
    assert result.get("failed") and "allow_devices" in result["msg"]
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": backup, "method": method,
                                                                "allow_devices": True})
    assert result["changed"], result
    assert sh(target, "stat -c '%F %t,%T' /d/null").stdout.strip() == "character special file 1,3"


@pytest.mark.parametrize("method", ["host", "api"])
def test_non_empty_volume_needs_replace_and_check_mode_quartet(method, tmp_path, volumes):
    target = volumes("quartet")
    sh(target, "echo current > /d/current.txt")
    backup = make_backup(tmp_path, {target: tar_bytes([ROOT, member("./restored.txt", data=b"from backup",
                                                                    uid=70, gid=70, mode=0o640)])})
    args = {"backup_dir": backup, "method": method}
    refused, _proc = run_module("homeiq.phase0.volume_restore", args)
    assert refused.get("failed") and "replace: true" in refused["msg"] and "restore_replace_volumes" in refused["msg"]
    assert sh(target, "cat /d/current.txt").stdout == "current\n"

    args["replace"] = True
    outcomes = []
    for check in (True, False, True, False):
        result, _proc = run_module("homeiq.phase0.volume_restore", args, check=check, diff=True)
        assert not result.get("failed"), result
        outcomes.append(result["changed"])
        if check and result["changed"]:
            assert result["would_replace"] == [target]
            assert sh(target, "cat /d/current.txt").stdout == "current\n"  # check mode touched nothing
    assert outcomes == [True, True, False, False]
    assert sh(target, "ls -A /d; stat -c '%u:%g %a' /d/restored.txt; cat /d/restored.txt").stdout == \
        "restored.txt\n70:70 640\nfrom backup"


def test_volume_with_a_mount_inside_is_not_swapped_on_the_host(tmp_path, volumes, docker_client):
    """The host method renames the volume's directory and deletes the old one: a file system mounted
    inside it would go with the old content. auto picks the Engine API for such a volume (check mode
    says so), and method=host refuses before anything is written."""
    target = volumes("nested")
    sh(target, "echo current > /d/current.txt")
    with tmpfs_inside(docker_client.api.inspect_volume(target)["Mountpoint"], "cache", "mounted\n") as nested:
        backup = make_backup(tmp_path, {target: tar_bytes([ROOT, member("./restored.txt", data=b"from backup")])})
        planned, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": backup, "replace": True},
                                    check=True)
        assert not planned.get("failed"), planned
        row = planned["volumes"][0]
        assert row["method"] == "api" and "mounted at or inside the volume's directory (%s)" % nested \
            in row["method_reason"], row
        forced, _proc = run_module("homeiq.phase0.volume_restore",
                                   {"backup_dir": backup, "replace": True, "method": "host"})
        assert forced.get("failed") and "method=host is not possible here" in forced["msg"], forced
        assert "mounted at or inside" in forced["msg"]
        assert sh(target, "cat /d/current.txt").stdout == "current\n"
        with open(os.path.join(nested, "inside")) as handle:
            assert handle.read() == "mounted\n"


@pytest.mark.parametrize("method", ["host", "api"])
def test_restore_aborted_halfway_leaves_the_live_volume_unchanged(method, tmp_path, volumes):
    """TARGETS 17: the stream breaks after the first MiB of a 4 MiB archive -> the task fails, the live
    volume holds exactly what it held before, and no staging volume is left behind."""
    target = volumes("abort")
    sh(target, "echo current > /d/current.txt; mkdir /d/keep; echo kept > /d/keep/file")
    before = sh(target, "cd /d && find . | sort && cat current.txt keep/file").stdout
    payload = os.urandom(4 << 20)
    backup = make_backup(tmp_path, {target: tar_bytes([ROOT, member("./big.bin", data=payload),
                                                       member("./restored.txt", data=b"from backup")])})
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": backup, "method": method, "replace": True},
                               env={"PHASE0_TEST_RESTORE_ABORT_AFTER_BYTES": str(1 << 20)})
    assert result.get("failed"), result
    assert "unchanged" in result["msg"], result["msg"]
    assert sh(target, "cd /d && find . | sort && cat current.txt keep/file").stdout == before
    staging = subprocess.run(["docker", "volume", "ls", "-q", "--filter", "label=homeiq.phase0.restore-staging=%s" % target],
                             capture_output=True, text=True, check=True).stdout.split()
    assert staging == [], staging
    # Without the fault the same restore goes through (the archive itself was fine).
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": backup, "method": method, "replace": True})
    assert result["changed"] and not result.get("failed"), result
    assert sh(target, "ls -A /d; cat /d/restored.txt").stdout == "big.bin\nrestored.txt\nfrom backup"


@pytest.mark.parametrize("method", ["host", "api"])
@pytest.mark.parametrize("with_dirs", [False, True], ids=["bare-path", "with-dir-members"])
def test_two_archive_symlink_attack(method, with_dirs, tmp_path, volumes, prefix):
    """TARGETS 16 (CVE-2025-45582 pattern): A plants x -> /, B writes x/tmp/<name>. With
    bare-path, B has no member for x or x/tmp at all, so only the staging (a fresh directory, never
    the live one holding A's symlink) keeps the write inside the volume."""
    target = volumes("twoarch")
    pwn = "%s-pwn" % prefix
    first = make_backup(tmp_path / "a", {target: tar_bytes([ROOT, member("./x", "symlink", linkname="/")])})
    dirs = [member("./x", "dir"), member("./x/tmp", "dir")] if with_dirs else []
    second = make_backup(tmp_path / "b", {target: tar_bytes([ROOT] + dirs + [member("./x/tmp/" + pwn, data=b"pwn")])})
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": first, "method": method,
                                                                "allow_external_symlinks": True})
    assert result["changed"], result
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": second, "method": method,
                                                                "replace": True})
    assert not os.path.exists("/tmp/" + pwn)
    if method == "api" and not with_dirs:
        # put_archive makes the missing parents itself, so the staging volume holds more members than
        # the archive: refused (fail safe), and the live volume still holds A's symlink, untouched.
        assert result.get("failed") and "members after extraction" in result["msg"], result
        assert "the live volume is unchanged" in result["msg"]
        assert sh(target, "readlink /d/x").stdout == "/\n"
        return
    assert result["changed"], result
    assert sh(target, "stat -c %F /d/x; cat /d/x/tmp/" + pwn).stdout == "directory\npwn"


POPULATE = r"""
set -e
cd /d
mkdir -p private shared sticky 'empty dir' 'with space' 'naïve-ünïcode'
chmod 0700 private; chmod 2775 shared; chmod 1777 sticky
echo secret > private/key; chmod 600 private/key; chown 70:70 private private/key
i=0; while [ $i -lt 20 ]; do echo "row $i" > shared/f$i; i=$((i+1)); done
chown -R 999:999 shared
: > zero-bytes
echo pair > 'with space/one'; ln 'with space/one' 'with space/two'
echo ü > 'naïve-ünïcode/é.txt'
ln -s ../zero-bytes 'with space/rel-link'
ln -s /etc/hostname abs-link
mkfifo fifo
echo suid > suid-file; chmod 4755 suid-file
dd if=/dev/zero of=sparse bs=1 count=0 seek=20M 2>/dev/null; echo tail >> sparse
dd if=/dev/urandom of=big.bin bs=1048576 count=BIGM 2>/dev/null
touch -d '2020-01-02 03:04:05' private/key 'with space/one' shared
"""


@pytest.mark.parametrize("method", ["host", "api"])
def test_round_trip_keeps_every_field(method, tmp_path, volumes, docker_client):
    """TARGETS 18/19/21: uid/gid 70 and 999, modes 0700/2775/1777/4755, hardlinks, symlinks, FIFO,
    empty dir, 0-byte file, spaces and non-ASCII names, a sparse file, a big random file."""
    source = volumes("src")
    sh(source, POPULATE.replace("BIGM", str(BIG_MB)))
    before = listing(source, skip_root_mtime=method == "api")
    raw = tmp_path / "src.tar"
    api = docker_client.api
    ctr = api.create_container(BUSYBOX, entrypoint=["/never"],
                               host_config=api.create_host_config(binds=["%s:/src" % source]))["Id"]
    try:
        chunks, _stat = api.get_archive(ctr, "/src/.")
        with open(raw, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
    finally:
        api.remove_container(ctr, force=True)
    target = volumes("dst")
    backup = make_backup(tmp_path, {target: str(raw)})
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": backup, "method": method,
                                                                "allow_external_symlinks": True})
    assert result["changed"] and result["volumes"][0]["method"] == method, result
    after = listing(target, skip_root_mtime=method == "api")
    assert after == before
    rows = after[0]
    assert rows["./private/key"][1:4] == ("70", "70", "600")
    assert rows["./shared"][3] == "2775" and rows["./sticky"][3] == "1777" and rows["./suid-file"][3] == "4755"
    assert rows["./abs-link"][-1] == "/etc/hostname" and rows["./fifo"][0] == "fifo"
    assert after[1] == [["./with space/one", "./with space/two"]]
    assert sh(target, "tail -c 5 /d/sparse").stdout == "tail\n"


@pytest.fixture
def host_user_postgres():
    """TARGETS 19: a host user named postgres whose uid is not the archive's 70. The one the machine
    has is used as it is; otherwise postgres is created with uid/gid 1001 and removed afterwards."""
    import grp
    import pwd

    created = []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        try:
            grp.getgrnam("postgres")
        except KeyError:
            subprocess.run(["groupadd", "--gid", "1001", "postgres"], check=True, capture_output=True)
            created.append("group")
        subprocess.run(["useradd", "--no-create-home", "--uid", "1001", "--gid", "postgres",
                        "--shell", "/usr/sbin/nologin", "postgres"], check=True, capture_output=True)
        created.append("user")
    uid, gid = pwd.getpwnam("postgres").pw_uid, grp.getgrnam("postgres").gr_gid
    assert 70 not in (uid, gid), "the host's postgres must not have the archive's ids for this test to mean anything"
    yield uid, gid
    if "user" in created:
        subprocess.run(["userdel", "postgres"], check=False, capture_output=True)
    if "group" in created:
        subprocess.run(["groupdel", "postgres"], check=False, capture_output=True)


@pytest.mark.parametrize("method", ["host", "api"])
def test_owner_is_the_archived_number_not_the_host_name(method, tmp_path, volumes, host_user_postgres):
    """TARGETS 19: the archive says uname=postgres uid=70; the host's postgres has another uid ->
    the restored files belong to uid/gid 70 (numeric owner), not to the host's postgres."""
    host_uid, host_gid = host_user_postgres
    target = volumes("numeric")
    db_dir, db_stream = member("./db", "dir", mode=0o700, uid=70, gid=70)
    data, data_stream = member("./db/PG_VERSION", data=b"15\n", mode=0o600, uid=70, gid=70)
    for info in (db_dir, data):
        info.uname, info.gname = "postgres", "postgres"
    backup = make_backup(tmp_path, {target: tar_bytes([ROOT, (db_dir, db_stream), (data, data_stream)])})
    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": backup, "method": method})
    assert result["changed"] and not result.get("failed"), result
    owners = sh(target, "stat -c '%u:%g' /d/db /d/db/PG_VERSION").stdout.split()
    assert owners == ["70:70", "70:70"], (owners, "host postgres is %d:%d" % (host_uid, host_gid))


def test_missing_volume_is_recreated_with_its_driver_options_and_labels(tmp_path, volumes, docker_client):
    """The issue's 'recreates a missing volume with its recorded driver and labels': a local volume
    bound to a host directory (driver options type/o/device) with Compose labels is backed up by
    volume_backup, removed, its directory emptied (the disk lost), and volume_restore brings back
    the volume as it was (driver, options, labels) and the bytes into that directory."""
    from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import build_manifest, write_backup_manifest

    device = tmp_path / "device"
    device.mkdir()
    name = volumes("bound")
    options = {"type": "none", "o": "bind", "device": str(device)}
    labels = {"com.docker.compose.project": "p0test", "com.docker.compose.volume": "bound",
              "com.docker.compose.version": "2.40.3", "owner": "phase0-test"}
    docker_client.volumes.create(name, driver="local", driver_opts=options, labels=labels)
    sh(name, "mkdir -p /d/sub && echo kept > /d/sub/file && chown 70:70 /d/sub/file && chmod 640 /d/sub/file")
    before = listing(name, skip_root_mtime=True)
    backup_dir = tmp_path / "backups" / "phase0_20260101_000000"
    backup_dir.mkdir(parents=True)
    result, _proc = run_module("homeiq.phase0.volume_backup", {
        "volumes": [name], "backup_dir": str(backup_dir), "helper_image": BUSYBOX, "space_margin": 0})
    assert result.get("changed") and not result.get("failed"), result
    entry = result["volumes"][0]
    assert entry["options"] == options and entry["labels"] == labels and entry["method"] == "api", entry
    manifest = build_manifest("phase0_20260101_000000", "p0test", volumes=result["volumes"], host="test")
    write_backup_manifest(str(backup_dir), manifest)

    docker_client.volumes.get(name).remove()
    for child in device.iterdir():
        subprocess.run(["rm", "-rf", str(child)], check=True)
    assert not exists(docker_client, name) and not list(device.iterdir())

    result, _proc = run_module("homeiq.phase0.volume_restore", {"backup_dir": str(backup_dir)})
    assert result["changed"] and result["volumes"][0]["action"] == "create", result
    attrs = docker_client.volumes.get(name).attrs
    assert attrs["Driver"] == "local" and attrs["Options"] == options and attrs["Labels"] == labels
    assert listing(name, skip_root_mtime=True) == before
    assert (device / "sub" / "file").read_bytes() == b"kept\n"
    assert (device / "sub" / "file").stat().st_uid == 70
