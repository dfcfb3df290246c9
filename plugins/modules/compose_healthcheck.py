#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_healthcheck
short_description: Set a service's healthcheck in the compose file that defines it, changing nothing else
version_added: 0.1.0
description:
  - Finds the compose file that decides the service's healthcheck - following C(include:) and multiple compose
    files to the last file that sets it - and sets the given healthcheck keys there.
  - The edit splices new text into the exact spans ruamel.yaml's composer reports for the changed values, so
    comments, key order, quoting and every other line stay byte-identical; only the changed keys differ. The
    result is parsed again and must equal the original document with only those keys changed, or nothing
    is written.
  - The original file is backed up, byte for byte, under O(backup_dir) before the first change.
  - Idempotent - values that already mean the same (V(30s) and V(30), a string test and its C(CMD-SHELL) list)
    are no change.
  - With O(mode=override) it writes the change to a separate override file instead, for users who must not
    edit the project's files; pass that file as the last C(-f) file.
  - With O(state=reverted) it puts the backed-up original back (or removes the service from the override file).
author:
  - homeiq.phase0 contributors (@homeiq)
attributes:
  check_mode:
    description: Reports the same C(changed) and diff without writing anything.
    support: full
  diff_mode:
    description: Returns the file's text before and after.
    support: full
options:
  project_dir:
    description:
      - Directory of the compose project.
    type: path
    required: true
  project_name:
    description:
      - Compose project name, only needed to resolve the files like Compose does.
    type: str
  compose_files:
    description:
      - Compose files in merge order. Default - Compose's own discovery in O(project_dir).
    type: list
    elements: path
  service:
    description:
      - The service whose healthcheck is set.
    type: str
    required: true
  healthcheck:
    description:
      - The healthcheck keys to set; keys left out keep their current value.
      - Required with O(state=present).
    type: dict
    suboptions:
      test:
        description:
          - The probe as Docker runs it - a list starting with C(CMD), C(CMD-SHELL) or C(NONE), or a string
            (meaning C(CMD-SHELL)). A C($) is written as C($$) so Compose does not interpolate it.
        type: raw
      interval:
        description: Time between probes, a compose duration (V(30s), V(1m30s)) or seconds.
        type: raw
      timeout:
        description: Time a probe may take, a compose duration or seconds.
        type: raw
      retries:
        description: Consecutive failures before the container is unhealthy.
        type: int
      start_period:
        description: Start-up time during which failures do not count, a compose duration or seconds.
        type: raw
      start_interval:
        description: Time between probes during the start period (Docker 25+), a compose duration or seconds.
        type: raw
  state:
    description:
      - V(present) sets the keys; V(reverted) restores the original from O(backup_dir) (edit mode) or removes the
        service from the override file (override mode).
    type: str
    choices: [present, reverted]
    default: present
  mode:
    description:
      - V(edit) edits the project's compose file; V(override) writes O(override_file) instead.
    type: str
    choices: [edit, override]
    default: edit
  override_file:
    description:
      - With O(mode=override), the override file to write. Default C(<project_dir>/compose.phase0-healthcheck.yml).
    type: path
  backup_dir:
    description:
      - Directory for the backup of the original compose file (kept at its path relative to O(project_dir) under
        C(compose_backup/)). Required in edit mode with O(state=present) or O(state=reverted).
      - The healthcheck role passes the service's diagnostics directory.
    type: path
notes:
  - YAML anchors and aliases on the healthcheck are refused (editing them would change other services); use
    O(mode=override) for those.
seealso:
  - module: homeiq.phase0.health_diagnose
"""

EXAMPLES = r"""
- name: Probe websocket-ingestion by address with curl and a 2.4 s limit
  homeiq.phase0.compose_healthcheck:
    project_dir: /srv/homeiq
    service: websocket-ingestion
    healthcheck:
      test: ["CMD", "curl", "-fsS", "-o", "/dev/null", "--max-time", "2.4", "http://127.0.0.1:8001/health"]
    backup_dir: /srv/homeiq/diagnostics/healthcheck/20260204_112453/websocket-ingestion
  register: patch

- name: Put the original back
  homeiq.phase0.compose_healthcheck:
    project_dir: /srv/homeiq
    service: websocket-ingestion
    state: reverted
    backup_dir: /srv/homeiq/diagnostics/healthcheck/20260204_112453/websocket-ingestion

- name: Same change as an override file, the project's files untouched
  homeiq.phase0.compose_healthcheck:
    project_dir: /srv/homeiq
    service: websocket-ingestion
    mode: override
    override_file: /srv/overrides/healthchecks.yml
    healthcheck:
      test: ["CMD", "curl", "-fsS", "--max-time", "2", "http://127.0.0.1:8001/health"]
      start_period: 60s
"""

RETURN = r"""
file:
  description: The file edited or restored (edit mode) or the override file (override mode).
  returned: always
  type: str
  sample: /srv/homeiq/domains/core-platform/compose.yml
mode:
  description: V(edit) or V(override).
  returned: always
  type: str
before:
  description: The healthcheck keys in that file before (compose text values).
  returned: always
  type: dict
after:
  description: The healthcheck keys in that file after.
  returned: always
  type: dict
changed_keys:
  description: The keys whose value changed.
  returned: always
  type: list
  elements: str
backup_file:
  description: The backup of the original file (edit mode), null in override mode.
  returned: always
  type: str
sha256_before:
  description: SHA-256 of the file before the change.
  returned: always
  type: str
sha256_after:
  description: SHA-256 of the file after the change (what it would be, in check mode).
  returned: always
  type: str
project_name:
  description: The compose project name, resolved the way Compose does.
  returned: always
  type: str
  sample: homeiq
