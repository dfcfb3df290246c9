#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: project_info
short_description: Inventory of a Docker Compose project as files and engine see it
version_added: 0.1.0
description:
  - Resolves a Compose project the way C(docker compose) does (default file discovery, C(COMPOSE_FILE),
    C(include:), C(.env) interpolation, project name precedence) and lists what the Docker engine has
    for it by the C(com.docker.compose.project) label, in one call for the whole stack.
  - For every service it reports the compose file that defines it (and the one that sets its
    healthcheck), its containers, their state and health, and its image.
  - Lists the project's containers, volumes (labels, driver, mountpoint and optionally size),
    images (ids and tags) and networks.
  - Read only. A project with no containers gives empty lists and a warning, not an error.
  - Environment values and C(.env) contents never appear in the result.
author:
  - homeiq.phase0 contributors (@homeiq)
extends_documentation_fragment:
  - homeiq.phase0.docker
attributes:
  check_mode:
    description: Runs unchanged in check mode and returns the same result.
    support: full
  diff_mode:
    description: Nothing changes, so there is no diff.
    support: none
options:
  project_dir:
    description:
      - Directory of the compose project. Relative O(compose_files) are relative to it, and its
        C(.env) is read for interpolation and C(COMPOSE_PROJECT_NAME), as Compose does.
      - When omitted, only the engine is asked, for the project named O(project_name).
      - At least one of O(project_dir) and O(project_name) is required.
    type: path
  project_name:
    description:
      - The compose project name, like C(docker compose -p).
      - Default resolved as Compose does, first match wins - the C(COMPOSE_PROJECT_NAME) environment
        variable, C(COMPOSE_PROJECT_NAME) in the project's C(.env), the top-level C(name:) of the
        compose files (last file wins), the project directory's name (lowercased, only C([a-z0-9_-]) kept).
    type: str
  compose_files:
    description:
      - Compose files, in merge order. Default - C(COMPOSE_FILE) if set, else Compose's default discovery
        in O(project_dir) (C(compose.yaml), C(compose.yml), C(docker-compose.yml), C(docker-compose.yaml),
        plus the matching C(*.override.*) file).
    type: list
    elements: path
  volume_sizes:
    description:
      - Also report each volume's size from the engine's disk-usage API (C(docker system df -v)).
      - This walks every volume on the engine and can take long on big volumes, so it is off by default.
    type: bool
    default: false
  workers:
    description:
      - How many containers to inspect at the same time for health details.
    type: int
    default: 8
notes:
  - Services are read with a built-in Compose file reader. Override merging follows Compose for
    mappings and lists; C(extends) is not followed.
  - Conflicts Compose would refuse (the same volume or service defined differently by two included
    files, a missing include C(env_file)) are reported as warnings so an inventory still works.
seealso:
  - name: Compose project name precedence
    description: How Compose picks the project name.
    link: https://docs.docker.com/compose/how-tos/project-name/
"""

EXAMPLES = r"""
- name: Inventory the stack in /srv/homeiq
  homeiq.phase0.project_info:
    project_dir: /srv/homeiq
  register: stack

- name: Show unhealthy services and the file to fix them in
  ansible.builtin.debug:
    msg: "{{ item.name }} is {{ item.health }}; healthcheck in {{ item.healthcheck_file }}"
  loop: "{{ stack.project.services | selectattr('health', 'equalto', 'unhealthy') }}"
  loop_control:
    label: "{{ item.name }}"

- name: Engine-only inventory of a project by name, with volume sizes, on a remote engine
  homeiq.phase0.project_info:
    project_name: homeiq
    volume_sizes: true
    docker_host: tcp://docker.example.com:2376
    tls_verify: true
