"""host_preflight and the infra_check role against the real engine.

Expected values come from the engine and the CLI, asked by the test itself.
"""
import glob
import json
import os
import stat
import subprocess

import pytest

from helpers import BIN, ROOT, run_module, run_playbook
from runtime_stack import BUSYBOX_IMAGE, mini_stack  # noqa: F401  # pylint: disable=unused-import  # pytest fixture

pytestmark = pytest.mark.integration

GIB = 1024 ** 3
PLAYBOOK = os.path.join(ROOT, "tests", "integration", "playbooks", "infra_check.yml")
HUGE = {"min_memory_gb": 100000, "min_cpus": 10000, "min_free_disk_gb": 10000000}


def preflight(**args):
    result, proc = run_module("homeiq.phase0.host_preflight", args)
    assert "Traceback" not in proc.stdout and "Traceback" not in proc.stderr
    return result, proc


def checks_of(result):
    return dict((c["id"], c) for c in result["checks"])


def free_at(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_checks_against_the_real_engine(mini_stack, docker_client, tmp_path):
    result, dummy = preflight(project_name=mini_stack.name, backup_dir=str(tmp_path / "backups"), exec_timeout=2)
    assert not result.get("failed"), result.get("msg")
    checks = checks_of(result)
    version = docker_client.version()
    info = docker_client.info()

    assert checks["engine_version"]["value"] == version["Version"]
    assert checks["engine_version"]["status"] == "pass"  # the test engine is 20.10+
    assert checks["api_version"]["value"].startswith(version["ApiVersion"])
    assert checks["daemon_responsive"]["status"] == "pass"

    cli_compose = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, check=False, text=True)
    assert checks["compose_plugin"]["value"] == cli_compose.stdout.strip().lstrip("v")
    assert checks["compose_plugin"]["status"] == "pass"

    buildx = subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False, text=True)
    assert checks["buildx"]["status"] == ("pass" if buildx.returncode == 0 else "warn")
    if buildx.returncode != 0:
        assert "install the buildx plugin" in checks["buildx"]["fix"]
        assert checks["buildkit"]["status"] == "warn"

    assert "engine %.1f GiB" % (info["MemTotal"] / GIB) in checks["memory"]["value"]
    assert checks["memory"]["status"] == ("pass" if info["MemTotal"] >= 16 * GIB * 0.97 else "warn")
    assert checks["cpus"]["value"].startswith("engine %d," % info["NCPU"])
    assert checks["cpus"]["status"] == ("pass" if info["NCPU"] >= 4 else "warn")

    root = info["DockerRootDir"]
    data_root = checks["disk_data_root"]
    assert data_root["details"]["path"] == root
    assert abs(data_root["details"]["free_bytes"] - free_at(root)) < GIB
    assert data_root["status"] == ("pass" if free_at(root) >= 50 * GIB else "fail")
    backup = checks["disk_backup_dir"]
    assert backup["details"]["path"] == str(tmp_path)  # nearest existing parent of backups/
    assert backup["status"] == ("pass" if free_at(str(tmp_path)) >= 50 * GIB else "fail")

    running = sorted(c.name for c in docker_client.containers.list(
        filters={"label": "com.docker.compose.project=%s" % mini_stack.name}))
    assert sorted(s["container"] for s in result["stats"]) == running
    assert all(s["memory_bytes"] > 0 and s["cpu_percent"] is not None for s in result["stats"])

    # Node.js/Python versions come from the runtime audit
    assert checks["python_runtimes"]["status"] == "warn"
    assert "legacy-worker 3.9" in checks["python_runtimes"]["value"]
    assert checks["node_runtimes"]["status"] == "pass"
    assert "hung" in checks["runtime_probe"]["value"]
    assert result["engine"]["root_dir"] == root


def test_thresholds_above_the_machine_fail_with_the_fix(mini_stack, tmp_path):
    result, dummy = preflight(project_name=mini_stack.name, backup_dir=str(tmp_path), runtimes=False, stats=False,
                              severity={"memory": "fail", "cpus": "fail"}, **HUGE)
    checks = checks_of(result)
    for check_id, words in (("memory", "memory"), ("cpus", "cores"), ("disk_data_root", "free space under"),
                            ("disk_backup_dir", "free space on the filesystem")):
        assert checks[check_id]["status"] == "fail", check_id
        assert words in checks[check_id]["fix"], check_id
    assert result["status"] == "fail"
    assert not result.get("failed")  # fail_on defaults to never: the checks are data

    failed, dummy = preflight(project_name=mini_stack.name, runtimes=False, stats=False, fail_on="fail", **HUGE)
    assert failed.get("failed")
    assert "disk_data_root fail" in failed["msg"] and "free space under" in failed["msg"]
    assert len(failed["checks"]) >= 8


