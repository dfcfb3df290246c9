"""homeiq.phase0.project_info against the real engine and real `docker compose` stacks."""
import json
import os
import subprocess

import pytest

from helpers import DEMO_SRC, compose, run_module

IMAGE = "phase0-fixture/busybox"

# A tiny stack: one healthy service, one whose probe fails, one without healthcheck, a
# service in an included file, two named volumes and a .env that holds a secret.
ROOT_FILE = """\
name: ${STACK_NAME}
include:
  - path: domains/extra/compose.yml
services:
  good:
    image: %(image)s
    command: ["sleep", "3600"]
    volumes: ["data:/data"]
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
      retries: 1
  bad:
    image: %(image)s
    command: ["sleep", "3600"]
    healthcheck:
      test: ["CMD-SHELL", "exit 3"]
      interval: 1s
      retries: 1
  plain:
    image: %(image)s
    command: ["sleep", "3600"]
    volumes: ["cache:/cache"]
volumes:
  data: {}
  cache: {}
""" % {"image": IMAGE}

EXTRA_FILE = """\
services:
  extra:
    image: %(image)s
    command: ["sleep", "3600"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
""" % {"image": IMAGE}


def _write_stack(directory, name):
    os.makedirs(os.path.join(directory, "domains", "extra"))
    with open(os.path.join(directory, "compose.yaml"), "w") as handle:
        handle.write(ROOT_FILE)
    with open(os.path.join(directory, "domains", "extra", "compose.yml"), "w") as handle:
        handle.write(EXTRA_FILE)
    with open(os.path.join(directory, ".env"), "w") as handle:
        handle.write("STACK_NAME=%s\nDB_PASSWORD=hunter2\n" % name)


def _wait_health(docker_client, name, wanted, timeout=60):
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        states = {}
        for container in docker_client.containers.list(filters={"label": "com.docker.compose.project=%s" % name}):
            states[container.labels["com.docker.compose.service"]] = (container.attrs["State"].get("Health") or {}).get("Status")
        if all(states.get(k) == v for k, v in wanted.items()):
            return states
        time.sleep(0.5)
    raise AssertionError("health never reached %s: %s" % (wanted, states))


@pytest.fixture(scope="module")
def tiny_stack(tmp_path_factory, docker_client):
    import uuid
    name = "p0tinfo" + uuid.uuid4().hex[:6]
    directory = str(tmp_path_factory.mktemp("tiny") / "Tiny.Stack")
    _write_stack(directory, name)
    compose(directory, "up", "-d")
    try:
        _wait_health(docker_client, name, {"good": "healthy", "bad": "unhealthy", "extra": "healthy"})
        yield directory, name
    finally:
        compose(directory, "down", "-v", "-t", "1", check=False)


