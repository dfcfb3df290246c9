"""runtime_audit on the real engine: versions equal what `docker exec ... --version` prints, policy applied.

The comparison values come from the docker CLI run by the test itself, not from our code.
"""
import re
import subprocess

import pytest

from helpers import run_module
from runtime_stack import SECRET, mini_stack  # noqa: F401  # pylint: disable=unused-import  # pytest fixture

pytestmark = pytest.mark.integration


def cli_version(container, binary):
    """What `docker exec <container> <binary> --version` prints, as a version, or None."""
    proc = subprocess.run(["docker", "exec", container, binary, "--version"], capture_output=True, check=False, text=True,
                          timeout=60)
    if proc.returncode != 0:
        return None
    match = re.search(r"(\d+\.\d+\.\d+)", proc.stdout + proc.stderr)
    return match.group(1) if match else None


def running_containers(docker_client, project):
    return docker_client.containers.list(filters={"label": "com.docker.compose.project=%s" % project})


def rows_by(result, key="container"):
    out = {}
    for row in result["rows"]:
        out.setdefault(row[key], []).append(row)
    return out


def audit(project, **args):
    result, proc = run_module("homeiq.phase0.runtime_audit", dict(project_name=project, **args))
    assert not result.get("failed"), result.get("msg")
    return result, proc


def test_demo_stack_every_running_container_with_its_real_version(demo_stack, docker_client):
    result, dummy = audit(demo_stack.name)
    rows = rows_by(result)
    running = running_containers(docker_client, demo_stack.name)
    assert running, "the demo stack has no running container"
    for container in running:
        assert container.name in rows, "container %s missing from the audit" % container.name
        expected = {}
        python = cli_version(container.name, "python3")
        node = cli_version(container.name, "node")
        if python:
            expected["python"] = python
        if node:
            expected["node"] = node
        got = dict((r["runtime"], r["version"]) for r in rows[container.name])
        if expected:
            assert got == expected, container.name
        else:
            assert got == {"none": None}, container.name
            assert rows[container.name][0]["status"] == "NO_RUNTIME"
    by_service = rows_by(result, "service")
    legacy = by_service["legacy-worker"][0]
    assert (legacy["runtime"], legacy["status"], legacy["priority"], legacy["minimum"]) == \
        ("python", "NEEDS_UPGRADE", "MEDIUM", "3.10")
    assert legacy["version"].startswith("3.9.")
    assert by_service["data-api"][0]["priority"] == "CRITICAL"
    assert by_service["ml-service"][0]["priority"] == "HIGH"
    assert by_service["health-dashboard"][0]["runtime"] == "node"
    assert by_service["health-dashboard"][0]["status"] == "OK"
    assert result["summary"]["needs_upgrade"] == 1
    medium = [g for g in result["upgrade_plan"] if g["priority"] == "MEDIUM"][0]
    assert [i["service"] for i in medium["needs_upgrade"]] == ["legacy-worker"]


def test_demo_stack_priority_rules_are_data(demo_stack):
    result, dummy = audit(demo_stack.name, priority_rules=[{"pattern": "legacy-*", "priority": "CRITICAL"}],
                          default_priority="LOW", minimum_versions={"node": "20"})
    by_service = rows_by(result, "service")
    assert by_service["legacy-worker"][0]["priority"] == "CRITICAL"
    assert by_service["data-api"][0]["priority"] == "LOW"
    dashboard = by_service["health-dashboard"][0]
    assert (dashboard["status"], dashboard["minimum"]) == ("NEEDS_UPGRADE", "20")
    critical = [g for g in result["upgrade_plan"] if g["priority"] == "CRITICAL"][0]
    assert critical["needs_upgrade_count"] == 1


def test_stopped_and_runtime_less_containers_are_reported_not_errors(mini_stack):
    result, dummy = audit(mini_stack.name, exec_timeout=3)
    rows = rows_by(result, "service")
    once = rows["once"][0]
    assert (once["state"], once["status"], once["runtime"]) == ("exited", "STOPPED", "unknown")
    assert "exited" in once["note"]
    proxy = rows["proxy"][0]
    assert (proxy["state"], proxy["status"], proxy["runtime"]) == ("running", "NO_RUNTIME", "none")
    frozen = rows["frozen"][0]  # paused: exec would answer 409, so it is not probed
    assert (frozen["state"], frozen["status"]) == ("paused", "STOPPED")
    assert "paused" in frozen["note"]
    assert result["summary"]["not_running"] == 2
    assert result["summary"]["containers"] == 10


def test_env_version_is_read_from_the_image_and_secrets_stay_out(mini_stack):
    result, proc = audit(mini_stack.name, exec_timeout=3)
    envpy = rows_by(result, "service")["envpy"]
    assert [(r["runtime"], r["version"], r["source"], r["command"]) for r in envpy] == \
        [("python", "3.12.12", "env", "PYTHON_VERSION")]
    assert SECRET not in proc.stdout and SECRET not in proc.stderr


def test_hung_container_becomes_unknown_within_the_deadline(mini_stack):
    result, dummy = audit(mini_stack.name, exec_timeout=2)
    rows = rows_by(result, "service")
    hung = rows["hung"][0]
    assert (hung["status"], hung["runtime"]) == ("UNKNOWN", "unknown")
    assert "timed out after 2" in hung["note"]
    legacy = rows["legacy-worker"][0]
    assert legacy["status"] == "NEEDS_UPGRADE"
    assert legacy["version"] == cli_version(mini_stack.container("legacy-worker"), "python3")
    assert result["elapsed"] < 10
    assert result["summary"]["unknown"] == 1


@pytest.mark.parametrize("probe, scope", [("exec", "container"), ("exec", "image"), ("env_then_exec", "container")])
def test_probe_modes_agree_with_docker_exec(mini_stack, probe, scope):
    result, dummy = audit(mini_stack.name, probe=probe, probe_scope=scope, exec_timeout=3)
    rows = rows_by(result, "service")
    for service, binary, runtime in (("app", "python3", "python"), ("legacy-worker", "python3", "python"),
                                     ("ui", "node", "node"), ("api", "python3", "python")):
        row = [r for r in rows[service] if r["runtime"] == runtime][0]
        assert row["version"] == cli_version(mini_stack.container(service), binary), service
        assert row["source"] == "exec"
    if probe == "exec":
        # the image env is not trusted: busybox has no python, whatever PYTHON_VERSION says
        assert rows["envpy"][0]["status"] == "NO_RUNTIME"


def test_env_only_probe_never_execs(mini_stack):
    result, dummy = audit(mini_stack.name, probe="env")
    rows = rows_by(result, "service")
    assert rows["envpy"][0]["version"] == "3.12.12"
    assert rows["app"][0]["status"] == "NO_RUNTIME"  # nothing in the env, and no exec
    assert result["elapsed"] < 5


def test_unreachable_engine_is_one_clear_failure():
    result, proc = run_module("homeiq.phase0.runtime_audit",
                              {"project_name": "x", "docker_host": "unix:///nonexistent/docker.sock"})
    assert result.get("failed")
    assert "unix:///nonexistent/docker.sock" in result["msg"] and "dockerd" in result["msg"]
    assert "Traceback" not in result["msg"]
