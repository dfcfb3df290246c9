#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: health_diagnose
short_description: Diagnose unhealthy containers of a Compose project from measured evidence
version_added: 0.1.0
description:
  - For every target container it reads the healthcheck and the health log, runs the probe by hand inside
    the container with its own timer and timeout, checks which probe tools exist (C(curl), C(wget),
    C(python3), C(python), C(nc)), times the resolution of every host name the probe uses, fetches the
    endpoint by C(127.0.0.1) and by name with another tool, reads the listening ports, the container state,
    the last log lines and a stats sample.
  - It then classifies the cause from those facts - C(probe_timeout_slow_dns), C(probe_timeout),
    C(probe_tool_missing), C(probe_command_error), C(service_unhealthy), C(start_period_too_short),
    C(wrong_port_or_path), C(no_healthcheck) or C(unknown) - and names the evidence that decided it.
  - For the C(probe_*) classes it recommends a probe that uses a tool the image has, addresses the
    endpoint so the slow or broken part is avoided, and carries its own timeout below the healthcheck
    timeout; the recommended probe is run once in the container to show it passes. It never
    recommends a probe change for C(service_unhealthy).
  - Where the image has Python, one exec per container does all of it. The measuring helper prints
    its facts, the module decides the recommendation from them, and the helper, still running, gets
    that probe over its stdin and runs it. Images without Python take several smaller execs.
  - Containers are measured concurrently (O(workers) at a time), one module call for the whole stack.
  - Evidence goes to O(output_dir)/<service>/ as files with mode 0600 in directories with mode 0700. Every
    environment value and every value of the project's C(.env) is redacted in the files and in the result
    (names are kept, values replaced).
  - With O(mode=watch) it samples the health of the given containers instead, to confirm a fix and count flaps.
author:
  - homeiq.phase0 contributors (@homeiq)
extends_documentation_fragment:
  - homeiq.phase0.docker
attributes:
  check_mode:
    description: Read only; the diagnosis runs the same in check mode and is returned, but no evidence file is
      written (check mode touches nothing, O(output_dir) is not created).
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
options:
  project_name:
    description:
      - The compose project whose containers are diagnosed (the C(com.docker.compose.project) label).
      - Default from O(project_dir), resolved the way Compose does.
    type: str
  project_dir:
    description:
      - Directory of the compose project. Its C(.env) values are learned for redaction, and the project name
        is resolved from it when O(project_name) is not given.
    type: path
  compose_files:
    description:
      - Compose files of the project, used only to resolve the project name and C(.env) from O(project_dir).
    type: list
    elements: path
  containers:
    description:
      - Diagnose exactly these containers (names or ids) instead of selecting by health.
    type: list
    elements: str
  services:
    description:
      - Only consider containers of these compose services.
    type: list
    elements: str
  include_healthy:
    description:
      - Also diagnose healthy (and still starting) containers of the selected O(services), or of the whole project.
    type: bool
    default: false
  env_files:
    description:
      - Files in C(.env) format whose values are redacted wherever they appear. Default - the project's C(.env)
        when O(project_dir) is given.
    type: list
    elements: path
  output_dir:
    description:
      - Directory for the evidence, one subdirectory per service. Nothing is written when omitted.
      - The role passes C(<phase0_output_dir>/diagnostics/healthcheck/<timestamp>).
    type: path
  log_lines:
    description:
      - How many of the last log lines of each container to keep as evidence.
    type: int
    default: 500
  probe_timeout:
    description:
      - Our limit, in seconds, for the probe run by hand. Longer than the healthcheck timeout on purpose, to
        measure how long a slow probe really takes.
    type: float
    default: 30
  dns_timeout:
    description:
      - Our limit, in seconds, for resolving one host name inside the container.
    type: float
    default: 15
  fetch_timeout:
    description:
      - Our limit, in seconds, for fetching the endpoint by address and by name.
    type: float
    default: 10
  stats:
    description:
      - Take a one-shot stats sample of each container.
    type: bool
    default: true
  verify_recommendation:
    description:
      - Run each recommended probe once inside the container and report whether it passes.
    type: bool
    default: true
  workers:
    description:
      - How many containers to measure at the same time.
      - Most of a measurement is waiting (a probe that times out, a slow name lookup), so this is
        more than the core count; each one in flight is one exec in the engine.
    type: int
    default: 16
  mode:
    description:
      - V(diagnose) measures and classifies; V(watch) samples the health of O(containers) or O(services).
    type: str
    choices: [diagnose, watch]
    default: diagnose
  watch_seconds:
    description:
      - With O(mode=watch), how long to sample; V(0) takes one sample.
    type: float
    default: 0
  watch_interval:
    description:
      - With O(mode=watch), seconds between samples.
    type: float
    default: 2
