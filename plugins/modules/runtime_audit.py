#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: runtime_audit
short_description: Audit the Python and Node.js versions of every container of a compose project
version_added: 0.1.0
description:
  - Lists every container of the compose project by its C(com.docker.compose.project) label (no name lists),
    running or not, and finds the Python and Node.js version each one carries.
  - The version is read first from the image's env (E(PYTHON_VERSION), E(NODE_VERSION), as the official images set
    them), then, for runtimes the env does not name, by exec (C(python3 --version), C(python --version),
    C(node --version)) in running containers, concurrently with a bound and a hard per-exec deadline.
  - Each version is compared with a minimum per runtime and each service gets a priority from ordered name-pattern
    rules, giving a status V(OK), V(NEEDS_UPGRADE) or V(UNKNOWN) (probe failed). Containers without any runtime
    are V(NO_RUNTIME); stopped containers whose image env names no runtime are V(STOPPED). Neither is an error.
  - Read-only. The execs only run C(--version); the module never reports C(changed).
extends_documentation_fragment:
  - homeiq.phase0.docker
options:
  project_name:
    description:
      - Compose project name (the C(com.docker.compose.project) label).
      - When omitted, it is resolved from O(project_dir) the way Compose does.
    type: str
  project_dir:
    description:
      - Directory of the compose project; used to resolve the project name when O(project_name) is not set.
    type: path
  compose_files:
    description:
      - Compose files relative to O(project_dir); empty uses Compose's default discovery.
    type: list
    elements: str
    default: []
  runtimes:
    description:
      - The runtimes to look for.
    type: list
    elements: str
    choices: [python, node]
    default: [python, node]
  probe:
    description:
      - V(env_then_exec) trusts an image env that names a runtime (E(PYTHON_VERSION), E(NODE_VERSION)) and execs
        only into running containers whose image env names none.
      - V(exec) asks the binaries of every running container for every runtime (the env is used for stopped
        containers only).
      - V(env) never execs.
      - Stopped containers are never exec'd into; they are reported from their image env, or as V(STOPPED).
    type: str
    choices: [env_then_exec, exec, env]
    default: env_then_exec
  minimum_versions:
    description:
      - 'Minimum version per runtime, for example C({python: "3.12"}). Runtimes not named keep
        the defaults (Python 3.10, Node.js 18).'
    type: dict
    default: {python: "3.10", node: "18"}
  priority_rules:
    description:
      - Ordered rules C({pattern, priority}); the first whose shell-style glob matches the service name gives
        the priority (V(CRITICAL), V(HIGH), V(MEDIUM), V(LOW)).
      - When omitted, the first run's grouping is used - C(websocket-ingestion), C(data-api), C(admin-api) and
        C(data-retention) CRITICAL, C(ai-*) and C(ml-*) HIGH, others O(default_priority).
    type: list
    elements: dict
  default_priority:
    description:
      - Priority of services no rule matches.
    type: str
    choices: [CRITICAL, HIGH, MEDIUM, LOW]
    default: MEDIUM
  probe_scope:
    description:
      - V(image) execs into one running container per image and uses its answer for every container of that image
        (the binaries live in the image); when that probe fails, the other containers of the image are probed one
        by one. Rows answered this way say C(read in <container> (same image)) in their note.
      - V(container) execs into every running container that needs it.
    type: str
    choices: [image, container]
    default: image
  exec_timeout:
    description:
      - Seconds each exec may take before it is abandoned and the row becomes V(UNKNOWN).
    type: float
    default: 10
  workers:
    description:
      - How many containers are probed at the same time.
    type: int
    default: 8
  include_oneoff:
    description:
      - Also audit one-off containers (C(docker compose run)).
    type: bool
    default: false
attributes:
  check_mode:
    description: Read-only; check mode runs the same probes (the execs only run C(--version)) and returns the same result.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
author:
  - homeiq.phase0 contributors (@homeiq)
"""

EXAMPLES = r"""
- name: Audit the runtimes of the stack
  homeiq.phase0.runtime_audit:
    project_dir: /srv/homeiq
  register: audit

- name: Stricter policy, own priorities, no exec
  homeiq.phase0.runtime_audit:
    project_name: homeiq
    probe: env
    minimum_versions:
      python: "3.12"
    priority_rules:
      - pattern: "core-*"
        priority: CRITICAL
      - pattern: "legacy-*"
        priority: HIGH
"""

RETURN = r"""
project:
  description: The compose project name audited.
  returned: success
  type: str
  sample: homeiq
