"""TARGETS 28 on the real engine: how rollback_verify waits for a stack's services.

A one-shot init service that nobody depends on exits 0: that is `completed`, not a failure. A
service that turns unhealthy fails the wait at once, long before its timeout. A service still
`starting` when the timeout runs out is named in the failure.
"""
import json
import time

import pytest

from helpers import compose, run_module, wait_for
from restore_fixtures import make_backup

pytestmark = [pytest.mark.integration]

BUSYBOX = "phase0-fixture/busybox:latest"


def service(command, healthcheck=None):
    spec = {"image": BUSYBOX, "pull_policy": "never", "network_mode": "none", "command": command,
            "stop_grace_period": "1s"}
    if healthcheck:
        spec["healthcheck"] = healthcheck
    return spec


@pytest.fixture
def stack(tmp_path, prefix):
    made = []

    def up(services):
        directory = tmp_path / ("stack%d" % len(made))
        directory.mkdir()
        # JSON is YAML: the compose file is written from the dict as it is
        (directory / "compose.yml").write_text(json.dumps({"services": services}))
        name = "%s%d" % (prefix, len(made))
        made.append((directory, name))
        compose(directory, "up", "-d", project_name=name)
        return name

    yield up
    for directory, name in made:
        compose(directory, "down", "-v", "-t", "1", project_name=name, check=False)


def container_states(docker_client, project):
    return dict((c.labels["com.docker.compose.service"], (c.status, c.attrs["State"].get("Health", {}).get("Status")))
                for c in docker_client.containers.list(all=True, filters={"label": "com.docker.compose.project=" + project}))


def verify(tmp_path, project, timeout):
    backup = make_backup(tmp_path / project, {}, project=project)
    began = time.monotonic()
    result, dummy = run_module("homeiq.phase0.rollback_verify", {
        "project_name": project, "backup_dir": backup, "checks": ["services"], "health_timeout": timeout})
    return result, time.monotonic() - began


def rows_by_service(result):
    return dict((row["service"], row) for row in result["services"])


def test_init_completes_and_unhealthy_fails_fast(stack, docker_client, tmp_path):
    project = stack({
        "init": service(["sh", "-c", "echo migrated; exit 0"]),
        "web": service(["sleep", "300"], {"test": ["CMD", "true"], "interval": "1s", "retries": 1}),
        "worker": service(["sleep", "300"], {"test": ["CMD", "false"], "interval": "1s", "retries": 1}),
    })
    wait_for(lambda: container_states(docker_client, project).get("worker", (0, 0))[1] == "unhealthy"
             and container_states(docker_client, project).get("init", (0,))[0] == "exited", 60,
             "worker unhealthy and init exited")
    result, seconds = verify(tmp_path, project, timeout=120)
    assert result.get("failed"), result
    rows = rows_by_service(result)
    assert rows["init"]["status"] == "completed", rows
    assert rows["web"]["status"] == "ok", rows
    assert rows["worker"]["status"] == "failed" and "unhealthy" in rows["worker"]["detail"], rows
    assert any("worker" in problem for problem in result["problems"]), result["problems"]
    assert not any("init" in problem for problem in result["problems"]), result["problems"]
    assert "worker" in result["msg"]
    # it did not wait for the 120 s timeout: an unhealthy service is an answer
    assert seconds < 60, seconds


def test_timeout_names_the_services_still_starting(stack, docker_client, tmp_path):
    project = stack({
        "init": service(["true"]),
        "slow": service(["sleep", "300"], {"test": ["CMD", "false"], "interval": "60s", "start_period": "120s"}),
    })
    wait_for(lambda: container_states(docker_client, project).get("slow", (0, 0))[1] == "starting", 60, "slow starting")
    result, dummy = verify(tmp_path, project, timeout=4)
    assert result.get("failed"), result
    assert rows_by_service(result)["slow"]["status"] == "pending"
    assert rows_by_service(result)["init"]["status"] == "completed"
    assert any("still starting after 4s" in problem and "slow" in problem for problem in result["problems"]), \
        result["problems"]