notes:
  - Measurements inside a container use one exec of a small Python program when the image has C(python3) or
    C(python); otherwise several execs of C(sh), C(getent), C(curl)/C(wget) and C(cat), timed around each exec.
  - Docker keeps only the last 5 probe results and cuts each output at 4096 bytes; the classification does not
    depend on more.
seealso:
  - module: homeiq.phase0.compose_healthcheck
"""

EXAMPLES = r"""
- name: Diagnose every unhealthy container of the homeiq project
  homeiq.phase0.health_diagnose:
    project_dir: /srv/homeiq
    output_dir: /srv/homeiq/diagnostics/healthcheck/20260204_112453
  register: health

- name: Show the causes
  ansible.builtin.debug:
    msg: "{{ item.service }}: {{ item.classification }} - {{ item.reason }}"
  loop: "{{ health.diagnoses }}"
  loop_control:
    label: "{{ item.service }}"

- name: Watch websocket-ingestion for 60 s after a fix
  homeiq.phase0.health_diagnose:
    project_name: homeiq
    services: [websocket-ingestion]
    mode: watch
    watch_seconds: 60
"""

RETURN = r"""
project:
  description: The compose project name the containers were selected from (null for O(containers) alone).
  returned: mode is diagnose
  type: str
  sample: homeiq
targets:
  description: How many containers were diagnosed.
  returned: mode is diagnose
  type: int
  sample: 3
diagnoses:
  description: One entry per diagnosed container, sorted by container name. Redacted.
  returned: mode is diagnose
  type: list
  elements: dict
  contains:
    container:
      description: Container name.
      type: str
      sample: homeiq-websocket-ingestion-1
    service:
      description: Compose service.
      type: str
      sample: websocket-ingestion
    selected_because:
      description: Why it was diagnosed (unhealthy, starting past its start period, requested).
      type: str
    classification:
      description: The cause.
      type: str
      sample: probe_timeout_slow_dns
    reason:
      description: One sentence built from the deciding facts.
      type: str
    evidence:
      description: The facts that decided the classification, one per line.
      type: list
      elements: str
    details:
      description: Numbers behind some classes (for example C(measured_start_s)).
      type: dict
    recommendation:
      description: >-
        C(healthcheck) (the keys to set, or null), C(reason), and when a probe was recommended and run,
        C(verified) (exit_code, seconds, timed_out, output) and C(passes).
      type: dict
    fixable:
      description: True for a C(probe_*) class with a recommended probe that passed in the container.
      type: bool
    healthcheck:
      description: The container's healthcheck (test, interval_s, timeout_s, retries, start_period_s).
      type: dict
    healthcheck_test:
      description: The current test in Docker's list form.
      type: list
      elements: str
    state:
      description: Container state, restarts, OOM flag, exit code, start time, health status and failing streak.
      type: dict
    timeline:
      description: Real timestamps - container_started, earliest_recorded_failing_probe, diagnosed.
      type: dict
    measured:
      description: The measurements (manual_probe, dns, fetches, tools, probe_binary, listening_ports, health_log).
      type: dict
    evidence_dir:
      description: Directory with the evidence files, null without O(output_dir).
      type: str
    evidence_files:
      description: Names of the evidence files written.
      type: list
      elements: str