def test_default_severity_warns_for_memory_and_cpus():
    result, dummy = preflight(runtimes=False, stats=False, min_memory_gb=100000, min_cpus=10000)
    checks = checks_of(result)
    assert (checks["memory"]["status"], checks["cpus"]["status"]) == ("warn", "warn")


@pytest.mark.parametrize("docker_host, words", [
    ("unix:///nonexistent/docker.sock", "does not exist"),
    ("tcp://127.0.0.1:1", "connection refused"),
])
def test_unreachable_engine_is_one_clear_failure(docker_host, words):
    result, proc = preflight(project_name="whatever", docker_host=docker_host, timeout=5)
    assert not result.get("failed")
    failed = [c for c in result["checks"] if c["status"] == "fail"]
    assert [c["id"] for c in failed] == ["engine_reachable"]
    assert docker_host in failed[0]["fix"] and words in failed[0]["fix"]
    assert result["status"] == "fail"


def test_compose_v1_alone_fails_with_the_fix_named(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    script = fake / "docker-compose"
    script.write_text("#!/bin/sh\necho 'docker-compose version 1.29.2, build 5becea4c'\n")
    script.chmod(0o755)
    env = {"PATH": os.pathsep.join([str(fake), BIN, "/usr/bin", "/bin"])}
    result, dummy = run_module("homeiq.phase0.host_preflight",
                               {"runtimes": False, "stats": False, "docker_cli": str(fake / "no-docker")}, env=env)
    compose = checks_of(result)["compose_plugin"]
    assert compose["status"] == "fail"
    assert "1.29.2" in compose["value"] and "Compose v1" in compose["fix"] and "docker-compose-plugin" in compose["fix"]


def test_data_root_read_in_a_container_matches_statvfs(mini_stack, docker_client):
    result, dummy = preflight(project_name=mini_stack.name, data_root_probe="container", probe_images=[BUSYBOX_IMAGE],
                              runtimes=False, stats=False)
    check = checks_of(result)["disk_data_root"]
    assert check["details"]["method"] == "container (%s)" % BUSYBOX_IMAGE
    assert abs(check["details"]["free_bytes"] - free_at(docker_client.info()["DockerRootDir"])) < GIB
    leftovers = docker_client.containers.list(all=True, filters={"label": "org.homeiq.phase0.probe=disk"})
    assert leftovers == []


def test_infra_check_role_writes_reports_and_fails_on_a_failed_check(mini_stack, tmp_path):
    base = dict(phase0_project_dir=mini_stack.dir, phase0_project_name=mini_stack.name,
                phase0_output_dir=str(tmp_path), infra_check_min_memory_gb=1, infra_check_min_cpus=1,
                infra_check_min_free_disk_gb=0.001)
    ok = run_playbook(PLAYBOOK, base)
    assert ok.returncode == 0, ok.stdout[-3000:]

    bad = run_playbook(PLAYBOOK, dict(base, infra_check_min_memory_gb=100000, infra_check_severity={"memory": "fail"}))
    assert bad.returncode != 0
    assert "host not ready: memory" in bad.stdout

    never = run_playbook(PLAYBOOK, dict(base, infra_check_min_memory_gb=100000, infra_check_severity={"memory": "fail"},
                                        infra_check_fail_on="never"))
    assert never.returncode == 0, never.stdout[-3000:]

    reports = sorted(glob.glob(os.path.join(str(tmp_path), "diagnostics", "infrastructure", "*")))
    assert 1 <= len(reports) <= 3  # one per second at most: runs may share a timestamp
    latest = reports[-1]
    assert stat.S_IMODE(os.stat(latest).st_mode) == 0o700
    for name in ("infrastructure_validation.md", "infrastructure_validation.json"):
        assert stat.S_IMODE(os.stat(os.path.join(latest, name)).st_mode) == 0o600
    with open(os.path.join(latest, "infrastructure_validation.json")) as handle:
        data = json.load(handle)
    memory = [c for c in data["checks"] if c["id"] == "memory"][0]
    assert memory["status"] == "fail"
    with open(os.path.join(latest, "infrastructure_validation.md")) as handle:
        text = handle.read()
    assert "| Memory (as the engine sees it) (`memory`) | >= 100000.0 GiB |" in text
    assert "## docker stats snapshot" in text and mini_stack.container("app") in text
