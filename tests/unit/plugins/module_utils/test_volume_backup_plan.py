"""volume_backup_plan: which volumes, which containers are stopped/paused/left live, and how
volumes are grouped so a container is stopped once (pure logic, engine-shaped input)."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.volume_backup_plan import (
    archive_name, consistency_of, container_method, has_live_wal, health_verdict, plan_backup,
    select_volumes, space_problem, sqlite_files)


def volume(name, project="shop", short=None):
    labels = {"com.docker.compose.project": project} if project else {}
    if short:
        labels["com.docker.compose.volume"] = short
    return {"Name": name, "Driver": "local", "Labels": labels, "Mountpoint": "/var/lib/docker/volumes/%s/_data" % name}


def container(cid, mounts, state="running", labels=None, image="img"):
    return {"Id": cid * 8, "Names": ["/" + cid], "State": state, "Labels": labels or {}, "Image": image,
            "ImageID": "sha256:" + cid,
            "Mounts": [{"Type": "volume", "Name": name, "RW": rw} for name, rw in mounts]}


VOLUMES = [volume("shop_db", short="db"), volume("shop_cache", short="cache"), volume("other_x", project="other"),
           volume("shop_logs", short="logs")]


@pytest.mark.parametrize("names,exclude,selected,excluded,missing", [
    (None, (), ["shop_cache", "shop_db", "shop_logs"], [], []),
    (None, ["cache"], ["shop_db", "shop_logs"], ["shop_cache"], []),
    (None, ["shop_l*"], ["shop_cache", "shop_db"], ["shop_logs"], []),
    (["other_x", "nope"], (), ["other_x"], [], ["nope"]),
])
def test_select_volumes(names, exclude, selected, excluded, missing):
    chosen, skipped, absent = select_volumes(VOLUMES, "shop", names, exclude)
    assert [v["Name"] for v in chosen] == selected and skipped == excluded and absent == missing


@pytest.mark.parametrize("labels,option,method", [
    ({}, "auto", "stop"),
    ({"homeiq.phase0.consistency": "pause"}, "auto", "pause"),
    ({"homeiq.phase0.consistency": "LIVE"}, "auto", "live"),
    ({"docker-volume-backup.stop-during-backup": "true"}, "auto", "stop"),
    ({"docker-volume-backup.stop-during-backup": "false"}, "auto", "live"),
    ({"docker-volume-backup.stop-during-backup": " No "}, "auto", "live"),
    ({"docker-volume-backup.stop-during-backup": "nightly"}, "auto", "stop"),
    ({"docker-volume-backup.stop-during-backup": "false", "homeiq.phase0.consistency": "pause"}, "auto", "pause"),
    ({"docker-volume-backup.stop-during-backup": "false"}, "stop", "stop"),
    ({"homeiq.phase0.consistency": "pause"}, "live", "live"),
    ({}, "pause", "pause"),
])
def test_container_method(labels, option, method):
    assert container_method(container("a", [], labels=labels), option)[0] == method


def test_offen_opt_out_is_live_and_warned():
    method, warning = container_method(container("a", [], labels={"docker-volume-backup.stop-during-backup": "false"}),
                                       "auto")
    assert method == "live" and "keeps it running" in warning and "container a" in warning


def test_bad_label_value_warns_and_stops():
    method, warning = container_method(container("a", [], labels={"homeiq.phase0.consistency": "snapshot"}), "auto")
    assert method == "stop" and "snapshot" in warning


def test_plan_stops_only_running_read_write_users():
    containers = [
        container("api", [("shop_db", True)]),
        container("reader", [("shop_db", False)]),
        container("stopped", [("shop_db", True)], state="exited"),
        container("worker", [("shop_cache", True)], labels={"homeiq.phase0.consistency": "pause"}),
    ]
    plan = plan_backup(VOLUMES[:2], containers)
    by_name = dict((v["name"], v) for v in plan["volumes"])
    assert [w["name"] for w in by_name["shop_db"]["writers"]] == ["api"]
    assert by_name["shop_db"]["consistency"] == "stop"
    assert by_name["shop_cache"]["consistency"] == "pause"
    assert [(g["volumes"], g["stop"], g["pause"]) for g in plan["groups"]] == [
        (["shop_db"], ["api" * 8], []), (["shop_cache"], [], ["worker" * 8])]


def test_container_with_two_volumes_is_stopped_once():
    containers = [container("app", [("shop_db", True), ("shop_logs", True)]), container("c", [("shop_cache", True)])]
    plan = plan_backup([VOLUMES[0], VOLUMES[1], VOLUMES[3]], containers)
    assert [g["volumes"] for g in plan["groups"]] == [["shop_db", "shop_logs"], ["shop_cache"]]
    assert plan["groups"][0]["stop"] == ["app" * 8]


def test_live_writer_is_recorded_and_warned():
    plan = plan_backup([VOLUMES[0]], [container("api", [("shop_db", True)])], option="live")
    entry = plan["volumes"][0]
    assert entry["consistency"] == "live"
    assert entry["warnings"] and "consistency: live" in entry["warnings"][0]
    assert plan["groups"][0]["stop"] == [] and plan["groups"][0]["pause"] == []


def test_volume_without_running_writer_is_idle():
    plan = plan_backup([VOLUMES[0]], [container("api", [("shop_db", True)], state="exited")])
    assert plan["volumes"][0]["consistency"] == "idle" and plan["groups"][0]["stop"] == []


def test_pre_hook_label_is_planned():
    hook = {"docker-volume-backup.archive-pre": "pg_dump -f /dump.sql"}
    plan = plan_backup([VOLUMES[0]], [container("db", [("shop_db", True)], labels=hook)])
    assert plan["groups"][0]["hooks"] == [{"id": "db" * 8, "name": "db", "command": "pg_dump -f /dump.sql"}]


@pytest.mark.parametrize("writers,expected", [
    ([], "idle"),
    ([{"method": "stop", "state": "running"}], "stop"),
    ([{"method": "stop", "state": "running"}, {"method": "pause", "state": "running"}], "pause"),
    ([{"method": "pause", "state": "running"}, {"method": "live", "state": "running"}], "live"),
    ([{"method": "live", "state": "exited"}], "idle"),
])
def test_consistency_of(writers, expected):
    assert consistency_of(writers) == expected


@pytest.mark.parametrize("free,estimate,margin,refused", [
    (100, 50, 1.1, False), (100, 95, 1.1, True), (100, 95, 0, False), (100, None, 1.1, False),
])
def test_space_problem_names_both_numbers(free, estimate, margin, refused):
    problem = space_problem(free, estimate, margin)
    assert bool(problem) is refused
    if refused:
        assert str(free) in problem and str(int(estimate * margin)) in problem


def test_archive_name_and_sqlite_detection():
    assert archive_name("shop_db", "zstd") == "volumes/shop_db.tar.zst"
    assert archive_name("shop_db", "gzip") == "volumes/shop_db.tar.gz"
    names = ["./app.db", "./app.db-wal", "./app.db-shm", "./notes.txt"]
    assert sqlite_files(names) == names[:3]
    assert has_live_wal(names) and not has_live_wal(["./app.db"])


@pytest.mark.parametrize("before, status, running, ok, warned", [
    ("healthy", "healthy", True, True, False),
    ("healthy", "unhealthy", True, False, False),
    ("healthy", "timeout", True, False, False),
    (None, "running", True, True, False),
    (None, "exited", False, False, False),
    ("unhealthy", "unhealthy", True, True, True),
    ("unhealthy", "healthy", True, True, False),
    ("unhealthy", "timeout", True, True, True),
    ("unhealthy", "timeout", False, False, False),
    ("unhealthy", "exited", False, False, False),
    ("unhealthy", "paused", False, False, False),
    ("starting", "unhealthy", True, True, True),
    ("unhealthy", "error", False, False, False),
])
def test_health_verdict_back_to_the_health_it_had(before, status, running, ok, warned):
    verdict, warning = health_verdict(before, {"name": "app-1", "status": status, "running": running,
                                               "health": "starting" if status == "timeout" else None})
    assert verdict is ok
    assert bool(warning) is warned
    if warning:
        assert "app-1 was already %s before the backup" % before in warning
