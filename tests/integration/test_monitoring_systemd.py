"""The monitoring role's systemd mode on a target where systemd really is PID 1.

The target is a container of the debian-systemd fixture image that boots /lib/systemd/systemd, with
the engine's socket bind-mounted so its agent samples the demo stack. Ansible reaches it through the
community.docker.docker connection, as it would reach any host. Nothing here fakes systemctl: the
unit is written, enabled, started, restarted by systemd after a crash, stopped and removed by the
real service manager.
"""
import json
import subprocess

import pytest

from helpers import ROOT, run_playbook, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

IMAGE = "phase0-fixture/debian-systemd:latest"
PLAYBOOK = ROOT + "/playbooks/monitoring.yml"
PROJECT_DIR = "/srv/stack"
INSTALL_DIR = PROJECT_DIR + "/.phase0/monitor"


def sh(container, *cmd, check=True):
    """Run a command inside the target container; returns the CompletedProcess."""
    proc = subprocess.run(["docker", "exec", container] + list(cmd), capture_output=True, text=True,
                          timeout=120, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (" ".join(cmd), proc.returncode, proc.stdout, proc.stderr))
    return proc


def unit_property(container, unit, prop):
    return sh(container, "systemctl", "show", "--value", "-p", prop, unit).stdout.strip()


@pytest.fixture
def systemd_host(prefix, tmp_path):
    """A running container with systemd as PID 1; yields (container name, inventory path)."""
    name = prefix + "-systemd"
    run = subprocess.run(
        # No network: the agent needs only the bind-mounted engine socket, and the default bridge
        # (docker0) may be gone on this engine after a test restarted dockerd.
        ["docker", "run", "-d", "--name", name, "--network", "none", "--stop-signal", "SIGRTMIN+3",
         "--tmpfs", "/run", "--tmpfs", "/run/lock",
         "-v", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
         "-v", "/var/run/docker.sock:/var/run/docker.sock", IMAGE],
        capture_output=True, text=True, timeout=120, check=False)
    try:
        # a failed start can still leave a created container behind: the finally removes it too
        assert run.returncode == 0, "could not start %s (`make images` built it?): %s" % (IMAGE, run.stderr)
        # 'running' or 'degraded' both mean the manager is up and takes jobs.
        assert wait_for(lambda: sh(name, "systemctl", "is-system-running", check=False).stdout.strip()
                        in ("running", "degraded"), 60, "systemd to finish booting in " + name)
        assert sh(name, "cat", "/proc/1/comm").stdout.strip() == "systemd"
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(json.dumps({"all": {"hosts": {"systemd_target": {
            "ansible_connection": "community.docker.docker", "ansible_host": name,
            "ansible_python_interpreter": "/usr/bin/python3"}}}}))
        yield name, str(inventory)
    finally:
        subprocess.run(["docker", "rm", "-f", "-v", name], capture_output=True, timeout=120, check=False)


def changed_count(proc):
    recap = [line for line in proc.stdout.splitlines() if line.startswith("systemd_target") and "changed=" in line]
    assert recap, proc.stdout[-3000:] + proc.stderr[-3000:]
    return int(recap[-1].split("changed=")[1].split()[0])


