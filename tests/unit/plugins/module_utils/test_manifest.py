"""manifest: schema, SHA256SUMS that `sha256sum -c` accepts, MANIFEST.md from the manifest, and the
manifest as the commit point (TARGET 5: no complete manifest -> the backup does not exist)."""
import hashlib
import json
import os
import shutil
import stat
import subprocess

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.manifest import (
    SCHEMA, IncompleteBackup, ManifestError, build_manifest, check_files, latest_backup, list_backups,
    load_manifest, manifest_files, parse_sha256sums, render_guide, render_sha256sums, resolve_backup_dir,
    write_backup_manifest)


def make_dir(root, backup_id, files=None):
    backup_dir = os.path.join(str(root), backup_id)
    os.makedirs(os.path.join(backup_dir, "volumes"))
    entries = []
    for name, data in (files or {"app_data": b"tar bytes"}).items():
        rel = "volumes/%s.tar.zst" % name
        with open(os.path.join(backup_dir, rel), "wb") as handle:
            handle.write(data)
        entries.append({"name": name, "archive": rel, "sha256": hashlib.sha256(data).hexdigest(),
                        "bytes": len(data), "labels": {"com.docker.compose.project": "p"}, "driver": "local",
                        "consistency": "stop", "compression": "zstd", "raw_bytes": 10240, "members": 3,
                        "helper_image": "busybox:latest"})
    return backup_dir, entries


def test_build_manifest_has_the_contract_fields(tmp_path):
    dummy, volumes = make_dir(tmp_path, "phase0_20260204_111804")
    manifest = build_manifest("phase0_20260204_111804", "homeiq", volumes,
                              configs=[{"path": "configs/.env", "sha256": "0" * 64, "bytes": 3}],
                              images=[{"repository": "r", "tag": "t", "id": "sha256:x", "snapshot_tag": "r:pre"}],
                              git={"commit": "abc"}, host="h")
    for key in ("schema", "backup_id", "created", "host", "project", "volumes", "configs", "images", "git"):
        assert key in manifest
    assert manifest["schema"] == SCHEMA and manifest["complete"] is True
    assert manifest["preserves"]["xattrs"] is False and manifest["preserves"]["sparse"] is False
    assert [item[0] for item in manifest_files(manifest)] == ["volumes/app_data.tar.zst", "configs/.env"]


@pytest.mark.parametrize("mutate,message", [
    (lambda v: v.pop("sha256"), "lacks sha256"),
    (lambda v: v.update(archive="../escape.tar"), "relative"),
    (lambda v: v.update(archive="/abs.tar"), "relative"),
    (lambda v: v.update(sha256="XYZ"), "64 lowercase hex"),
    (lambda v: v.update(bytes=-1), "non-negative"),
    (lambda v: v.update(consistency="maybe"), "consistency"),
])
def test_invalid_volume_entries_are_refused(tmp_path, mutate, message):
    dummy, volumes = make_dir(tmp_path, "phase0_20260204_111804")
    mutate(volumes[0])
    with pytest.raises(ManifestError, match=message):
        build_manifest("phase0_20260204_111804", "p", volumes)


def test_bad_backup_id_and_duplicates_are_refused(tmp_path):
    dummy, volumes = make_dir(tmp_path, "phase0_20260204_111804")
    with pytest.raises(ManifestError, match="backup_id"):
        build_manifest("backup-1", "p", volumes)
    with pytest.raises(ManifestError, match="same file"):
        build_manifest("phase0_20260204_111804", "p", volumes + volumes)


def test_written_backup_verifies_with_sha256sum(tmp_path):
    backup_dir, volumes = make_dir(tmp_path, "phase0_20260204_111804", {"a": b"one", "b": b"two" * 1000})
    manifest = build_manifest("phase0_20260204_111804", "p", volumes)
    written = list(write_backup_manifest(backup_dir, manifest))
    assert [os.path.basename(path) for path in written] == ["SHA256SUMS", "MANIFEST.md", "manifest.json"]
    for path in written:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    proc = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=backup_dir, capture_output=True, check=False, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert load_manifest(backup_dir) == json.loads(json.dumps(manifest))


