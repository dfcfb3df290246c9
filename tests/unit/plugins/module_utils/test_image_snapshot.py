import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.image_snapshot import (
    archive_name, restore_actions, snapshot_records, split_reference, tag_action)

ID1 = "sha256:" + "1" * 64
ID2 = "sha256:" + "2" * 64


@pytest.mark.parametrize("ref, expected", [
    ("busybox", ("busybox", "latest")),
    ("busybox:1.36", ("busybox", "1.36")),
    ("reg:5000/a/b", ("reg:5000/a/b", "latest")),
    ("reg:5000/a/b:2.0@sha256:" + "f" * 64, ("reg:5000/a/b", "2.0")),
    (ID1, (None, None)),
    ("1" * 64, (None, None)),
    ("", (None, None)),
])
def test_split_reference(ref, expected):
    assert split_reference(ref) == expected


def _ctr(service, image, image_id):
    return {"Image": image, "ImageID": image_id, "Labels": {"com.docker.compose.service": service}}


def test_snapshot_records_group_services_and_split_tags():
    containers = [_ctr("web", "app:1", ID1), _ctr("worker", "app:2", ID2), _ctr("api", "app:1", ID1),
                  _ctr("db", ID2, ID2)]
    images = {ID1: {"RepoTags": ["app:1"]}, ID2: {"RepoTags": ["app:2", "app:pre-rebuild"]}}
    records = snapshot_records(containers, images, "pre-rebuild")
    assert [(r["repository"], r["tag"], r["id"], r["snapshot_tag"], r["services"]) for r in records] == [
        ("app", "1", ID1, "app:pre-rebuild-1", ["api", "web"]),
        ("app", "2", ID2, "app:pre-rebuild-2", ["db", "worker"]),
    ]


def test_untagged_image_gets_a_protecting_name():
    records = snapshot_records([_ctr("web", ID1, ID1)], {ID1: {"RepoTags": []}}, "snap")
    assert records[0]["snapshot_tag"] == "phase0-snapshot/web:snap" and records[0]["tag"] is None


@pytest.mark.parametrize("current, action", [(ID1, "unchanged"), (ID2, "tag"), (None, "tag")])
def test_tag_action(current, action):
    assert tag_action({"id": ID1}, current) == action


@pytest.mark.parametrize("present, archive, action", [
    ({"app:1": ID1}, None, "unchanged"),
    ({"app:1": ID2, "app:pre-rebuild": ID1}, None, "retag"),
    ({"app:1": ID2, ID1: ID1}, None, "retag"),
    ({"app:1": ID2}, "images/x.tar.zst", "load"),
    ({}, None, "missing"),
])
def test_restore_actions(present, archive, action):
    record = {"repository": "app", "tag": "1", "id": ID1, "snapshot_tag": "app:pre-rebuild", "archive": archive}
    assert restore_actions([record], present.get)[0]["action"] == action


def test_archive_name_is_file_system_safe():
    record = {"repository": "reg:5000/a/b", "id": ID1, "snapshot_tag": "reg:5000/a/b:pre-rebuild"}
    assert archive_name(record) == "images/reg_5000_a_b_pre-rebuild_111111111111.tar.zst"
