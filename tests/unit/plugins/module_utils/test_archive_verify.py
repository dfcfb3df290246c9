"""archive_verify: quick and full name the bad file (TARGET 6); full is a trial read that fails on a
truncated member (TARGET 7); SHA256SUMS disagreements are found; no manifest -> not a backup (TARGET 5)."""
import hashlib
import io
import os
import tarfile

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import Compressor
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_stream import archive_stream
from ansible_collections.homeiq.phase0.plugins.module_utils.archive_verify import verify_backup
from ansible_collections.homeiq.phase0.plugins.module_utils.atomic_file import AtomicWriter
from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import (
    IncompleteBackup, build_manifest, load_manifest, write_backup_manifest)

BACKUP_ID = "phase0_20260204_111804"


def raw_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_backup(root, volumes, codec="zstd"):
    backup_dir = os.path.join(str(root), BACKUP_ID)
    os.makedirs(os.path.join(backup_dir, "volumes"))
    entries = []
    for name, raw in volumes.items():
        rel = "volumes/%s.tar" % name + {"zstd": ".zst", "gzip": ".gz", "none": ""}[codec]
        with AtomicWriter(os.path.join(backup_dir, rel)) as writer:
            result = archive_stream([raw[i:i + 65536] for i in range(0, len(raw), 65536)], writer,
                                    codec=codec, prefetch=0)
            writer.commit()
        entries.append(dict(result.as_dict(), name=name, archive=rel, labels={}, driver="local",
                            consistency="stop", compression=codec))
    write_backup_manifest(backup_dir, build_manifest(BACKUP_ID, "p", entries))
    return backup_dir


@pytest.fixture
def volumes():
    return {"db": raw_tar({"./data.bin": os.urandom(300000), "./log.txt": b"text\n" * 20000}),
            "cache": raw_tar({"./c": b"cached" * 1000})}


@pytest.mark.parametrize("codec", ["zstd", "gzip", "none"])
@pytest.mark.parametrize("mode", ["quick", "full"])
def test_good_backup_passes(tmp_path, volumes, codec, mode):
    report = verify_backup(make_backup(tmp_path, volumes, codec), mode)
    assert report["ok"], report["problems"]
    assert report["bad_files"] == []
    if mode == "full":
        assert sorted(f["members"] for f in report["files"]) == [1, 2]


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_bit_flip_is_named(tmp_path, volumes, mode):
    backup_dir = make_backup(tmp_path, volumes)
    path = os.path.join(backup_dir, "volumes/db.tar.zst")
    with open(path, "r+b") as handle:
        handle.seek(os.path.getsize(path) // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))
    report = verify_backup(backup_dir, mode)
    assert not report["ok"]
    assert report["bad_files"] == ["volumes/db.tar.zst"]
    assert any(problem.startswith("volumes/db.tar.zst: ") and "sha256" in problem for problem in report["problems"])


def replace_archive(backup_dir, rel, raw):
    """Swap an archive for another raw tar and re-commit a manifest whose outer hash matches it."""
    compressor = Compressor("zstd")
    blob = compressor.compress(raw) + compressor.flush()
    with open(os.path.join(backup_dir, rel), "wb") as handle:
        handle.write(blob)
    manifest = load_manifest(backup_dir)
    for entry in manifest["volumes"]:
        if entry["archive"] == rel:
            entry.update(sha256=hashlib.sha256(blob).hexdigest(), bytes=len(blob))
    for name in ("manifest.json", "SHA256SUMS", "MANIFEST.md"):
        os.remove(os.path.join(backup_dir, name))
    write_backup_manifest(backup_dir, manifest)


def test_full_catches_a_truncated_member_that_quick_cannot_see(tmp_path):
    """The outer hash matches a damaged archive: only the trial read can tell (TARGET 7)."""
    raw = raw_tar({"./data.bin": os.urandom(300000), "./after": b"x"})
    backup_dir = make_backup(tmp_path, {"db": raw})
    first_data = 512  # after the ustar header of ./data.bin (short ASCII names need no PAX header)
    replace_archive(backup_dir, "volumes/db.tar.zst", raw[:first_data + 1000] + b"\0" * 1024)
    assert verify_backup(backup_dir, "quick")["ok"]
    report = verify_backup(backup_dir, "full")
    assert not report["ok"] and report["bad_files"] == ["volumes/db.tar.zst"]
    assert any("cut short" in problem for problem in report["problems"])
    assert any("member count" in problem for problem in report["problems"])


def test_sha256sums_disagreeing_with_manifest_is_named(tmp_path, volumes):
    backup_dir = make_backup(tmp_path, volumes)
    sums = os.path.join(backup_dir, "SHA256SUMS")
    with open(sums) as handle:
        text = handle.read()
    with open(sums, "w") as handle:
        handle.write(text.replace(text[:64], "0" * 64, 1) + "%s  volumes/ghost.tar.zst\n" % ("1" * 64))
    report = verify_backup(backup_dir, "quick")
    assert not report["ok"]
    assert "SHA256SUMS" in report["bad_files"]
    assert any("SHA256SUMS says sha256 000" in problem for problem in report["problems"])
    assert any("ghost" in problem for problem in report["problems"])


def test_missing_archive_is_named(tmp_path, volumes):
    backup_dir = make_backup(tmp_path, volumes)
    os.remove(os.path.join(backup_dir, "volumes/cache.tar.zst"))
    report = verify_backup(backup_dir, "quick")
    assert report["bad_files"] == ["volumes/cache.tar.zst"]
    assert "volumes/cache.tar.zst: missing" in report["problems"]


def test_no_manifest_means_no_backup(tmp_path, volumes):
    backup_dir = make_backup(tmp_path, volumes)
    os.remove(os.path.join(backup_dir, "manifest.json"))
    with pytest.raises(IncompleteBackup):
        verify_backup(backup_dir, "full")


def test_full_reports_members_restore_would_refuse(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        link = tarfile.TarInfo("./current")
        link.type, link.linkname = tarfile.SYMTYPE, "/var/lib/app/v2"
        tar.addfile(link)
    report = verify_backup(make_backup(tmp_path, {"app": buf.getvalue()}), "full")
    assert report["ok"]
    assert report["warnings"] and "outside the archive root" in report["warnings"][0]
