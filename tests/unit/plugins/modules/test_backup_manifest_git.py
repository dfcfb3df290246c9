"""backup_manifest hashes the git captures the role lists as bare paths; a capture that is missing, a
symlink or outside the backup directory refuses the commit (check mode: a missing one stays bare)."""
import hashlib
import os

import pytest

from ansible_collections.homeiq.phase0.plugins.modules.backup_manifest import _comparable, _hashed_git


@pytest.fixture
def backup_dir(tmp_path):
    (tmp_path / "git").mkdir()
    (tmp_path / "git" / "diff.txt").write_bytes(b"diff --git a/x b/x\n")
    (tmp_path / "outside.txt").write_bytes(b"not a capture\n")
    os.symlink(str(tmp_path / "outside.txt"), str(tmp_path / "git" / "link.txt"))
    return tmp_path


@pytest.mark.parametrize("files, check_mode, expected_files, problem", [
    (["git/diff.txt"], False,
     [{"path": "git/diff.txt", "sha256": hashlib.sha256(b"diff --git a/x b/x\n").hexdigest(), "bytes": 19}], None),
    (["git/head.txt"], False, ["git/head.txt"], "git/head.txt: missing (git capture)"),
    (["git/head.txt"], True, ["git/head.txt"], None),
    (["git/link.txt"], False, [], "git/link.txt: cannot read the git capture"),
    (["git/../outside.txt"], False, [], "git.files must be a path relative to the backup directory"),
    (["/etc/hostname"], False, [], "git.files must be a path relative to the backup directory"),
    ([{"path": "git/log.txt", "sha256": "2" * 64, "bytes": 4}], False,
     [{"path": "git/log.txt", "sha256": "2" * 64, "bytes": 4}], None),
])
def test_hashed_git(backup_dir, files, check_mode, expected_files, problem):
    git, problems = _hashed_git({"checkout": True, "commit": "c0ffee", "files": files}, str(backup_dir), check_mode)
    assert git["files"] == expected_files and git["commit"] == "c0ffee"
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0], problems


def test_no_checkout_no_files_key(backup_dir):
    assert _hashed_git({"checkout": False, "reason": "not a git repository"}, str(backup_dir), False) == (
        {"checkout": False, "reason": "not a git repository"}, [])


@pytest.mark.parametrize("existing_files, new_files, same", [
    # A manifest written before the captures were hashed: the same paths are the same manifest.
    (["git/diff.txt"], [{"path": "git/diff.txt", "sha256": "1" * 64, "bytes": 3}], True),
    (["git/diff.txt"], [{"path": "git/log.txt", "sha256": "1" * 64, "bytes": 3}], False),
    # Hashed on both sides: the hashes count.
    ([{"path": "git/diff.txt", "sha256": "1" * 64, "bytes": 3}],
     [{"path": "git/diff.txt", "sha256": "2" * 64, "bytes": 3}], False),
    ([{"path": "git/diff.txt", "sha256": "1" * 64, "bytes": 3}],
     [{"path": "git/diff.txt", "sha256": "1" * 64, "bytes": 3}], True),
])
def test_rerun_on_an_existing_manifest(existing_files, new_files, same):
    base = {"schema": "s", "backup_id": "phase0_20260204_111804", "created": "then", "host": "a", "volumes": []}
    existing = dict(base, git={"checkout": True, "files": existing_files})
    new = dict(base, created="now", host="b", git={"checkout": True, "files": new_files})
    assert (_comparable(existing) == _comparable(new, existing)) is same
