"""The monitoring role end to end on localhost: started twice (no change), stopped (exactly our
process, a decoy with the same name keeps running), absent (files go, logs stay); retention."""
import datetime
import os
import subprocess
import sys

import pytest

from helpers import ROOT, run_module, run_playbook
from monitor_helpers import read_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLAYBOOK = os.path.join(ROOT, "playbooks", "monitoring.yml")


def changed_count(proc):
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost") and "changed=" in line]
    assert recap, proc.stdout[-3000:] + proc.stderr[-3000:]
    return int(recap[-1].split("changed=")[1].split()[0])


def test_role_lifecycle(demo_stack, tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "compose.yml").write_text("services: {}\n")
    extra = {"phase0_project_dir": str(project), "phase0_project_name": demo_stack.name,
             "monitoring_interval": 2}
    install = project / ".phase0" / "monitor"
    status = {"install_dir": str(install)}

    check = run_playbook(PLAYBOOK, dict(extra), check=True)
    assert check.returncode == 0, check.stdout[-3000:]
    assert changed_count(check) > 0 and not install.exists(), "check mode must report changes and touch nothing"

    first = run_playbook(PLAYBOOK, dict(extra))
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert "mode process" in first.stdout
    env = (project / ".env.buildkit").read_text()
    for line in ("DOCKER_BUILDKIT=1", "BUILDKIT_PROGRESS=plain", "COMPOSE_DOCKER_CLI_BUILD=1"):
        assert line in env
    logs = project / "logs"
    today = "rebuild_" + datetime.date.today().strftime("%Y%m%d")
    assert os.readlink(str(logs / "current_rebuild")) == today
    for sub in ("phase0/health", "phase4/errors", "deployment/rollback", "deployment/build"):
        assert (logs / today / sub).is_dir()
    assert (logs / today / "README.md").is_file()
    result, dummy = run_module("homeiq.phase0.monitor_status", status)
    assert result["running"] and result["mode"] == "process" and result["samples"] > 0, result
    pid = result["pid"]
    # The agent's files are installed byte for byte (one file_set run), programs executable.
    for rel, source in (("phase0_monitor.py", "roles/monitoring/files/phase0_monitor.py"),
                        ("lib/monitor_sample.py", "plugins/module_utils/monitor_sample.py")):
        with open(os.path.join(ROOT, source), "rb") as want, open(str(install / rel), "rb") as got:
            assert got.read() == want.read(), rel
    assert os.stat(str(install / "phase0_monitor.py")).st_mode & 0o777 == 0o755
    assert os.stat(str(install / "phase0-dashboard")).st_mode & 0o777 == 0o755

    second = run_playbook(PLAYBOOK, dict(extra))
    assert second.returncode == 0 and changed_count(second) == 0, second.stdout[-4000:]
    assert run_module("homeiq.phase0.monitor_status", status)[0]["pid"] == pid

    # a decoy with our program's name and config in its command line
    decoy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)",
                              str(install / "phase0_monitor.py"), "--config", str(install / "config.json")])
    try:
        stopped = run_playbook(PLAYBOOK, dict(extra, monitoring_state="stopped"))
        assert stopped.returncode == 0 and changed_count(stopped) == 1, stopped.stdout[-4000:]
        assert decoy.poll() is None, "the decoy was killed"
        assert not os.path.exists("/proc/%d" % pid) or "phase0_monitor" not in open("/proc/%d/cmdline" % pid).read()
        after = run_module("homeiq.phase0.monitor_status", status)[0]
        assert not after["running"]
        again = run_playbook(PLAYBOOK, dict(extra, monitoring_state="stopped"))
        assert again.returncode == 0 and changed_count(again) == 0
        assert decoy.poll() is None
    finally:
        decoy.kill()
        decoy.wait()

    samples = read_jsonl(str(logs / "current_rebuild" / "phase0" / "health" / "health.jsonl"))
    absent = run_playbook(PLAYBOOK, dict(extra, monitoring_state="absent"))
    assert absent.returncode == 0, absent.stdout[-4000:]
    assert not install.exists() and not (project / ".env.buildkit").exists()
    assert len(read_jsonl(str(logs / "current_rebuild" / "phase0" / "health" / "health.jsonl"))) == len(samples) > 0


def test_retention_removes_old_tree_keeps_current(tmp_path):
    logs = tmp_path / "logs"
    old = logs / "rebuild_20000101" / "phase0" / "health"
    old.mkdir(parents=True)
    (old / "health.jsonl").write_text("{}\n")
    current = "rebuild_20000102"
    (logs / current).mkdir()
    os.symlink(current, str(logs / "current_rebuild"))
    recent = "rebuild_" + (datetime.date.today() - datetime.timedelta(days=3)).strftime("%Y%m%d")
    (logs / recent).mkdir()
    args = {"logs_dir": str(logs), "retention_days": 30}
    check, dummy = run_module("homeiq.phase0.monitor_logtree", args, check=True)
    assert check["changed"] and check["removed"] == [str(logs / "rebuild_20000101")]
    assert (logs / "rebuild_20000101").exists()
    result, dummy = run_module("homeiq.phase0.monitor_logtree", args)
    assert result["removed"] == [str(logs / "rebuild_20000101")], result
    assert not (logs / "rebuild_20000101").exists()
    assert (logs / current / "phase0" / "health").is_dir() and (logs / recent).is_dir()
    assert os.readlink(str(logs / "current_rebuild")) == current
    assert not run_module("homeiq.phase0.monitor_logtree", args)[0]["changed"]
