import io
import tarfile

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.content_digest import diff_entries, tree_digest


def _tar(members, order=None, uname="root"):
    """members: list of (name, kind, extra) ; returns tar bytes."""
    buf = io.BytesIO()
    items = list(members)
    if order:
        items = [items[i] for i in order]
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, extra in items:
            info = tarfile.TarInfo(name)
            info.mtime = extra.get("mtime", 1700000000)
            info.uid = extra.get("uid", 0)
            info.gid = extra.get("gid", 0)
            info.uname = uname
            info.mode = extra.get("mode", 0o644)
            data = None
            if kind == "file":
                data = extra.get("data", b"")
                info.size = len(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = extra["target"]
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = extra["target"]
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


TREE = [
    ("data", "dir", {"mode": 0o755}),
    ("data/a.txt", "file", {"data": b"hello"}),
    ("data/sub", "dir", {"mode": 0o2775, "uid": 70}),
    ("data/sub/b.bin", "file", {"data": b"\x00" * 1000, "uid": 999}),
    ("data/link", "symlink", {"target": "a.txt"}),
    ("data/hard", "hardlink", {"target": "data/a.txt"}),
]


def _digest(members, **kw):
    return tree_digest(io.BytesIO(_tar(members, **kw)), root_prefix="data", keep_entries=True)


def test_same_tree_in_another_order_and_with_other_names_has_the_same_digest():
    a = _digest(TREE)
    b = _digest(TREE, order=[0, 2, 3, 4, 1, 5], uname="postgres")
    assert a.digest == b.digest
    assert a.members == 6
    assert a.file_bytes == 1005


@pytest.mark.parametrize("index, change, field", [
    (1, {"data": b"hellp"}, "content"),
    (1, {"data": b"hello", "mode": 0o600}, "mode"),
    (3, {"data": b"\x00" * 1000, "uid": 998}, "uid"),
    (1, {"data": b"hello", "mtime": 1700000001}, "mtime"),
    (4, {"target": "../a.txt"}, "link"),
])
def test_one_changed_field_changes_the_digest_and_is_named(index, change, field):
    changed = list(TREE)
    name, kind, extra = changed[index]
    changed[index] = (name, kind, dict(extra, **change))
    a, b = _digest(TREE), _digest(changed)
    assert a.digest != b.digest
    problems = diff_entries(a.entries, b.entries)
    assert len(problems) == 1 and name[len("data/"):] in problems[0] and field in problems[0]


def test_missing_member_is_reported():
    a, b = _digest(TREE), _digest(TREE[:-1])
    assert a.digest != b.digest
    assert diff_entries(a.entries, b.entries) == ["hard: only in the first tree"]


def test_truncated_stream_raises():
    raw = _tar(TREE)
    with pytest.raises(tarfile.TarError):
        tree_digest(io.BytesIO(raw[:1100]))
