"""Unit tests for monitor_process: a pid is our agent only when pid, start time and config match."""
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_process as mp

CFG = "/srv/p/.phase0/monitor/config.json"
OURS = ["/usr/bin/python3", "/srv/p/.phase0/monitor/phase0_monitor.py", "--config", CFG, "--supervise"]
RECORD = {"pid": 42, "start_ticks": 1000, "config": CFG}


@pytest.mark.parametrize("record, cmdline, ticks, problem", [
    (RECORD, OURS, 1000, None),
    (None, OURS, 1000, "no pid file"),
    (RECORD, None, None, "not running"),
    (RECORD, OURS, 2000, "reused"),
    (dict(RECORD, config="/other.json"), OURS, 1000, "another agent config"),
    # same name in the command line, but not our program with our config: a decoy
    (RECORD, ["sleep", "600", "phase0_monitor.py"], 1000, "is not running phase0_monitor.py"),
    (RECORD, ["python3", "-c", "x", CFG], 1000, "is not running phase0_monitor.py"),
])
def test_identity_problem(record, cmdline, ticks, problem):
    result = mp.identity_problem(record, CFG, cmdline, ticks)
    if problem is None:
        assert result is None
    else:
        assert problem in result


def test_proc_start_ticks_and_cmdline_of_a_real_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "phase0 (x) y"])
    try:
        import time
        deadline = time.time() + 10
        while (mp.proc_cmdline(proc.pid) or [""])[-1] != "phase0 (x) y" and time.time() < deadline:
            time.sleep(0.05)  # Popen returns before the child has exec'd
        ticks = mp.proc_start_ticks(proc.pid)
        assert isinstance(ticks, int) and ticks > 0
        assert mp.proc_cmdline(proc.pid)[-1] == "phase0 (x) y"
        assert mp.start_epoch(ticks) is not None
    finally:
        proc.kill()
        proc.wait()
    assert mp.proc_start_ticks(proc.pid) is None and mp.proc_cmdline(proc.pid) is None


def test_verify_agent_with_pid_file(tmp_path):
    pid_file = tmp_path / "agent.pid"
    assert mp.verify_agent(str(pid_file), CFG) == (None, "no pid file")
    pid_file.write_text(json.dumps(mp.pid_record(os.getpid(), CFG, "supervisor")))
    record, problem = mp.verify_agent(str(pid_file), CFG)
    assert record["pid"] == os.getpid() and "is not running phase0_monitor.py" in problem
    pid_file.write_text("garbage")
    assert mp.read_pid_file(str(pid_file)) is None
