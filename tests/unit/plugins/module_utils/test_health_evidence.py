"""Evidence files: 0600 in 0700 directories whatever the umask; planted symlinks refused; redacted."""
import os
import stat

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.health_evidence import EvidenceDir, write_private
from ansible_collections.homeiq.phase0.plugins.module_utils.redact import Redactor


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_modes_with_umask_022(tmp_path, loose_umask):
    redactor = Redactor()
    redactor.add("DB_PASSWORD", "hunter2")
    evidence = EvidenceDir(tmp_path / "healthcheck" / "ts" / "api", redactor).create()
    evidence.write_text("logs.txt", "login with hunter2\n")
    evidence.write_json("inspect.json", {"Config": {"Env": ["DB_PASSWORD=hunter2"]}})
    for path in evidence.files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with open(path) as handle:
            assert "hunter2" not in handle.read()
    for directory in (tmp_path / "healthcheck", tmp_path / "healthcheck" / "ts", tmp_path / "healthcheck" / "ts" / "api"):
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_planted_symlink_is_refused(tmp_path):
    target = tmp_path / "victim"
    target.write_text("keep")
    os.symlink(str(target), str(tmp_path / "logs.txt"))
    with pytest.raises(OSError):
        write_private(str(tmp_path / "logs.txt"), "data")
    assert target.read_text() == "keep"


def test_existing_file_is_not_overwritten(tmp_path):
    path = tmp_path / "x"
    path.write_text("old")
    with pytest.raises(FileExistsError):
        write_private(str(path), "new")
    assert path.read_text() == "old"