def test_sha256sums_escapes_odd_names_like_gnu():
    manifest = {"volumes": [], "images": [],
                "configs": [{"path": "configs/we\\ird\nname", "sha256": "a" * 64, "bytes": 1}]}
    text = render_sha256sums(manifest)
    assert text.startswith("\\" + "a" * 64)
    assert parse_sha256sums(text) == [("a" * 64, "configs/we\\ird\nname")]


def test_guide_names_exact_commands(tmp_path):
    backup_dir, volumes = make_dir(tmp_path, "phase0_20260204_111804")
    manifest = build_manifest("phase0_20260204_111804", "homeiq", volumes)
    guide = render_guide(manifest, backup_dir)
    assert "sha256sum -c SHA256SUMS" in guide
    assert "homeiq.phase0.backup_verify" in guide and "mode=full" in guide
    assert "phase0_backup_id=phase0_20260204_111804" in guide
    assert "zstd -dc %s/volumes/app_data.tar.zst | docker run --rm -i --network none -v app_data:/data " \
           "busybox:latest tar -xpf - --numeric-owner -C /data" % backup_dir in guide


def test_manifest_is_the_commit_point(tmp_path):
    root = tmp_path / "backups"
    first, volumes = make_dir(root, "phase0_20260101_000000")
    write_backup_manifest(first, build_manifest("phase0_20260101_000000", "p", volumes))
    second, volumes = make_dir(root, "phase0_20260102_000000")
    write_backup_manifest(second, build_manifest("phase0_20260102_000000", "p", volumes))
    third, dummy = make_dir(root, "phase0_20260103_000000")  # crashed run: no manifest
    assert latest_backup(str(root)) == second
    os.remove(os.path.join(second, "manifest.json"))
    assert latest_backup(str(root)) == first
    listed = dict((item["backup_id"], item["complete"]) for item in list_backups(str(root)))
    assert listed == {"phase0_20260101_000000": True, "phase0_20260102_000000": False,
                      "phase0_20260103_000000": False}
    with pytest.raises(IncompleteBackup):
        load_manifest(second)
    assert resolve_backup_dir(backups_root=str(root), backup_id="latest") == first


@pytest.mark.parametrize("content", [
    "", "{not json", json.dumps({"schema": SCHEMA, "complete": False}), json.dumps({"schema": "other", "complete": True}),
])
def test_partial_or_foreign_manifest_is_incomplete(tmp_path, content):
    backup_dir, dummy = make_dir(tmp_path, "phase0_20260101_000000")
    with open(os.path.join(backup_dir, "manifest.json"), "w") as handle:
        handle.write(content)
    with pytest.raises(IncompleteBackup):
        load_manifest(backup_dir)
    with pytest.raises(IncompleteBackup):
        latest_backup(str(tmp_path))


def test_copied_manifest_naming_another_backup_is_incomplete(tmp_path):
    first, volumes = make_dir(tmp_path, "phase0_20260101_000000")
    write_backup_manifest(first, build_manifest("phase0_20260101_000000", "p", volumes))
    shutil.copytree(first, str(tmp_path / "phase0_20260105_000000"))
    assert latest_backup(str(tmp_path)) == first


def test_check_files_names_missing_and_resized(tmp_path):
    backup_dir, volumes = make_dir(tmp_path, "phase0_20260101_000000", {"a": b"1", "b": b"22"})
    manifest = build_manifest("phase0_20260101_000000", "p", volumes)
    os.remove(os.path.join(backup_dir, "volumes/a.tar.zst"))
    with open(os.path.join(backup_dir, "volumes/b.tar.zst"), "ab") as handle:
        handle.write(b"more")
    assert check_files(backup_dir, manifest) == ["volumes/a.tar.zst: missing",
                                                 "volumes/b.tar.zst: 6 bytes on disk, the entry says 2"]