def test_project_info_on_a_real_stack(tiny_stack, docker_client):
    directory, name = tiny_stack
    result, proc = run_module("homeiq.phase0.project_info", {"project_dir": directory, "volume_sizes": True})
    assert not result.get("failed"), result
    assert result["changed"] is False
    project = result["project"]
    assert project["name"] == name
    assert project["name_source"] == "compose_file"          # `name: ${STACK_NAME}` from .env
    assert project["dir"] == directory

    services = {s["name"]: s for s in project["services"]}
    assert sorted(services) == ["bad", "extra", "good", "plain"]
    assert services["good"]["health"] == "healthy"
    assert services["bad"]["health"] == "unhealthy"
    assert services["plain"]["health"] == "none"
    assert all(s["state"] == "running" for s in services.values())
    assert services["extra"]["file"] == os.path.join(directory, "domains", "extra", "compose.yml")
    assert services["good"]["file"] == os.path.join(directory, "compose.yaml")
    assert services["good"]["containers"] == ["%s-good-1" % name]
    assert services["good"]["image"] == IMAGE

    containers = {c["service"]: c for c in project["containers"]}
    assert containers["bad"]["failing_streak"] >= 1
    assert containers["bad"]["last_probe_exit_code"] == 3
    assert containers["good"]["volumes"] == ["%s_data" % name]
    engine_ids = {c.id for c in docker_client.containers.list(filters={"label": "com.docker.compose.project=%s" % name})}
    assert {c["id"] for c in project["containers"]} == engine_ids

    volumes = {v["name"]: v for v in project["volumes"]}
    assert sorted(volumes) == ["%s_cache" % name, "%s_data" % name]
    data = volumes["%s_data" % name]
    assert data["labels"]["com.docker.compose.project"] == name
    assert data["labels"]["com.docker.compose.volume"] == "data"
    assert data["driver"] == "local"
    assert data["mountpoint"] == docker_client.volumes.get("%s_data" % name).attrs["Mountpoint"]
    assert data["used_by"] == ["%s-good-1" % name]
    assert isinstance(data["size"], int) and data["size"] >= 0
    assert {d["key"]: d["exists"] for d in project["declared_volumes"]} == {"cache": True, "data": True}

    image_id = docker_client.images.get(IMAGE).id
    assert [i["id"] for i in project["images"]] == [image_id]
    assert IMAGE + ":latest" in project["images"][0]["tags"]
    assert project["images"][0]["services"] == ["bad", "extra", "good", "plain"]
    assert [n["name"] for n in project["networks"]] == ["%s_default" % name]
    assert project["summary"]["unhealthy"] == 1 and project["summary"]["healthy"] == 2
    # the .env secret and the interpolated environment never reach the result or the output
    assert "hunter2" not in json.dumps(result)
    assert "hunter2" not in proc.stdout + proc.stderr


def test_check_mode_gives_the_same_result(tiny_stack):
    directory, dummy = tiny_stack
    normal, dummy_proc = run_module("homeiq.phase0.project_info", {"project_dir": directory})
    checked, dummy_proc = run_module("homeiq.phase0.project_info", {"project_dir": directory}, check=True)
    for result in (normal, checked):
        for container in result["project"]["containers"]:
            container.pop("status")           # "Up 3 seconds" ticks between the two runs
            container.pop("failing_streak")
    assert checked["changed"] is normal["changed"] is False
    assert checked["project"] == normal["project"]


def test_by_name_only_uses_the_engine_labels(tiny_stack):
    directory, name = tiny_stack
    result, dummy = run_module("homeiq.phase0.project_info", {"project_name": name})
    project = result["project"]
    assert project["dir"] == directory                       # from com.docker.compose.project.working_dir
    assert project["compose_files"] == [os.path.join(directory, "compose.yaml")]
    assert sorted(s["name"] for s in project["services"]) == ["bad", "extra", "good", "plain"]
    assert all(s["defined"] is False for s in project["services"])


def test_wrong_socket_fails_naming_the_path(tiny_stack):
    directory, dummy = tiny_stack
    result, dummy = run_module("homeiq.phase0.project_info",
                               {"project_dir": directory, "docker_host": "unix:///nonexistent.sock"})
    assert result["failed"] is True
    assert "unix:///nonexistent.sock" in result["msg"]
    assert "is dockerd running?" in result["msg"]
    assert "docker_host/DOCKER_HOST" in result["msg"]


def test_docker_host_env_fallback_is_used(tiny_stack):
    directory, dummy = tiny_stack
    result, dummy = run_module("homeiq.phase0.project_info", {"project_dir": directory},
                               env={"DOCKER_HOST": "unix:///also/missing.sock"})
    assert result["failed"] is True
    assert "unix:///also/missing.sock" in result["msg"]


def test_project_without_containers_is_empty_with_a_warning(tmp_path, prefix):
    directory = tmp_path / prefix
    directory.mkdir()
    (directory / "compose.yaml").write_text(
        "services:\n  idle:\n    image: %s\n    volumes: [keep:/k]\nvolumes:\n  keep: {}\n" % IMAGE)
    for check in (False, True):
        result, dummy = run_module("homeiq.phase0.project_info", {"project_dir": str(directory)}, check=check)
        assert not result.get("failed"), result
        project = result["project"]
        assert project["name"] == prefix
        assert project["containers"] == [] and project["volumes"] == [] and project["images"] == []
        assert project["networks"] == []
        assert [(s["name"], s["state"], s["health"]) for s in project["services"]] == [("idle", "absent", None)]
        assert project["declared_volumes"] == [{"key": "keep", "name": prefix + "_keep", "exists": False}]
        assert any("no containers of compose project '%s'" % prefix in w for w in result["warnings"])


