#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: file_set
short_description: Install several small files under one directory in one module run
version_added: "0.1.0"
description:
  - Writes every file of O(files) under O(dest_dir) whose content or mode differs, each atomically (temp file,
    fsync, rename). Missing parent directories are created. A file that already has the content and mode is left
    alone, so a second run changes nothing.
  - One module run for the whole set instead of a copy or template task per file. The monitoring role installs its
    agent (programs, the logic they load and the config) with it; each task costs a module start on the target.
  - Paths are relative to O(dest_dir). Absolute paths, C(..) and symlinks at a target path are refused.
author:
  - homeiq.phase0 contributors (@homeiq)
options:
  dest_dir:
    description: Directory the files go under.
    type: path
    required: true
  files:
    description: The files.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Path relative to O(dest_dir).
        type: str
        required: true
      content:
        description: The file's text (for example from C(lookup('ansible.builtin.file', ...)) on the controller).
        type: str
        required: true
      mode:
        description: Octal mode as a string.
        type: str
        default: "0644"
attributes:
  check_mode:
    support: full
    description: Reports which files would be created, updated or get a new mode, and writes nothing.
  diff_mode:
    support: partial
    description: Lists the files that change with their action; file contents are not diffed.
"""

EXAMPLES = r"""
- name: Install a small program and its library in one module run
  homeiq.phase0.file_set:
    dest_dir: /srv/homeiq/.phase0/monitor
    files:
      - path: tool.py
        content: "{{ lookup('ansible.builtin.file', 'tool.py') }}"
        mode: "0755"
      - path: lib/helpers.py
        content: "{{ lookup('ansible.builtin.file', 'helpers.py') }}"
"""

RETURN = r"""
files:
  description: Per file - C(path), C(full_path), C(mode) and C(action) (C(create), C(update), C(chmod) or C(none)).
  returned: always
  type: list
  elements: dict
changed_files:
  description: Paths (relative to O(dest_dir)) that were (or in check mode would be) written or chmodded.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils.file_set import FileSetError, apply_file_set, plan_file_set


def main():
    module = AnsibleModule(
        argument_spec=dict(
            dest_dir=dict(type="path", required=True),
            files=dict(type="list", elements="dict", required=True, options=dict(
                path=dict(type="str", required=True),
                content=dict(type="str", required=True),
                mode=dict(type="str", default="0644"),
            )),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        plan = plan_file_set(params["dest_dir"], params["files"])
    except (FileSetError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot read %s: %s" % (exc.filename or params["dest_dir"], exc.strerror or exc))
    changed = [entry["path"] for entry in plan if entry["action"] != "none"]
    result = dict(changed=bool(changed), files=plan, changed_files=changed)
    if module._diff:  # pylint: disable=protected-access  # AnsibleModule's documented diff flag
        result["diff"] = {"before": "".join("%s\n" % e["path"] for e in plan if e["action"] not in ("none", "create")),
                          "after": "".join("%s (%s, %s)\n" % (e["path"], e["action"], e["mode"])
                                           for e in plan if e["action"] != "none")}
    if changed and not module.check_mode:
        try:
            apply_file_set(plan, params["files"])
        except OSError as exc:
            module.fail_json(msg="writing %s failed: %s" % (exc.filename or params["dest_dir"], exc.strerror or exc),
                             **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
