"""A run killed by SIGKILL cannot remove the archives it had finished; the next run, having broken its
stale lock, does: only the paths the dead run recorded, only below its volumes/ directory, only regular
files, and never when a manifest.json covers the directory."""
import os

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.volume_backup_engine import BackupRun


def make_run(tmp_path):
    return BackupRun(None, {"containers": {}, "volumes": [], "groups": []}, str(tmp_path / "backups" / "next"), {})


def dead_dir(tmp_path, files):
    backup_dir = tmp_path / "backups" / "phase0_dead"
    (backup_dir / "volumes").mkdir(parents=True)
    for relative in files:
        path = backup_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"archive bytes")
    return backup_dir


@pytest.mark.parametrize("files, published, manifest, removed, kept", [
    # The usual case: the finished archive goes, the one the dead run never renamed is not there.
    (["volumes/a.tar.zst"], ["volumes/a.tar.zst", "volumes/b.tar.zst"], False, ["volumes/a.tar.zst"], []),
    # A manifest.json means the set was committed: nothing is removed.
    (["volumes/a.tar.zst"], ["volumes/a.tar.zst"], True, [], ["volumes/a.tar.zst"]),
    # Paths outside volumes/ are never touched, whatever the lock says.
    (["volumes/a.tar.zst", "config/.env", "x.tar.zst"],
     ["volumes/a.tar.zst", "config/.env", "volumes/../x.tar.zst", "/etc/hostname"], False,
     ["volumes/a.tar.zst"], ["config/.env", "x.tar.zst"]),
    # A file of this backup dir that the lock does not name stays.
    (["volumes/a.tar.zst", "volumes/other.tar.zst"], ["volumes/a.tar.zst"], False,
     ["volumes/a.tar.zst"], ["volumes/other.tar.zst"]),
    # Nothing recorded: nothing removed.
    (["volumes/a.tar.zst"], [], False, [], ["volumes/a.tar.zst"]),
])
def test_remove_dead_run_archives(tmp_path, files, published, manifest, removed, kept):
    backup_dir = dead_dir(tmp_path, files)
    if manifest:
        (backup_dir / "manifest.json").write_text("{}")
    run = make_run(tmp_path)
    run._remove_dead_run_archives({"pid": 4242, "backup_dir": str(backup_dir), "state": {"published": published}})
    assert run.removed_dead_run_archives == [str(backup_dir / path) for path in removed]
    for path in removed:
        assert not (backup_dir / path).exists()
    for path in kept:
        assert (backup_dir / path).read_bytes() == b"archive bytes"


def test_symlink_recorded_as_archive_is_not_followed(tmp_path):
    backup_dir = dead_dir(tmp_path, [])
    target = tmp_path / "precious"
    target.write_bytes(b"keep me")
    os.symlink(str(target), str(backup_dir / "volumes" / "a.tar.zst"))
    run = make_run(tmp_path)
    run._remove_dead_run_archives({"pid": 1, "backup_dir": str(backup_dir),
                                   "state": {"published": ["volumes/a.tar.zst"]}})
    assert run.removed_dead_run_archives == []
    assert target.read_bytes() == b"keep me" and os.path.islink(str(backup_dir / "volumes" / "a.tar.zst"))


def test_relative_backup_dir_in_the_lock_is_ignored(tmp_path, monkeypatch):
    backup_dir = dead_dir(tmp_path, ["volumes/a.tar.zst"])
    monkeypatch.chdir(str(backup_dir.parent))
    run = make_run(tmp_path)
    run._remove_dead_run_archives({"pid": 1, "backup_dir": "phase0_dead", "state": {"published": ["volumes/a.tar.zst"]}})
    assert run.removed_dead_run_archives == [] and (backup_dir / "volumes" / "a.tar.zst").exists()


@pytest.mark.parametrize("link", ["volumes", "backup_dir"])
def test_symlinked_directories_are_not_followed(tmp_path, link):
    """volumes/ (or the backup dir itself) replaced by a symlink to another backup's archives: kept."""
    other = tmp_path / "backups" / "phase0_other" / "volumes"
    other.mkdir(parents=True)
    (other / "a.tar.zst").write_bytes(b"another backup's archive")
    backup_dir = tmp_path / "backups" / "phase0_dead"
    if link == "volumes":
        backup_dir.mkdir()
        os.symlink(str(other), str(backup_dir / "volumes"))
    else:
        os.symlink(str(other.parent), str(backup_dir))
    run = make_run(tmp_path)
    run._remove_dead_run_archives({"pid": 1, "backup_dir": str(backup_dir),
                                   "state": {"published": ["volumes/a.tar.zst"]}})
    assert run.removed_dead_run_archives == []
    assert (other / "a.tar.zst").read_bytes() == b"another backup's archive"
