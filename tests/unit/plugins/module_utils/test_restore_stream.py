"""Scanning and streaming archives for restore (files on disk, no Docker)."""
import hashlib
import io
import json
import os
import tarfile

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.archive_codec import Compressor
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_digest import ChunkReader, tree_state
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_source import (
    BackupUnavailable, archive_path, load_backup)
from ansible_collections.homeiq.phase0.plugins.module_utils.restore_stream import (
    ArchiveRejected, ValidatedTarReader, compare_expected, scan_archive)


def _tar(members, order=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, extra in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            data = None
            if kind == "file":
                info.size = len(extra)
                data = io.BytesIO(extra)
            else:
                info.type, info.linkname = kind, extra
            tar.addfile(info, data)
    return buf.getvalue()


def _write(tmp_path, raw, codec="zstd", name="a.tar.zst"):
    comp = Compressor(codec)
    data = comp.compress(raw) + comp.flush()
    path = tmp_path / name
    path.write_bytes(data)
    return str(path), {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                       "raw_sha256": hashlib.sha256(raw).hexdigest(), "raw_bytes": len(raw)}


GOOD = [(".", tarfile.DIRTYPE, ""), ("./f", "file", b"x" * 5000), ("./h", tarfile.LNKTYPE, "./f"),
        ("./s", tarfile.SYMTYPE, "f")]


@pytest.mark.parametrize("codec", ["zstd", "gzip", "none"])
def test_good_archive_scans_clean(tmp_path, codec):
    path, expected = _write(tmp_path, _tar(GOOD), codec)
    report = scan_archive(path, expected=dict(expected, members=4, file_bytes=5000))
    assert report.ok, report.problems
    assert (report.members, report.file_bytes, report.codec, report.symlinks) == (4, 5000, codec, ["s"])


@pytest.mark.parametrize("members, reason", [
    ([(".", tarfile.DIRTYPE, ""), ("../x", "file", b"p")], "'..'"),
    ([("/etc/x", "file", b"p")], "absolute"),
    ([("./x", tarfile.SYMTYPE, "/"), ("./x/tmp/pwn", "file", b"p")], "through symlink"),
    ([("./shadow", tarfile.LNKTYPE, "/etc/shadow")], "absolute"),
    ([("./d", tarfile.CHRTYPE, "")], "allow_devices"),
])
def test_unsafe_members_are_listed(tmp_path, members, reason):
    path, _digests = _write(tmp_path, _tar(members))
    report = scan_archive(path, allow_external_symlinks=True)
    assert not report.ok and reason in " ".join(report.problems)


def test_bit_flip_and_truncation_are_problems(tmp_path):
    raw = _tar(GOOD)
    path, expected = _write(tmp_path, raw, "none")
    data = bytearray(open(path, "rb").read())
    data[700] ^= 1
    open(path, "wb").write(bytes(data))
    report = scan_archive(path, expected=expected)
    assert any(p.startswith("sha256 is") for p in report.problems)
    path, expected = _write(tmp_path, raw[:1024], "none", "short.tar")
    report = scan_archive(path)
    assert any("cut short" in p for p in report.problems)


def test_reader_streams_the_raw_tar_and_rejects_a_changed_file(tmp_path):
    raw = _tar(GOOD)
    path, expected = _write(tmp_path, raw)
    reader = ValidatedTarReader(path, expected=expected)
    out = b"".join(iter(lambda: reader.read(777), b""))
    assert out == raw
    reader = ValidatedTarReader(path, expected=dict(expected, sha256="0" * 64))
    with pytest.raises(ArchiveRejected, match="changed since it was verified"):
        while reader.read(1 << 20):
            pass


def test_reader_stops_before_handing_on_an_unsafe_header(tmp_path):
    raw = _tar([(".", tarfile.DIRTYPE, ""), ("./ok", "file", b"o" * 3000000), ("../evil", "file", b"p")])
    path, _digests = _write(tmp_path, raw)
    reader = ValidatedTarReader(path)
    handed = b""
    with pytest.raises(ArchiveRejected, match="evil"):
        while True:
            data = reader.read(1 << 20)
            if not data:
                break
            handed += data
    assert b"../evil" not in handed


@pytest.mark.parametrize("actual, expected, problems", [
    ({"bytes": 1, "sha256": "a"}, {"bytes": 1, "sha256": "a"}, 0),
    ({"bytes": 1, "sha256": "a"}, {"bytes": 2}, 1),
    ({"bytes": 1}, {}, 0),
    ({"members": 3, "file_bytes": 9}, {"members": 4, "file_bytes": 8}, 2),
])
def test_compare_expected(actual, expected, problems):
    assert len(compare_expected(actual, expected)) == problems


def test_tree_state_ignores_order_and_which_hardlink_holds_data():
    one = _tar([(".", tarfile.DIRTYPE, ""), ("./a", "file", b"pair"), ("./b", tarfile.LNKTYPE, "./a")])
    two = _tar([("./b", "file", b"pair"), ("./a", tarfile.LNKTYPE, "./b"), ("./", tarfile.DIRTYPE, "")])
    three = _tar([(".", tarfile.DIRTYPE, ""), ("./a", "file", b"pair"), ("./b", "file", b"pair")])
    states = [tree_state(ChunkReader([t[:1000], t[1000:]])) for t in (one, two, three)]
    assert states[0].digest == states[1].digest != states[2].digest
    assert states[0].members == 3 and states[0].file_bytes == 4


def _manifest(tmp_path, **fields):
    body = {"schema": "homeiq.phase0/backup-manifest/v1", "complete": True, "volumes": []}
    body.update(fields)
    (tmp_path / "manifest.json").write_text(json.dumps(body))


@pytest.mark.parametrize("fields, message", [
    ({"complete": False}, "does not say complete: true"),
    ({"schema": "other"}, "does not have schema homeiq.phase0/backup-manifest/v1"),
])
def test_load_backup_refuses_incomplete(tmp_path, fields, message):
    _manifest(tmp_path, **fields)
    with pytest.raises(BackupUnavailable, match=message):
        load_backup(str(tmp_path))


def test_load_backup_and_archive_paths(tmp_path):
    with pytest.raises(BackupUnavailable, match="has no manifest.json"):
        load_backup(str(tmp_path))
    _manifest(tmp_path, backup_id="x")
    assert load_backup(str(tmp_path))["backup_id"] == "x"
    (tmp_path / "volumes").mkdir()
    (tmp_path / "volumes" / "a.tar.zst").write_bytes(b"")
    os.symlink("/etc/passwd", str(tmp_path / "volumes" / "evil.tar.zst"))
    assert archive_path(str(tmp_path), "volumes/a.tar.zst").endswith("volumes/a.tar.zst")
    for bad, message in (("../x", "leaves"), ("/etc/passwd", "leaves"), ("volumes/evil.tar.zst", "symlinks"),
                         ("volumes/none", "missing")):
        with pytest.raises(BackupUnavailable, match=message):
            archive_path(str(tmp_path), bad)


def test_latest_ignores_backups_without_a_complete_manifest(tmp_path):
    from ansible_collections.homeiq.phase0.plugins.module_utils.restore_source import resolve_backup
    for name, complete in (("phase0_20260101_000000", True), ("phase0_20260102_000000", True),
                           ("phase0_20260103_000000", False), ("phase0_20260104_000000", None)):
        (tmp_path / name).mkdir()
        if complete is not None:
            _manifest(tmp_path / name, complete=complete, backup_id=name)
    assert resolve_backup(str(tmp_path))[0] == "phase0_20260102_000000"
    assert resolve_backup(str(tmp_path), "phase0_20260101_000000")[0] == "phase0_20260101_000000"
    with pytest.raises(BackupUnavailable, match="not a complete backup"):
        resolve_backup(str(tmp_path), "phase0_20260104_000000")
    with pytest.raises(BackupUnavailable, match="no complete backup"):
        resolve_backup(str(tmp_path / "nothing"))