def test_bad_compose_file_fails_with_the_file_named(tmp_path):
    (tmp_path / "compose.yaml").write_text("include:\n  - missing/compose.yml\n")
    result, dummy = run_module("homeiq.phase0.project_info", {"project_dir": str(tmp_path)})
    assert result["failed"] is True
    assert "missing/compose.yml, which does not exist" in result["msg"]


@pytest.mark.parametrize("dirname, files, env", [
    ("My.Dir_X", {"compose.yaml": "services:\n  a:\n    image: x\n"}, {}),
    ("-_9Lead", {"compose.yaml": "services:\n  a:\n    image: x\n"}, {}),
    ("p", {"compose.yaml": "name: ${PN:-Deflt.Name}\nservices:\n  a:\n    image: x\n"}, {}),
    ("p", {"compose.yaml": "name: fromfile\nservices:\n  a:\n    image: x\n", ".env": "COMPOSE_PROJECT_NAME=fromdotenv\n"}, {}),
    ("p", {"compose.yaml": "name: fromfile\nservices:\n  a:\n    image: x\n", ".env": "COMPOSE_PROJECT_NAME=fromdotenv\n"},
     {"COMPOSE_PROJECT_NAME": "fromenv"}),
    ("p", {"compose.yaml": "name: ${PN}\nservices:\n  a:\n    image: x\n", ".env": "PN=Dot.Env\n"}, {}),
    ("p", {"docker-compose.yml": "name: legacy\nservices:\n  a:\n    image: x\n",
           "compose.yml": "name: modern\nservices:\n  a:\n    image: x\n"}, {}),
    ("p", {"compose.yaml": "name: base\nservices:\n  a:\n    image: x\n",
           "compose.override.yaml": "name: over\n"}, {}),
])
def test_name_resolution_matches_real_compose(tmp_path, dirname, files, env):
    """Our resolver and `docker compose config` agree on the project name."""
    from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import resolve_project
    directory = tmp_path / dirname
    directory.mkdir()
    for rel, text in files.items():
        (directory / rel).write_text(text)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    full_env.update(env)
    proc = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=str(directory),
                          env=full_env, capture_output=True, text=True, check=True)
    assert resolve_project(str(directory), env=full_env).name == json.loads(proc.stdout)["name"]


@pytest.mark.skipif(not os.path.isdir(DEMO_SRC), reason="tests/fixtures/demo (the demo stack) is not in this checkout")
def test_project_info_on_the_demo_stack(demo_stack, docker_client):
    _wait_health(docker_client, demo_stack.name, {"websocket-ingestion": "unhealthy"}, timeout=180)
    result, dummy = run_module("homeiq.phase0.project_info", {"project_dir": demo_stack.dir, "project_name": demo_stack.name})
    assert not result.get("failed"), result
    project = result["project"]
    assert project["name"] == demo_stack.name
    assert len(project["services"]) >= 8
    assert len(project["volumes"]) >= 6
    services = {s["name"]: s for s in project["services"]}
    assert services["websocket-ingestion"]["health"] == "unhealthy"
    assert services["websocket-ingestion"]["file"] == os.path.join(demo_stack.dir, "docker-compose.yml")
    included = [s for s in services.values() if s["file"] and os.sep + "domains" + os.sep in s["file"]]
    assert included, "the demo's include: file defines no service we found"
    assert all(s["containers"] for s in services.values() if not s["profiles"])
    proc = demo_stack.compose("ps", "-a", "--format", "json")
    listed = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert sorted(c["name"] for c in project["containers"]) == sorted(c["Name"] for c in listed)