compose_files:
  description: >-
    The files to pass to Compose (C(-f)) so it sees the change - the project's files, plus the override file in
    override mode while it exists.
  returned: always
  type: list
  elements: str
diff:
  description: The file's text before and after, in diff mode.
  returned: diff mode
  type: dict
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.homeiq.phase0.plugins.module_utils.compose_edit import (
    HAS_RUAMEL, RUAMEL_IMPORT_ERROR, ComposeEditError, escape_dollars, set_healthcheck)
from ansible_collections.homeiq.phase0.plugins.module_utils.compose_edit_files import (
    backup_path, load_override, plan_override, read_bytes, render_override, replace_file, sha256_bytes,
    target_file, write_backup)
from ansible_collections.homeiq.phase0.plugins.module_utils.compose_project import (
    ComposeProjectError, resolve_project)

DEFAULT_OVERRIDE_NAME = "compose.phase0-healthcheck.yml"
HEALTHCHECK_OPTIONS = dict(
    test=dict(type="raw"),
    interval=dict(type="raw"),
    timeout=dict(type="raw"),
    retries=dict(type="int"),
    start_period=dict(type="raw"),
    start_interval=dict(type="raw"),
)


def argument_spec():
    return dict(
        project_dir=dict(type="path", required=True),
        project_name=dict(type="str"),
        compose_files=dict(type="list", elements="path"),
        service=dict(type="str", required=True),
        healthcheck=dict(type="dict", options=HEALTHCHECK_OPTIONS),
        state=dict(type="str", default="present", choices=["present", "reverted"]),
        mode=dict(type="str", default="edit", choices=["edit", "override"]),
        override_file=dict(type="path"),
        backup_dir=dict(type="path"),
    )


def _changes(params):
    changes = dict((k, v) for k, v in (params["healthcheck"] or {}).items() if v is not None)
    if "test" in changes:
        changes["test"] = escape_dollars(changes["test"])
    return changes


def resolve(module, params):
    """The project and the file that decides the service's healthcheck."""
    try:
        project = resolve_project(params["project_dir"], project_name=params["project_name"],
                                  compose_files=params["compose_files"])
        return project, target_file(project, params["service"])
    except (ComposeProjectError, ComposeEditError) as exc:
        module.fail_json(msg=str(exc))


def edit_plan(module, params, project, path):
    """(path, old_bytes, new_bytes, result fields) for edit mode."""
    old = read_bytes(path)
    backup = backup_path(params["backup_dir"], project.dir, path) if params["backup_dir"] else None
    if params["state"] == "reverted":
        if not backup or not os.path.isfile(backup):
            module.fail_json(msg="no backup of %s under %s to revert to" % (path, params["backup_dir"]), file=path)
        new = read_bytes(backup)
        return path, old, new, {"before": None, "after": None, "changed_keys": [], "backup_file": backup}
    try:
        result = set_healthcheck(old.decode("utf-8"), params["service"], _changes(params))
    except ComposeEditError as exc:
        module.fail_json(msg="cannot set the healthcheck of %s in %s: %s" % (params["service"], path, exc), file=path)
    return path, old, result.text.encode("utf-8"), {
        "before": result.before, "after": result.after, "changed_keys": result.changed_keys, "backup_file": backup}


def override_plan(module, params, project, dummy):
    path = params["override_file"] or os.path.join(project.dir, DEFAULT_OVERRIDE_NAME)
    old = read_bytes(path) if os.path.exists(path) else b""
    try:
        if params["state"] == "reverted":
            services = load_override(old.decode("utf-8"))
            services.pop(params["service"], None)
            new = render_override(services).encode("utf-8") if services else b""
            return path, old, new, {"before": None, "after": None, "changed_keys": [], "backup_file": None}
        text, dummy, before, after = plan_override(old.decode("utf-8"), params["service"], _changes(params))
    except ComposeEditError as exc:
        module.fail_json(msg="cannot write the override for %s in %s: %s" % (params["service"], path, exc), file=path)
    keys = sorted(k for k in after if before.get(k) != after.get(k))
    return path, old, text.encode("utf-8"), {"before": before, "after": after, "changed_keys": keys,
                                             "backup_file": None}


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[("state", "present", ("healthcheck",))])
    params = module.params
    if not HAS_RUAMEL:
        module.fail_json(msg=missing_required_lib("ruamel.yaml"), exception=RUAMEL_IMPORT_ERROR)
    if params["mode"] == "edit" and not params["backup_dir"]:
        module.fail_json(msg="backup_dir is required in edit mode: the original is backed up before any change")
    project, decisive = resolve(module, params)
    plan = override_plan if params["mode"] == "override" else edit_plan
    path, old, new, fields = plan(module, params, project, decisive)
    changed = old != new
    if changed and not module.check_mode:
        try:
            if params["mode"] == "edit" and params["state"] == "present":
                write_backup(fields["backup_file"], old)
            if params["mode"] == "override" and not new:
                os.unlink(path)
            else:
                replace_file(path, new)
        except (OSError, ComposeEditError) as exc:
            module.fail_json(msg="writing %s failed: %s" % (path, exc), file=path)
    files = list(project.files)
    if params["mode"] == "override" and new and os.path.abspath(path) not in files:
        files.append(os.path.abspath(path))
    result = dict(changed=changed, file=path, mode=params["mode"], sha256_before=sha256_bytes(old),
                  sha256_after=sha256_bytes(new), project_name=project.name, compose_files=files, **fields)
    if module._diff:
        result["diff"] = {"before": old.decode("utf-8", "replace"), "after": new.decode("utf-8", "replace"),
                          "before_header": path, "after_header": path}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
