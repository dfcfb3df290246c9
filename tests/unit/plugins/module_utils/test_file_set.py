"""file_set: plan (create / update / chmod / none), apply, and refusal of unsafe paths."""
import os
import stat

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.file_set import FileSetError, apply_file_set, plan_file_set

FILES = [{"path": "tool.py", "content": "print('hi')\n", "mode": "0755"},
         {"path": "lib/helpers.py", "content": "X = 1\n", "mode": "0644"}]


def actions(plan):
    return {entry["path"]: entry["action"] for entry in plan}


def test_create_then_nothing_then_update_and_chmod(tmp_path):
    old_umask = os.umask(0o077)  # the modes must not depend on the umask
    try:
        plan = plan_file_set(str(tmp_path), FILES)
        assert actions(plan) == {"tool.py": "create", "lib/helpers.py": "create"}
        apply_file_set(plan, FILES)
    finally:
        os.umask(old_umask)
    assert (tmp_path / "tool.py").read_text() == "print('hi')\n"
    assert stat.S_IMODE(os.stat(str(tmp_path / "tool.py")).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(str(tmp_path / "lib" / "helpers.py")).st_mode) == 0o644
    assert actions(plan_file_set(str(tmp_path), FILES)) == {"tool.py": "none", "lib/helpers.py": "none"}

    changed = [dict(FILES[0], content="print('bye')\n"), dict(FILES[1], mode="0600")]
    plan = plan_file_set(str(tmp_path), changed)
    assert actions(plan) == {"tool.py": "update", "lib/helpers.py": "chmod"}
    apply_file_set(plan, changed)
    assert (tmp_path / "tool.py").read_text() == "print('bye')\n"
    assert stat.S_IMODE(os.stat(str(tmp_path / "lib" / "helpers.py")).st_mode) == 0o600
    assert (tmp_path / "lib" / "helpers.py").read_text() == "X = 1\n"


def test_a_longer_file_with_the_same_start_is_an_update(tmp_path):
    (tmp_path / "a").write_text("abc\nmore\n")
    assert actions(plan_file_set(str(tmp_path), [{"path": "a", "content": "abc\n", "mode": "0644"}]))["a"] == "update"


@pytest.mark.parametrize("path", ["/etc/passwd", "../x", "lib/../../x", ""])
def test_unsafe_paths_are_refused(tmp_path, path):
    with pytest.raises(FileSetError):
        plan_file_set(str(tmp_path), [{"path": path, "content": "x", "mode": "0644"}])


def test_symlink_at_a_target_is_refused(tmp_path):
    (tmp_path / "outside").write_text("keep")
    os.symlink(str(tmp_path / "outside"), str(tmp_path / "tool.py"))
    with pytest.raises(FileSetError, match="symlink"):
        plan_file_set(str(tmp_path), FILES)
    assert (tmp_path / "outside").read_text() == "keep"
