"""File side of the healthcheck editor: target file, backups, atomic replace, override files."""
import os
import stat

import pytest
import yaml

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_edit import ComposeEditError
from ansible_collections.homeiq.phase0.plugins.module_utils.compose_edit_files import (
    backup_path,
    plan_override,
    render_override,
    replace_file,
    target_file,
    write_backup,
)
from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import resolve_project


def test_target_file_follows_include_and_override_files(tmp_path):
    (tmp_path / "domains").mkdir()
    (tmp_path / "compose.yml").write_text("include:\n  - domains/a.yml\nservices:\n  b:\n    image: x\n")
    (tmp_path / "domains" / "a.yml").write_text("services:\n  a:\n    image: x\n    healthcheck:\n      test: [CMD, 'true']\n")
    (tmp_path / "over.yml").write_text("services:\n  b:\n    healthcheck:\n      interval: 5s\n")
    project = resolve_project(str(tmp_path), compose_files=["compose.yml", "over.yml"])
    assert target_file(project, "a") == str(tmp_path / "domains" / "a.yml")
    assert target_file(project, "b") == str(tmp_path / "over.yml")
    with pytest.raises(ComposeEditError, match="not defined"):
        target_file(project, "nope")


def test_backup_is_written_once_private(tmp_path):
    old = os.umask(0o022)
    try:
        path = backup_path(str(tmp_path / "diag" / "svc"), str(tmp_path / "proj"), str(tmp_path / "proj" / "d" / "c.yml"))
        assert path == str(tmp_path / "diag" / "svc" / "compose_backup" / "d" / "c.yml")
        assert write_backup(path, b"original") is True
        assert write_backup(path, b"second") is False
        with open(path, "rb") as handle:
            assert handle.read() == b"original"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    finally:
        os.umask(old)


def test_replace_file_keeps_mode_and_refuses_symlinks(tmp_path):
    target = tmp_path / "compose.yml"
    target.write_text("a")
    os.chmod(str(target), 0o640)
    replace_file(str(target), b"b")
    assert target.read_text() == "b" and stat.S_IMODE(os.stat(str(target)).st_mode) == 0o640
    assert [p for p in os.listdir(str(tmp_path)) if p.endswith(".partial")] == []
    link = tmp_path / "link.yml"
    os.symlink(str(target), str(link))
    with pytest.raises(ComposeEditError, match="symlink"):
        replace_file(str(link), b"c")
    assert target.read_text() == "b"


def test_override_plan_is_idempotent_and_keeps_other_services():
    text, changed, before, after = plan_override("", "a", {"test": ["CMD", "true"], "interval": "5s"})
    assert changed and before == {} and after == {"test": ["CMD", "true"], "interval": "5s"}
    text2, changed2, dummy, dummy2 = plan_override(text, "b", {"retries": 4})
    assert changed2
    doc = yaml.safe_load(text2)
    assert doc["services"]["a"]["healthcheck"]["interval"] == "5s" and doc["services"]["b"]["healthcheck"]["retries"] == 4
    text3, changed3, dummy, dummy2 = plan_override(text2, "a", {"interval": 5})
    assert not changed3 and text3 == text2


def test_render_override_quotes_odd_service_names():
    text = render_override({"my svc": {"healthcheck": {"test": ["CMD", "true"]}}})
    assert yaml.safe_load(text)["services"]["my svc"]["healthcheck"]["test"] == ["CMD", "true"]
