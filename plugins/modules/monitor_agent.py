#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: monitor_agent
short_description: Start or stop the phase 0 monitor agent as a supervised background process
version_added: "0.1.0"
description:
  - Runs the agent installed in O(install_dir) (C(phase0_monitor.py --config config.json --supervise --detach LOG))
    detached from the Ansible connection (it double-forks into its own session), with its pid file in C(run/agent.pid). The supervisor restarts the agent
    when it fails.
  - Stops it by the pid in that file only after checking in C(/proc) that the pid is really our agent (same start time,
    same program, same config). Processes are never matched by name.
  - Used by the C(homeiq.phase0.monitoring) role when systemd is not PID 1 on the target.
author:
  - homeiq.phase0 contributors (@homeiq)
options:
  install_dir:
    description: Directory the agent is installed in (holds C(phase0_monitor.py) and C(config.json)).
    type: path
    required: true
  state:
    description:
      - V(started) starts the agent unless it already runs; V(stopped) stops it if it runs.
    type: str
    choices: [started, stopped]
    default: started
  restart:
    description: With O(state=started), restart a running agent (for example after its config changed).
    type: bool
    default: false
  python:
    description: Interpreter for the agent; it needs the C(docker) SDK. Default is the interpreter running this module.
    type: path
  timeout:
    description: Seconds to wait for the agent to start or stop before failing (stop escalates to SIGKILL first).
    type: int
    default: 15
attributes:
  check_mode:
    support: full
    description: Reports what would change, without starting or stopping anything.
  diff_mode:
    support: none
    description: No diff.
notes:
  - Linux only (uses C(/proc)).
"""

EXAMPLES = r"""
- name: Run the build monitor in the background
  homeiq.phase0.monitor_agent:
    install_dir: /srv/homeiq/.phase0/monitor
    state: started
"""

RETURN = r"""
pid:
  description: Pid of the supervisor after the task (null when stopped).
  returned: always
  type: int
mode:
  description: Always C(process).
  returned: always
  type: str
action:
  description: What was (or in check mode would be) done, C(none), C(started), C(restarted), C(stopped) or C(cleaned)
    (a stale pid file of a dead or foreign process was removed; that process was not touched).
  returned: always
  type: str
problem:
  description: Why a pid file was not trusted, when it was not.
  returned: always
  type: str
"""

import os
import signal
import sys
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_process as mproc
from ansible_collections.homeiq.phase0.plugins.module_utils.monitor_status import install_paths, read_json


def decide(state, restart, running, pid_file_exists):
    """The action for a wanted state and what runs now (pure)."""
    if state == "started":
        if running:
            return "restarted" if restart else "none"
        return "started"
    if running:
        return "stopped"
    return "cleaned" if pid_file_exists else "none"


def start(module, paths, python, timeout):
    os.makedirs(paths["run_dir"], exist_ok=True)
    # The agent detaches itself (double fork, own session, output to the agent log), so run_command returns
    # as soon as the supervisor is on its own and the supervisor outlives this module.
    rc, out, err = module.run_command([python, paths["agent"], "--config", paths["config"], "--supervise",
                                       "--detach", paths["agent_log"]], cwd=paths["run_dir"])
    if rc != 0:
        return None, "the agent did not start (rc %s): %s" % (rc, (err or out).strip()[-2000:])
    deadline = time.time() + timeout
    while time.time() < deadline:
        record, problem = mproc.verify_agent(paths["pid_file"], paths["config"])
        if problem is None:
            return record["pid"], None
        time.sleep(0.2)
    return None, "agent did not write a valid pid file within %s s; see %s" % (timeout, paths["agent_log"])


def _wait_gone(pid, ticks, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if mproc.proc_start_ticks(pid) != ticks:
            return True
        time.sleep(0.1)
    return mproc.proc_start_ticks(pid) != ticks


def stop(paths, record, timeout):
    """SIGTERM our verified supervisor, SIGKILL after timeout; then any orphaned agent child of ours."""
    pid, ticks = record["pid"], record["start_ticks"]
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, ticks, timeout):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, ticks, 5)
    status = read_json(os.path.join((read_json(paths["config"]) or {}).get("log_dir") or "", "health",
                                    "status.json")) or {}
    child = status.get("pid")
    if child and child != pid:
        cmdline = mproc.proc_cmdline(child) or []
        if paths["config"] in cmdline and any(a.endswith("phase0_monitor.py") for a in cmdline):
            child_ticks = mproc.proc_start_ticks(child)
            os.kill(child, signal.SIGTERM)
            if not _wait_gone(child, child_ticks, timeout):
                os.kill(child, signal.SIGKILL)
    if os.path.exists(paths["pid_file"]):
        os.unlink(paths["pid_file"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            install_dir=dict(type="path", required=True),
            state=dict(type="str", choices=["started", "stopped"], default="started"),
            restart=dict(type="bool", default=False),
            python=dict(type="path"),
            timeout=dict(type="int", default=15),
        ),
        supports_check_mode=True,
    )
    params = module.params
    paths = install_paths(params["install_dir"])
    if params["state"] == "started" and not os.path.exists(paths["config"]) and not module.check_mode:
        module.fail_json(msg="the agent is not installed in %s (no config.json); install it with the "
                             "homeiq.phase0.monitoring role" % params["install_dir"])
    record, problem = mproc.verify_agent(paths["pid_file"], paths["config"])
    running = problem is None
    action = decide(params["state"], params["restart"], running, os.path.exists(paths["pid_file"]))
    result = dict(changed=action != "none", action=action, mode="process", problem=problem,
                  pid=record["pid"] if running else None)
    if module.check_mode or action == "none":
        module.exit_json(**result)
    if action in ("stopped", "restarted"):
        stop(paths, record, params["timeout"])
        result["pid"] = None
    if action == "cleaned":
        os.unlink(paths["pid_file"])  # a dead or foreign pid: the file goes, the process is left alone
    if action in ("started", "restarted"):
        if os.path.exists(paths["pid_file"]):
            os.unlink(paths["pid_file"])
        pid, failure = start(module, paths, params["python"] or sys.executable, params["timeout"])
        if failure:
            module.fail_json(msg=failure, **result)
        result["pid"] = pid
    module.exit_json(**result)


if __name__ == "__main__":
    main()
