#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: dockerfile_audit
short_description: Report the base images and runtimes of the Dockerfiles a compose project builds from
version_added: 0.1.0
description:
  - Finds the Dockerfiles the project builds from - each service's C(build.context) and C(build.dockerfile)
    (or C(dockerfile_inline)) in the compose files, C(include:) followed - plus optional globs.
  - Parses every C(FROM) of multi-stage builds the way the builder does - global C(ARG) defaults and the service's
    C(build.args) substituted (C(FROM python:${PY}-slim), C(${PY:-3.12})), C(--platform), digests, comments,
    line continuations, and stage aliases (a C(FROM) naming an earlier stage is not a base image).
  - Reports per stage and for the final stage (or C(build.target)) the base image, the runtime it carries and
    its version, and the drift between what the Dockerfile says and what the running container reports
    (a stale image).
  - Read-only. Build-arg values are used for substitution only and never returned.
extends_documentation_fragment:
  - homeiq.phase0.docker
options:
  project_dir:
    description:
      - Directory of the compose project.
    type: path
    required: true
  project_name:
    description:
      - Compose project name; when omitted it is resolved the way Compose does.
    type: str
  compose_files:
    description:
      - Compose files relative to O(project_dir); empty uses Compose's default discovery.
    type: list
    elements: str
    default: []
  globs:
    description:
      - Extra Dockerfiles to parse, as globs relative to O(project_dir) (C(**) recurses), for example
        C(services/*/Dockerfile*). Files a service already builds from are listed once.
    type: list
    elements: str
    default: []
  runtime_images:
    description:
      - Image repository names (last path component) that carry a runtime, with the version in the tag.
    type: dict
    default: {python: [python], node: [node]}
  compare_running:
    description:
      - Compare the final stage with the running containers. Without O(runtime_rows) the module asks the engine
        itself, with the same code as M(homeiq.phase0.runtime_audit).
    type: bool
    default: true
  runtime_rows:
    description:
      - The RV(homeiq.phase0.runtime_audit#module:rows) of an earlier audit, to compare without probing again.
    type: list
    elements: dict
  exec_timeout:
    description:
      - Seconds each exec may take when the module probes the containers itself.
    type: float
    default: 10
  workers:
    description:
      - How many containers are probed at the same time when the module probes itself.
    type: int
    default: 8
attributes:
  check_mode:
    description: Read-only; check mode parses and probes the same way and returns the same result.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
author:
  - homeiq.phase0 contributors (@homeiq)
"""

EXAMPLES = r"""
- name: Dockerfiles of the stack and drift from the running containers
  homeiq.phase0.dockerfile_audit:
    project_dir: /srv/homeiq
    globs:
      - "services/*/Dockerfile*"
  register: dockerfiles

- name: Reuse an earlier runtime audit instead of probing again
  homeiq.phase0.dockerfile_audit:
    project_dir: /srv/homeiq
    runtime_rows: "{{ audit.rows }}"
"""

RETURN = r"""
project:
  description: The compose project name.
  returned: success
  type: str
dockerfiles:
  description: One entry per distinct Dockerfile (and target and build args) with its stages.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path (null for C(dockerfile_inline)).
      type: str
    relpath:
      description: Path relative to the project directory.
      type: str
    services:
      description: Services building from it.
      type: list
    target:
      description: 'The build target, if any.'
      type: str
    build_arg_names:
      description: Names of the build args passed by compose (values are never returned).
      type: list
    stages:
      description: index, lineno, name, platform, from (as written), image (substituted), from_stage, base_image,
        digest, runtime, version, unresolved_args.
      type: list
    final:
      description: base_image, runtime, version, stage_name, stage_index of the final stage (or target), and build_runtimes
        (runtimes of every stage).
      type: dict
    errors:
      description: 'Parse problems (unknown target, FROM without image, unreadable file).'
      type: list
base_images:
  description: Number of stages built on each base image (stage aliases excluded).
  returned: success
  type: dict
  sample: {"python:3.12-alpine": 54, "python:3.12-slim": 37}
drift:
  description: Per service and container, the final stage's runtime against the running container's.
  returned: when compare_running
  type: list
  elements: dict
  contains:
    status:
      description: 'match, drift (stale image), unknown, not_running or no_runtime.'
      type: str
    message:
      description: One line saying what was compared.
      type: str
  sample:
    - service: api
      container: demo-api-1
      dockerfile: api/Dockerfile
      runtime: python
      dockerfile_version: "3.12"
      running_version: 3.11.2
      status: drift
drift_summary:
  description: Number of drift records per status.
  returned: when compare_running
  type: dict
warnings_text:
  description: Compose resolution warnings (unset variables, conflicts).
  returned: success
  type: list
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import (
    ComposeProjectError, resolve_project)
from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import (
    Phase0DockerClient, docker_argument_spec)
from ansible_collections.homeiq.phase0.plugins.module_utils.dockerfile_sources import (
    audit_dockerfiles, base_image_counts, build_specs, drift, glob_specs, summarize_drift)
from ansible_collections.homeiq.phase0.plugins.module_utils.runtime_probe import audit_rows


def running_rows(module, project_name):
    client = Phase0DockerClient(module)
    try:
        return audit_rows(client.api, project_name, timeout=module.params["exec_timeout"],
                          workers=module.params["workers"])
    except Exception as exc:  # reported with the endpoint, not a traceback; pylint: disable=broad-except
        client.fail("probing the containers of project %s failed: %s" % (project_name, exc))
    finally:
        client.close()


def main():
    module = AnsibleModule(
        argument_spec=docker_argument_spec(
            project_dir=dict(type="path", required=True),
            project_name=dict(type="str"),
            compose_files=dict(type="list", elements="str", default=[]),
            globs=dict(type="list", elements="str", default=[]),
            runtime_images=dict(type="dict", default={"python": ["python"], "node": ["node"]}),
            compare_running=dict(type="bool", default=True),
            runtime_rows=dict(type="list", elements="dict"),
            exec_timeout=dict(type="float", default=10),
            workers=dict(type="int", default=8),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        project = resolve_project(params["project_dir"], project_name=params["project_name"],
                                  compose_files=params["compose_files"] or None)
    except ComposeProjectError as exc:
        module.fail_json(msg=str(exc))
    runtime_images = dict((str(k), [str(n) for n in (v if isinstance(v, list) else [v])])
                          for k, v in params["runtime_images"].items())
    specs = build_specs(project) + glob_specs(project.dir, params["globs"])
    entries = audit_dockerfiles(specs, project.dir, runtime_images=runtime_images)
    result = dict(changed=False, project=project.name, dockerfiles=entries, base_images=base_image_counts(entries),
                  warnings_text=list(project.warnings))
    if params["compare_running"]:
        rows = params["runtime_rows"]
        if rows is None:
            rows = running_rows(module, project.name)
        records = drift(entries, rows)
        result.update(drift=records, drift_summary=summarize_drift(records))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
