"""Unit tests for monitor_files: log tree layout, retention selection, rotation, JSON lines."""
import datetime
import json
import os

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_files as mf

D = datetime.date


def test_tree_dirs_layout():
    dirs = mf.tree_dirs("rebuild_20260204")
    for phase in ("phase0", "phase4", "deployment"):
        for kind in ("build", "test", "health", "errors"):
            assert "rebuild_20260204/%s/%s" % (phase, kind) in dirs
    for extra in ("staging", "production", "rollback"):
        assert "rebuild_20260204/deployment/" + extra in dirs
    assert dirs.index("rebuild_20260204/phase0") < dirs.index("rebuild_20260204/phase0/health")


@pytest.mark.parametrize("name, day", [
    ("rebuild_20260204", D(2026, 2, 4)), ("rebuild_20261340", None), ("rebuild_2026", None),
    ("current_rebuild", None), ("xrebuild_20260204", None),
])
def test_tree_day(name, day):
    assert mf.tree_day(name) == day


@pytest.mark.parametrize("names, today, days, current, expected", [
    (["rebuild_20260101", "rebuild_20260120", "rebuild_20260201"], D(2026, 2, 4), 30, "rebuild_20260201",
     ["rebuild_20260101"]),
    (["rebuild_20260105"], D(2026, 2, 4), 30, None, []),                     # exactly 30 days: kept
    (["rebuild_20260104"], D(2026, 2, 4), 30, None, ["rebuild_20260104"]),   # 31 days
    (["rebuild_20200101"], D(2026, 2, 4), 30, "rebuild_20200101", []),       # current never removed
    (["rebuild_20200101", "notes", "rebuild_bad"], D(2026, 2, 4), 30, None, ["rebuild_20200101"]),
    (["rebuild_20200101"], D(2026, 2, 4), 0, None, []),                      # 0 disables retention
])
def test_expired_trees(names, today, days, current, expected):
    assert mf.expired_trees(names, today, days, current) == expected


@pytest.mark.parametrize("backups, plan", [
    (0, []),
    (1, [("f", "f.1")]),
    (3, [("f.2", "f.3"), ("f.1", "f.2"), ("f", "f.1")]),
])
def test_rotation_plan(backups, plan):
    assert mf.rotation_plan("f", backups) == plan


def test_append_jsonl_rotates_by_size(tmp_path):
    path = str(tmp_path / "h.jsonl")
    for i in range(30):
        mf.append_jsonl(path, [{"i": i, "pad": "x" * 40}], max_bytes=200, backups=2)
    assert os.path.getsize(path) <= 200
    assert os.path.exists(path + ".1") and os.path.exists(path + ".2") and not os.path.exists(path + ".3")
    newest = [json.loads(line)["i"] for line in open(path)]
    assert newest[-1] == 29
    older = [json.loads(line)["i"] for line in open(path + ".1")]
    assert older[-1] == newest[0] - 1


def test_rotation_with_no_backups_truncates(tmp_path):
    path = str(tmp_path / "e.jsonl")
    mf.append_jsonl(path, [{"a": "x" * 100}], max_bytes=50, backups=0)
    mf.append_jsonl(path, [{"b": 1}], max_bytes=50, backups=0)
    assert [json.loads(line) for line in open(path)] == [{"b": 1}]


def test_read_jsonl_tail_skips_partial_and_bad_lines(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps({"i": i}) + "\n" for i in range(100)) + "not json\n")
    assert mf.read_jsonl(str(path))[-1] == {"i": 99}
    tail = mf.read_jsonl(str(path), max_bytes=40)
    assert tail and tail[-1] == {"i": 99} and all("i" in r for r in tail)
    assert mf.read_jsonl(str(tmp_path / "missing")) == []


def test_atomic_write_replaces_and_sets_mode(tmp_path):
    path = str(tmp_path / "s.json")
    mf.atomic_write(path, "one")
    mf.atomic_write(path, "two", mode=0o600)
    assert open(path).read() == "two" and os.stat(path).st_mode & 0o777 == 0o600
    assert os.listdir(str(tmp_path)) == ["s.json"]