def test_systemd_mode_lifecycle(demo_stack, docker_client, systemd_host):
    container, inventory = systemd_host
    sh(container, "mkdir", "-p", PROJECT_DIR)
    extra = {"phase0_project_dir": PROJECT_DIR, "phase0_project_name": demo_stack.name,
             "monitoring_interval": 2}
    unit = "phase0-monitor-%s.service" % demo_stack.name
    unit_path = "/etc/systemd/system/" + unit

    def play(**overrides):
        return run_playbook(PLAYBOOK, dict(extra, **overrides), inventory=inventory)

    check = run_playbook(PLAYBOOK, dict(extra), inventory=inventory, check=True)
    assert check.returncode == 0, check.stdout[-4000:] + check.stderr[-2000:]
    assert changed_count(check) > 0
    assert sh(container, "test", "-e", unit_path, check=False).returncode != 0, "check mode wrote the unit"
    assert sh(container, "test", "-e", INSTALL_DIR, check=False).returncode != 0, "check mode installed the agent"

    first = play()
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-2000:]
    assert "mode systemd" in first.stdout
    unit_text = sh(container, "cat", unit_path).stdout
    assert "Restart=on-failure" in unit_text and INSTALL_DIR + "/config.json" in unit_text
    assert sh(container, "systemctl", "is-enabled", unit).stdout.strip() == "enabled"
    assert sh(container, "systemctl", "is-active", unit).stdout.strip() == "active"
    pid = int(unit_property(container, unit, "MainPID"))
    assert pid > 0 and "phase0_monitor.py" in sh(container, "cat", "/proc/%d/cmdline" % pid).stdout

    # What the run report reads: the agent verified, not trusted.
    evidence = sh(container, "sh", "-c", "cat %s/diagnostics/monitoring/*/monitor_status.json" % PROJECT_DIR).stdout
    status = json.loads(evidence)
    assert status["running"] and status["mode"] == "systemd" and status["samples"] > 0, status
    assert status["pid"] == pid, status
    # The agent samples the demo stack through the bind-mounted socket, one line per container.
    health = PROJECT_DIR + "/logs/current_rebuild/phase0/health/health.jsonl"
    wanted = {c.name for c in docker_client.containers.list(
        all=True, filters={"label": "com.docker.compose.project=%s" % demo_stack.name})}

    def sampled_containers():
        return {json.loads(line)["container"] for line in sh(container, "cat", health).stdout.splitlines() if line.strip()}

    assert wait_for(lambda: wanted <= sampled_containers(), 20, "a health line for every demo container")

    second = play()
    assert second.returncode == 0 and changed_count(second) == 0, second.stdout[-5000:]
    assert int(unit_property(container, unit, "MainPID")) == pid, "a second run restarted the agent"

    # Restart=on-failure for real: the agent dies by SIGKILL and systemd brings it back.
    sh(container, "kill", "-9", str(pid))

    def restarted_pid():
        main_pid = int(unit_property(container, unit, "MainPID"))
        return main_pid if main_pid not in (0, pid) else 0

    new_pid = wait_for(restarted_pid, 30, "systemd to restart the killed agent")
    assert sh(container, "systemctl", "is-active", unit).stdout.strip() == "active"
    assert int(unit_property(container, unit, "NRestarts")) >= 1
    assert "phase0_monitor.py" in sh(container, "cat", "/proc/%d/cmdline" % new_pid).stdout

    stopped = play(monitoring_state="stopped")
    assert stopped.returncode == 0 and changed_count(stopped) == 1, stopped.stdout[-5000:]
    assert sh(container, "systemctl", "is-active", unit, check=False).stdout.strip() == "inactive"
    assert sh(container, "systemctl", "is-enabled", unit, check=False).stdout.strip() == "disabled"
    assert sh(container, "test", "-e", "/proc/%d" % new_pid, check=False).returncode != 0
    again = play(monitoring_state="stopped")
    assert again.returncode == 0 and changed_count(again) == 0, again.stdout[-5000:]

    lines_before = sh(container, "wc", "-l", health).stdout.split()[0]
    absent = play(monitoring_state="absent")
    assert absent.returncode == 0, absent.stdout[-5000:]
    assert sh(container, "test", "-e", unit_path, check=False).returncode != 0
    assert sh(container, "test", "-e", INSTALL_DIR, check=False).returncode != 0
    # systemd was reloaded: it no longer knows the unit's file.
    assert unit_property(container, unit, "LoadState") == "not-found"
    assert sh(container, "wc", "-l", health).stdout.split()[0] == lines_before != "0", "the logs must stay"