"""

RETURN = r"""
project:
  description: The project as the compose files and the engine see it.
  returned: success
  type: dict
  contains:
    name:
      description: Project name (the value of the C(com.docker.compose.project) label).
      type: str
      sample: homeiq
    name_source:
      description: Where the name came from.
      type: str
      choices: [explicit, env, dotenv, compose_file, directory]
      sample: compose_file
    dir:
      description: Absolute project directory (from the containers' labels when O(project_dir) is not given).
      type: str
      sample: /srv/homeiq
    compose_files:
      description: The top-level compose files, absolute, in merge order.
      type: list
      elements: str
      sample: [/srv/homeiq/docker-compose.yml]
    included_files:
      description: Files pulled in by C(include:), absolute, in load order.
      type: list
      elements: str
      sample: [/srv/homeiq/domains/core-platform/compose.yml]
    services:
      description: One entry per service defined in the files or seen on the engine, sorted by name.
      type: list
      elements: dict
      contains:
        name:
          description: Service name.
          type: str
        defined:
          description: Whether the compose files define it (false for a service only the engine knows).
          type: bool
        file:
          description: The file that defines the service (patch it there).
          type: str
          sample: /srv/homeiq/domains/core-platform/compose.yml
        files:
          description: Every file that defines or overrides the service, in merge order.
          type: list
          elements: str
        healthcheck_file:
          description: The last file that sets the service's healthcheck; null when none does.
          type: str
        has_healthcheck:
          description: Whether the merged service has an enabled healthcheck.
          type: bool
        profiles:
          description: Compose profiles of the service (empty means always enabled).
          type: list
          elements: str
        image:
          description: The image from the compose file, else the image of its container.
          type: str
          sample: influxdb:2.8.0
        containers:
          description: Names of its containers.
          type: list
          elements: str
        state:
          description: Container state when all agree, C(mixed) when not, C(absent) without containers.
          type: str
          sample: running
        health:
          description: >-
            C(healthy), C(unhealthy), C(starting), C(none) (no healthcheck or not running), C(mixed) when
            containers differ, null without containers.
          type: str
          sample: healthy
    containers:
      description: Containers with the project label, sorted by name.
      type: list
      elements: dict
      contains:
        id:
          description: Container id.
          type: str
        name:
          description: Container name.
          type: str
          sample: homeiq-influxdb
        service:
          description: Compose service.
          type: str
        number:
          description: Compose container number.
          type: int
        oneoff:
          description: Whether it was made by C(docker compose run).
          type: bool
        state:
          description: Engine state (running, exited, paused, restarting, created, dead).
          type: str
        status:
          description: Engine status text.
          type: str
          sample: Up 5 minutes (healthy)
        health:
          description: Health status, null without a healthcheck or when not running.
          type: str
        failing_streak:
          description: Consecutive failed probes, when it has a healthcheck.
          type: int
        last_probe_exit_code:
          description: Exit code of the last probe (-1 is a timeout).
          type: int
        exit_code:
          description: Exit code of an exited container, else null.
          type: int
        image:
          description: Image reference the container was created from.
          type: str
        image_id:
          description: Image id.
          type: str
        created:
          description: Creation time (Unix seconds).
          type: int
        volumes:
          description: Named volumes mounted.
          type: list
          elements: str
    volumes:
      description: Volumes with the project label, sorted by name.
      type: list
      elements: dict
      contains:
        name:
          description: Volume name.
          type: str
          sample: homeiq_influxdb_data
        compose_volume:
          description: Key of the volume in the compose file.
          type: str
          sample: influxdb_data
        driver:
          description: Volume driver.
          type: str
          sample: local
        mountpoint:
          description: Mountpoint on the engine host.
          type: str
        scope:
          description: Volume scope.
          type: str
        created:
          description: Creation time.
          type: str
        labels:
          description: All labels of the volume.
          type: dict
        used_by:
          description: Names of the project's containers that mount it.
          type: list
          elements: str
        size:
          description: Bytes used, when O(volume_sizes=true) and the engine reports it; else null.
          type: int
    declared_volumes:
      description: Volumes the compose files declare, with the engine name Compose gives them and whether it exists.
      type: list
      elements: dict
      contains:
        key:
          description: Key under top-level C(volumes:).
          type: str
        name:
          description: Engine volume name.
          type: str
        exists:
          description: Whether the engine has it (labeled or mounted by a project container).
          type: bool
    images:
      description: Images the project's containers run plus images Compose built for it.
      type: list
      elements: dict
      contains:
        id:
          description: Image id.
          type: str
        tags:
          description: Repository tags.
          type: list
          elements: str
        digests:
          description: Repository digests.
          type: list
          elements: str
        size:
          description: Size in bytes.
          type: int
        created:
          description: Creation time (Unix seconds).
          type: int
        services:
          description: Services that use it.
          type: list
          elements: str
    networks:
      description: Networks with the project label.
      type: list
      elements: dict
      contains:
        name:
          description: Network name.
          type: str
        id:
          description: Network id.
          type: str
        driver:
          description: Network driver.
          type: str
        scope:
          description: Network scope.
          type: str
        labels:
          description: Labels.
          type: dict
    summary:
      description: Counts of services, containers, running, healthy, unhealthy, starting, volumes, images, networks.
      type: dict
      sample: {services: 8, containers: 8, running: 8, healthy: 6, unhealthy: 1, starting: 0, volumes: 6, images: 3, networks: 1}
docker_host:
  description: The Docker endpoint used, on failure.
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import (
    HAS_YAML, YAML_IMPORT_ERROR, ComposeProjectError, is_valid_project_name, resolve_project)
from ansible_collections.homeiq.phase0.plugins.module_utils.docker_client import (
    Phase0DockerClient, docker_argument_spec)
from ansible_collections.homeiq.phase0.plugins.module_utils.project_inventory import (
    build_inventory, gather_engine_facts, inventory_warnings)


def argument_spec():
    return docker_argument_spec(
        project_dir=dict(type="path"),
        project_name=dict(type="str"),
        compose_files=dict(type="list", elements="path"),
        volume_sizes=dict(type="bool", default=False),
        workers=dict(type="int", default=8),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[("project_dir", "project_name")])
    params = module.params

    model = None
    if params["project_dir"]:
        if not HAS_YAML:
            module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
        try:
            project = resolve_project(params["project_dir"], project_name=params["project_name"],
                                      compose_files=params["compose_files"])
        except ComposeProjectError as exc:
            module.fail_json(msg=str(exc))
        model = project.to_dict()
        for warning in project.warnings:
            module.warn(warning)
        name = project.name
    else:
        name = params["project_name"]
        if not is_valid_project_name(name):
            module.fail_json(msg="invalid project name %r: Compose project names are lowercase "
                                 "letters, digits, '-' and '_', starting with a letter or digit" % name)

    client = Phase0DockerClient(module)
    try:
        facts = gather_engine_facts(client.api, name, volume_sizes=params["volume_sizes"],
                                    workers=params["workers"])
    # any engine error ends as a failure that names the endpoint
    except Exception as exc:  # pylint: disable=broad-except
        client.fail("listing compose project %s on %s failed: %s" % (name, client.endpoint, exc))
    inventory = build_inventory(model, facts, name)
    for warning in inventory_warnings(inventory, client.endpoint):
        module.warn(warning)
    client.close()
    module.exit_json(changed=False, project=inventory)


if __name__ == "__main__":
    main()