errors:
  description: Containers that could not be diagnosed, with the error.
  returned: mode is diagnose
  type: list
  elements: dict
summary:
  description: Number of containers per classification.
  returned: mode is diagnose
  type: dict
  sample: {probe_timeout_slow_dns: 1, service_unhealthy: 1}
evidence_root:
  description: O(output_dir), absolute, or null.
  returned: mode is diagnose
  type: str
elapsed_s:
  description: Wall time of the diagnosis in seconds.
  returned: mode is diagnose
  type: float
watched:
  description: >-
    With O(mode=watch), per container - container, service, started_at, status (last sample), first_healthy_at
    (end of the first passing probe since start), samples (at, status, failing_streak), flaps (times health left
    healthy), health_log (without outputs).
  returned: mode is watch
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import (
    Phase0DockerClient, docker_argument_spec)
from ansible_collections.homeiq.phase0.plugins.module_utils.health_diagnosis import diagnose, select_targets
from ansible_collections.homeiq.phase0.plugins.module_utils.health_watch import watch


def argument_spec():
    return docker_argument_spec(
        project_name=dict(type="str"),
        project_dir=dict(type="path"),
        compose_files=dict(type="list", elements="path"),
        containers=dict(type="list", elements="str"),
        services=dict(type="list", elements="str"),
        include_healthy=dict(type="bool", default=False),
        env_files=dict(type="list", elements="path"),
        output_dir=dict(type="path"),
        log_lines=dict(type="int", default=500),
        probe_timeout=dict(type="float", default=30),
        dns_timeout=dict(type="float", default=15),
        fetch_timeout=dict(type="float", default=10),
        stats=dict(type="bool", default=True),
        verify_recommendation=dict(type="bool", default=True),
        workers=dict(type="int", default=16),
        mode=dict(type="str", default="diagnose", choices=["diagnose", "watch"]),
        watch_seconds=dict(type="float", default=0),
        watch_interval=dict(type="float", default=2),
    )


def resolve_names(module, params):
    """(project_name, env_files) from the options, resolving the project like Compose when needed."""
    name, env_files = params["project_name"], params["env_files"]
    if params["project_dir"] and (not name or env_files is None):
        from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import (
            ComposeProjectError, resolve_project)
        try:
            project = resolve_project(params["project_dir"], project_name=name, compose_files=params["compose_files"])
        except ComposeProjectError as exc:
            module.fail_json(msg=str(exc))
        name = name or project.name
        if env_files is None:
            env_files = [project.dotenv_file] if project.dotenv_file else []
    return name, env_files or []


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[("project_name", "project_dir", "containers")])
    params = module.params
    name, env_files = resolve_names(module, params)
    client = Phase0DockerClient(module)
    if params["mode"] == "watch":
        if not (params["containers"] or params["services"]):
            module.fail_json(msg="mode=watch needs containers or services to watch")
        targets = params["containers"]
        if not targets:
            selected, dummy = select_targets(client.api, name, None, params["services"], include_healthy=True,
                                             workers=params["workers"])
            targets = [t["id"] for t in selected]
        watched = watch(client.api, targets, params["watch_seconds"], params["watch_interval"], params["workers"])
        client.close()
        module.exit_json(changed=False, watched=watched)
    limits = {"probe_s": params["probe_timeout"], "dns_s": params["dns_timeout"], "fetch_s": params["fetch_timeout"],
              "log_lines": params["log_lines"], "stats": params["stats"]}
    try:
        result = diagnose(client.api, project_name=name, containers=params["containers"], services=params["services"],
                          include_healthy=params["include_healthy"],
                          output_dir=None if module.check_mode else params["output_dir"],
                          env_files=env_files, limits=limits, workers=params["workers"],
                          verify=params["verify_recommendation"])
    # engine errors end as a clear failure naming the endpoint
    except Exception as exc:  # pylint: disable=broad-except
        client.fail("diagnosing the containers of %s on %s failed: %s" % (name, client.endpoint, exc))
    client.close()
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
