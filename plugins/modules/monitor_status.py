#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: monitor_status
short_description: Tell whether the phase 0 build monitor agent is really running and sampling
version_added: "0.1.0"
description:
  - Reads the agent installed by the M(homeiq.phase0.monitor_agent) module or the C(homeiq.phase0.monitoring) role
    (its C(config.json), pid file and C(status.json)) and checks C(/proc) that the process is our agent.
  - Reports whether it runs, since when, the last sample time, the samples and error lines counted, and
    whether the samples are stale, so a playbook or AWX can verify the monitor instead of trusting it.
  - Read-only; never changes anything.
author:
  - homeiq.phase0 contributors (@homeiq)
options:
  install_dir:
    description:
      - Directory the agent is installed in (it holds C(config.json) and C(run/)).
    type: path
    required: true
  stale_after:
    description:
      - A running agent whose last sample is older than this many intervals is reported as stale.
    type: int
    default: 3
  wait_for_sample:
    description:
      - Seconds to wait, inside this one module run, until the agent runs and has taken at least one sample
        (for example right after starting it). V(0) reads the state once.
      - Waiting here instead of in an C(until) loop costs one module run instead of one per retry.
    type: int
    default: 0
attributes:
  check_mode:
    support: full
    description: Read-only; check mode behaves like a normal run.
  diff_mode:
    support: none
    description: Nothing is changed, so there is no diff.
notes:
  - Linux only (uses C(/proc)).
"""

EXAMPLES = r"""
- name: Verify that the build monitor is sampling
  homeiq.phase0.monitor_status:
    install_dir: /srv/homeiq/.phase0/monitor
  register: monitor
  failed_when: not monitor.running or monitor.stale
"""

RETURN = r"""
installed:
  description: Whether the agent's config file exists in O(install_dir).
  returned: always
  type: bool
running:
  description: Whether a process that is provably our agent (pid, start time and config checked) runs.
  returned: always
  type: bool
mode:
  description: How the running agent is supervised, C(process) (pid file) or C(systemd); C(null) when not running.
  returned: always
  type: str
pid:
  description: Pid of the supervisor (process mode) or of the agent (systemd mode).
  returned: always
  type: int
agent_pid:
  description: Pid of the sampling agent process, from its status file.
  returned: always
  type: int
since:
  description: When the agent process started (ISO 8601 UTC).
  returned: always
  type: str
last_sample:
  description: Time of the last completed sample.
  returned: always
  type: str
samples:
  description: Samples taken by the current agent process.
  returned: always
  type: int
errors:
  description: Error lines found by the current agent process.
  returned: always
  type: int
engine_connected:
  description: Whether the agent could reach the Docker engine at its last attempt.
  returned: always
  type: bool
stale:
  description: Running, but no sample within O(stale_after) intervals.
  returned: always
  type: bool
problem:
  description: Why the agent is not considered running (no pid file, pid reused, not our program...).
  returned: always
  type: str
log_dir:
  description: Where the agent writes health, resources and errors.
  returned: always
  type: str
python:
  description: The Python interpreter running this module (the default interpreter for the agent).
  returned: always
  type: str
waited_s:
  description: Seconds spent waiting for the first sample (O(wait_for_sample)); 0 when the first reading had one.
  returned: always
  type: float
docker_sdk:
  description: Whether that interpreter can import the C(docker) SDK the agent needs.
  returned: always
  type: bool
systemd:
  description: Whether systemd is PID 1 on the target.
  returned: always
  type: bool
"""

import sys
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils.monitor_status import agent_status


def main():
    module = AnsibleModule(
        argument_spec=dict(install_dir=dict(type="path", required=True),
                           stale_after=dict(type="int", default=3),
                           wait_for_sample=dict(type="int", default=0)),
        supports_check_mode=True,
    )
    params = module.params
    started = time.monotonic()
    deadline = started + max(0, params["wait_for_sample"])
    while True:
        result = agent_status(params["install_dir"], stale_after=params["stale_after"])
        if (result.get("running") and (result.get("samples") or 0) > 0) or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    result["waited_s"] = round(time.monotonic() - started, 2)
    result["python"] = sys.executable
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
