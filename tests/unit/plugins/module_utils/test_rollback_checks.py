import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.rollback_checks import (
    container_verdict,
    judge_images,
    judge_services,
    judge_volumes,
)


def _c(service, state="running", status="Up 1 minute", oneoff="False"):
    return {"Names": ["/p-%s-1" % service], "State": state, "Status": status,
            "Labels": {"com.docker.compose.service": service, "com.docker.compose.oneoff": oneoff}}


@pytest.mark.parametrize("state, status, expected, verdict", [
    ("running", "Up 2 minutes (healthy)", None, "ok"),
    ("running", "Up 2 minutes", None, "ok"),
    ("running", "Up 3 seconds (health: starting)", None, "pending"),
    ("running", "Up 2 minutes (unhealthy)", {"state": "running", "health": "healthy"}, "failed"),
    ("running", "Up 2 minutes (unhealthy)", None, "failed"),
    ("running", "Up 2 minutes (unhealthy)", {"state": "running", "health": "unhealthy"}, "as_before"),
    ("running", "Up 2 minutes (unhealthy)", {"state": "running", "health": "starting"}, "as_before"),
    ("exited", "Exited (0) 1 minute ago", None, "completed"),
    ("exited", "Exited (0) 1 minute ago", {"state": "exited"}, "completed"),
    ("exited", "Exited (0) 1 minute ago", {"state": "running", "health": None}, "failed"),
    ("exited", "Exited (137) 1 minute ago", {"state": "running"}, "failed"),
    ("exited", "Exited (1) 1 minute ago", {"state": "exited"}, "as_before"),
    ("created", "Created", {"state": "running"}, "failed"),
])
def test_container_verdict(state, status, expected, verdict):
    assert container_verdict({"State": state, "Status": status}, expected)[0] == verdict


def test_services_pending_until_nothing_starts_and_missing_ones_fail():
    expected = {"db": {"state": "running", "health": "healthy"}, "web": {"state": "running", "health": None},
                "gone": {"state": "running"}}
    result = judge_services([_c("db", status="Up 1s (health: starting)"), _c("web"),
                             _c("web", oneoff="True", state="exited", status="Exited (3)")], expected)
    assert result["pending"] == ["db"] and not result["ok"]
    assert result["problems"] == ["service gone: no container, but it was running when the backup was taken"]
    result = judge_services([_c("db", status="Up 1m (healthy)"), _c("web")], {"db": expected["db"]})
    assert result["ok"] and [r["status"] for r in result["rows"]] == ["ok", "ok"]


def test_images_compare_ids():
    recorded = [{"repository": "app", "tag": "1.0", "id": "sha256:a"}, {"repository": "db", "tag": "2", "id": "sha256:b"}]
    result = judge_images(recorded, {"app:1.0": "sha256:a", "db:2": "sha256:c"})
    assert not result["ok"] and result["problems"] == ["image db:2 is sha256:c, the backup recorded sha256:b"]
    assert judge_images(recorded[:1], {"app:1.0": "sha256:a"})["ok"]
    assert judge_images(recorded[:1], {})["problems"] == ["image app:1.0 is missing, the backup recorded sha256:a"]


@pytest.mark.parametrize("row, ok", [
    ({"name": "v", "archive_digest": "ab" * 32, "live_digest": "ab" * 32}, True),
    ({"name": "v", "archive_digest": "ab" * 32, "live_digest": "cd" * 32}, False),
    ({"name": "v", "archive_digest": None, "live_digest": None}, False),
    ({"name": "v", "error": "volume v does not exist"}, False),
])
def test_volumes(row, ok):
    assert judge_volumes([row])["ok"] is ok


@pytest.mark.parametrize("state,status,expected,verdict", [
    # strict: what was broken at backup time must be fixed now
    ("running", "Up 2 minutes (unhealthy)", {"state": "running", "health": "unhealthy"}, "failed"),
    ("exited", "Exited (1) 1 minute ago", {"state": "exited"}, "failed"),
    ("running", "Up 2 minutes (healthy)", {"state": "running", "health": "unhealthy"}, "ok"),
    ("exited", "Exited (0) 1 minute ago", {"state": "exited"}, "completed"),
    ("running", "Up 3 seconds (health: starting)", {"state": "running", "health": "unhealthy"}, "pending"),
])
def test_container_verdict_strict(state, status, expected, verdict):
    container = {"State": state, "Status": status, "Names": ["/x"], "Labels": {}}
    assert container_verdict(container, expected, strict=True)[0] == verdict