rows:
  description:
    - One row per container and runtime found; a container with no runtime gets one row with runtime V(none)
      (V(unknown) when stopped or when the probe failed).
  returned: success
  type: list
  elements: dict
  contains:
    service:
      description: Compose service name.
      type: str
    container:
      description: Container name.
      type: str
    container_id:
      description: Short container id.
      type: str
    image:
      description: Image the container was created from.
      type: str
    image_id:
      description: Image id.
      type: str
    state:
      description: 'Container state (running, exited, ...).'
      type: str
    runtime:
      description: 'python, node, none or unknown.'
      type: str
    version:
      description: Full version found.
      type: str
    major_minor:
      description: Major.minor of the version.
      type: str
    source:
      description: 'Where the version came from - env, exec or none.'
      type: str
    command:
      description: The env key or the command that gave the version.
      type: str
    minimum:
      description: The policy minimum for the runtime.
      type: str
    status:
      description: 'OK, NEEDS_UPGRADE, UNKNOWN, NO_RUNTIME or STOPPED.'
      type: str
    priority:
      description: 'CRITICAL, HIGH, MEDIUM or LOW.'
      type: str
    note:
      description: Why a value is missing or how it was read.
      type: str
  sample:
    - service: legacy-worker
      container: demo-legacy-worker-1
      runtime: python
      version: 3.9.2
      source: exec
      command: python3
      minimum: "3.10"
      status: NEEDS_UPGRADE
      priority: MEDIUM
summary:
  description: Counts of containers, states, statuses and versions per runtime.
  returned: success
  type: dict
  sample: {containers: 5, running: 4, not_running: 1, needs_upgrade: 1, unknown: 0,
           versions: {python: {"3.11.2": 3, "3.9.2": 1}, node: {"18.19.0": 1}}}
upgrade_plan:
  description: Rows needing action grouped by priority (CRITICAL first), each group with its counts.
  returned: success
  type: list
  elements: dict
csv:
  description: The rows as CSV text (the columns of C(runtime_versions.csv)).
  returned: success
  type: str
policy:
  description: The effective policy - minimum versions, priority rules and default priority.
  returned: success
  type: dict
elapsed:
  description: Seconds the audit took.
  returned: success
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import (
    Phase0DockerClient, docker_argument_spec)
from ansible_collections.homeiq.phase0.plugins.module_utils.runtime_probe import (
    PROBE_MODES, apply_policy, audit_rows)
from ansible_collections.homeiq.phase0.plugins.module_utils.runtime_report import (
    render_csv, summarize_rows, upgrade_plan)
from ansible_collections.homeiq.phase0.plugins.module_utils.version_policy import (
    DEFAULT_PRIORITY_RULES, PRIORITIES, normalize_minimums, normalize_rules)


def resolve_project_name(module):
    """The project name given, else the one Compose would use for project_dir."""
    if module.params["project_name"]:
        return module.params["project_name"]
    from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import (
        ComposeProjectError, resolve_project)
    try:
        return resolve_project(module.params["project_dir"], compose_files=module.params["compose_files"] or None).name
    except ComposeProjectError as exc:
        module.fail_json(msg=str(exc))


def policy_from_params(module):
    try:
        minimums = normalize_minimums(module.params["minimum_versions"])
        rules = normalize_rules(DEFAULT_PRIORITY_RULES if module.params["priority_rules"] is None
                                else module.params["priority_rules"])
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    return {"minimum_versions": minimums, "priority_rules": rules,
            "default_priority": module.params["default_priority"]}


def main():
    module = AnsibleModule(
        argument_spec=docker_argument_spec(
            project_name=dict(type="str"),
            project_dir=dict(type="path"),
            compose_files=dict(type="list", elements="str", default=[]),
            runtimes=dict(type="list", elements="str", choices=["python", "node"], default=["python", "node"]),
            probe=dict(type="str", choices=list(PROBE_MODES), default="env_then_exec"),
            minimum_versions=dict(type="dict", default={"python": "3.10", "node": "18"}),
            priority_rules=dict(type="list", elements="dict"),
            default_priority=dict(type="str", choices=list(PRIORITIES), default="MEDIUM"),
            probe_scope=dict(type="str", choices=["image", "container"], default="image"),
            exec_timeout=dict(type="float", default=10),
            workers=dict(type="int", default=8),
            include_oneoff=dict(type="bool", default=False),
        ),
        required_one_of=[("project_name", "project_dir")],
        supports_check_mode=True,
    )
    policy = policy_from_params(module)
    project = resolve_project_name(module)
    client = Phase0DockerClient(module)
    started = time.monotonic()
    try:
        raw = audit_rows(client.api, project, runtimes=module.params["runtimes"], mode=module.params["probe"],
                         timeout=module.params["exec_timeout"], workers=module.params["workers"],
                         include_oneoff=module.params["include_oneoff"], scope=module.params["probe_scope"])
    except Exception as exc:  # an engine error mid-audit is reported, not a traceback; pylint: disable=broad-except
        client.fail("runtime audit of project %s failed: %s" % (project, exc))
    finally:
        client.close()
    rows = apply_policy(raw, policy["minimum_versions"], policy["priority_rules"], policy["default_priority"])
    module.exit_json(changed=False, project=project, rows=rows, summary=summarize_rows(rows),
                     upgrade_plan=upgrade_plan(rows), csv=render_csv(rows), policy=policy,
                     elapsed=round(time.monotonic() - started, 3))


if __name__ == "__main__":
    main()
