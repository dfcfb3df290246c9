"""archive_extract: faithful metadata into staging (TARGETS 18, 19), hostile archives rejected before
any write (TARGETS 15, 20), and the two-archive symlink attack stopped on disk (TARGET 16)."""
import io
import os
import stat
import tarfile

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import Compressor
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_extract import (
    ExtractError, extract_archive, extract_stream, prevalidate_archive)
from ansible_collections.homeiq.phase0.plugins.module_utils.tar_validate import UnsafeMember

ROOT = os.geteuid() == 0
MTIME = 1700000123


def member(name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=0o644, uid=0, gid=0, uname="", **extra):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.uid, info.gid, info.uname = kind, linkname, mode, uid, gid, uname
    info.mtime = MTIME
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    for key, value in extra.items():
        setattr(info, key, value)
    return info, (io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def tar_of(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, data)
    return buf.getvalue()


def archive_file(tmp_path, members, name="a.tar.zst"):
    compressor = Compressor("zstd")
    raw = tar_of(members)
    path = tmp_path / name
    path.write_bytes(compressor.compress(raw) + compressor.flush())
    return str(path)


def staging(tmp_path, name="staging"):
    path = tmp_path / name
    path.mkdir()
    return str(path)


def faithful():
    return [
        member(".", tarfile.DIRTYPE, mode=0o755),
        member("./db", tarfile.DIRTYPE, mode=0o700, uid=70, gid=70),
        member("./db/data", data=b"postgres data", mode=0o600, uid=70, gid=70, uname="postgres"),
        member("./shared", tarfile.DIRTYPE, mode=0o2775, uid=999, gid=999),
        member("./tmp", tarfile.DIRTYPE, mode=0o1777),
        member("./shared/a", data=b"same inode", mode=0o640, uid=999, gid=999),
        member("./shared/b", tarfile.LNKTYPE, linkname="./shared/a", mode=0o640, uid=999, gid=999),
        member("./shared/rel", tarfile.SYMTYPE, linkname="a", mode=0o777, uid=999, gid=999),
        member("./shared/up", tarfile.SYMTYPE, linkname="../db/data"),
        member("./fifo", tarfile.FIFOTYPE, mode=0o600),
        member("./suid", data=b"#!/bin/sh\n", mode=0o4755),
        member("./readonly", tarfile.DIRTYPE, mode=0o555),
        member("./readonly/inside", data=b"x", mode=0o444),
    ]


def test_metadata_round_trip(tmp_path):
    target = staging(tmp_path)
    facts = extract_archive(archive_file(tmp_path, faithful()), target)
    assert facts["members"] == len(faithful()) and facts["owners_restored"] is ROOT

    def st(rel):
        return os.lstat(os.path.join(target, rel))

    assert stat.S_IMODE(st("db").st_mode) == 0o700
    assert stat.S_IMODE(st("shared").st_mode) == 0o2775
    assert stat.S_IMODE(st("tmp").st_mode) == 0o1777
    assert stat.S_IMODE(st("readonly").st_mode) == 0o555
    assert stat.S_IMODE(st("db/data").st_mode) == 0o600
    assert st("shared/a").st_ino == st("shared/b").st_ino and st("shared/a").st_nlink == 2
    assert os.readlink(os.path.join(target, "shared/rel")) == "a"
    assert os.readlink(os.path.join(target, "shared/up")) == "../db/data"
    assert stat.S_ISFIFO(st("fifo").st_mode)
    assert stat.S_IMODE(st("suid").st_mode) == 0o755, "setuid kept without keep_setuid"
    for rel in ("db", "db/data", "shared", "shared/a", "shared/rel", "fifo", "readonly", "readonly/inside"):
        assert int(st(rel).st_mtime) == MTIME, rel
    assert int(os.stat(target).st_mtime) == MTIME
    with open(os.path.join(target, "db/data"), "rb") as handle:
        assert handle.read() == b"postgres data"
    if ROOT:
        assert (st("db/data").st_uid, st("db/data").st_gid) == (70, 70)  # numeric, whatever uname says
        assert (st("shared/rel").st_uid, st("shared").st_gid) == (999, 999)


def test_setuid_kept_on_request(tmp_path):
    target = staging(tmp_path)
    extract_archive(archive_file(tmp_path, faithful()), target, keep_setuid=True)
    assert stat.S_IMODE(os.lstat(os.path.join(target, "suid")).st_mode) == 0o4755


HOSTILE = [
    ("dotdot", [member("./ok", data=b"1"), member("../x", data=b"evil")]),
    ("absolute", [member("./ok", data=b"1"), member("/tmp/x", data=b"evil")]),
    ("symlink then through", [member("./ok", data=b"1"), member("x", tarfile.SYMTYPE, linkname="../../.."),
                              member("x/y", data=b"evil")]),
    ("hardlink out", [member("./ok", data=b"1"), member("h", tarfile.LNKTYPE, linkname="/etc/shadow")]),
    ("hardlink unseen", [member("./ok", data=b"1"), member("h", tarfile.LNKTYPE, linkname="later")]),
    ("device", [member("./ok", data=b"1"), member("null", tarfile.CHRTYPE, devmajor=1, devminor=3)]),
]


@pytest.mark.parametrize("members", [pytest.param(m, id=i) for i, m in HOSTILE])
def test_hostile_archive_writes_nothing(tmp_path, members):
    target = staging(tmp_path)
    with pytest.raises(UnsafeMember):
        extract_archive(archive_file(tmp_path, members), target)
    assert os.listdir(target) == [], "a byte was written before the hostile member was judged"


def test_devices_only_with_allow_devices(tmp_path):
    members = [member("null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)]
    path = archive_file(tmp_path, members)
    with pytest.raises(UnsafeMember):
        prevalidate_archive(path)
    if not ROOT:
        pytest.skip("mknod needs root")
    target = staging(tmp_path)
    extract_archive(path, target, allow_devices=True)
    info = os.lstat(os.path.join(target, "null"))
    assert stat.S_ISCHR(info.st_mode) and os.major(info.st_rdev) == 1 and os.minor(info.st_rdev) == 3


def test_two_archive_symlink_attack_stopped_on_disk(tmp_path):
    """CVE-2025-45582: A plants x -> <outside>, B writes x/pwn into the same directory."""
    outside = tmp_path / "outside"
    outside.mkdir()
    target = staging(tmp_path)
    first = archive_file(tmp_path, [member("x", tarfile.SYMTYPE, linkname=str(outside))], "a.tar.zst")
    extract_archive(first, target, allow_external_symlinks=True)
    second = archive_file(tmp_path, [member("x/pwn", data=b"evil")], "b.tar.zst")
    with pytest.raises(UnsafeMember, match="symlink on disk"):
        extract_archive(second, target, prevalidate=False)
    assert os.listdir(str(outside)) == []


def test_existing_file_is_never_overwritten_through(tmp_path):
    target = staging(tmp_path)
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    os.symlink(str(victim), os.path.join(target, "f"))
    with pytest.raises(OSError):
        extract_archive(archive_file(tmp_path, [member("f", data=b"evil")]), target)
    assert victim.read_bytes() == b"keep"


def test_manifest_mismatch_is_an_error(tmp_path):
    path = archive_file(tmp_path, [member("a", data=b"1")])
    with pytest.raises(ExtractError, match="members"):
        extract_archive(path, staging(tmp_path), expected={"members": 5})


@pytest.mark.parametrize("hash_raw", [True, False])
def test_compressed_hash_pins_the_bytes_with_or_without_the_raw_hash(tmp_path, hash_raw):
    """The restore's scan already proved the raw hash, so its extract may skip it (hash_raw=False):
    the compressed SHA-256, taken again while extracting, still catches a file changed since."""
    import hashlib
    path = archive_file(tmp_path, [member("a", data=b"payload")])
    blob = open(path, "rb").read()
    raw = tar_of([member("a", data=b"payload")])
    right = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob),
             "raw_sha256": hashlib.sha256(raw).hexdigest(), "raw_bytes": len(raw), "members": 1}
    facts = extract_archive(path, staging(tmp_path, "ok"), expected=right, hash_raw=hash_raw)
    assert facts["raw_sha256"] == (right["raw_sha256"] if hash_raw else None)
    assert open(os.path.join(str(tmp_path), "ok", "a"), "rb").read() == b"payload"
    # A stale raw hash in the manifest is only noticed when the raw hash is taken.
    stale_raw = dict(right, raw_sha256="0" * 64)
    if hash_raw:
        with pytest.raises(ExtractError, match="raw_sha256"):
            extract_archive(path, staging(tmp_path, "raw"), expected=stale_raw, hash_raw=hash_raw)
    else:
        extract_archive(path, staging(tmp_path, "raw"), expected=stale_raw, hash_raw=hash_raw)
    changed = dict(right, sha256="f" * 64)
    with pytest.raises(ExtractError, match="sha256 .*, manifest says f{64}"):
        extract_archive(path, staging(tmp_path, "changed"), expected=changed, hash_raw=hash_raw)


def test_truncated_stream_fails(tmp_path):
    raw = tar_of([member("a", data=os.urandom(5000))])
    with pytest.raises(Exception, match="cut short"):
        extract_stream([raw[:3000]], staging(tmp_path))


@pytest.mark.parametrize("damage", ["bit flip", "cut short"])
def test_damaged_archive_fails_from_the_decompression_thread(tmp_path, damage):
    """Decompression runs in a thread; its error reaches the caller, and no thread is left behind."""
    import threading
    path = archive_file(tmp_path, [member("a", data=os.urandom(300000)), member("b", data=b"x" * 300000)])
    blob = bytearray(open(path, "rb").read())
    if damage == "bit flip":
        blob[len(blob) // 2] ^= 0x10
    else:
        del blob[len(blob) // 2:]
    open(path, "wb").write(bytes(blob))
    before = threading.active_count()
    with pytest.raises(Exception) as caught:
        extract_archive(path, staging(tmp_path), prevalidate=False)
    assert type(caught.value).__name__ in ("CodecError", "TruncatedArchive", "TarFormatError"), caught.value
    assert threading.active_count() == before
