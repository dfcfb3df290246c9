#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: aggregate_errors
short_description: Summarise the error lines the build monitor found, per container
version_added: "0.1.0"
description:
  - Reads C(errors/errors.jsonl) (and its rotated C(.1) file) written by the monitor agent, keeps the lines of the
    last O(window) seconds, and writes C(errors/summary_<YYYYmmdd_HHMMSS>.md) with, per container, the count, the
    first and last time and the last O(last_lines) lines.
author:
  - homeiq.phase0 contributors (@homeiq)
options:
  log_dir:
    description: The phase directory the agent writes to, for example C(<phase0_output_dir>/logs/current_rebuild/phase0).
    type: path
    required: true
  window:
    description: Seconds back from now to summarise.
    type: int
    default: 3600
  last_lines:
    description: How many of the latest lines to keep per container.
    type: int
    default: 5
attributes:
  check_mode:
    support: full
    description: Computes the summary and returns it without writing the file.
  diff_mode:
    support: none
    description: No diff.
"""

EXAMPLES = r"""
- name: Summarise the last hour of errors
  homeiq.phase0.aggregate_errors:
    log_dir: /srv/homeiq/logs/current_rebuild/phase0
  register: errors_summary
"""

RETURN = r"""
path:
  description: The summary file written (or that would be written in check mode).
  returned: always
  type: str
total:
  description: Error lines inside the window.
  returned: always
  type: int
containers:
  description: Per container, C(container), C(service), C(count), C(first), C(last) and C(last_lines).
  returned: always
  type: list
  elements: dict
"""

import datetime
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_errors as merr
from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_files as mfiles


def main():
    module = AnsibleModule(
        argument_spec=dict(
            log_dir=dict(type="path", required=True),
            window=dict(type="int", default=3600),
            last_lines=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )
    params = module.params
    errors_dir = os.path.join(params["log_dir"], "errors")
    source = os.path.join(errors_dir, "errors.jsonl")
    records = mfiles.read_jsonl(source + ".1") + mfiles.read_jsonl(source)
    now = datetime.datetime.now(datetime.timezone.utc)
    summary = merr.summarise(records, time.time(), params["window"], params["last_lines"])
    path = os.path.join(errors_dir, "summary_%s.md" % now.strftime("%Y%m%d_%H%M%S"))
    result = dict(changed=True, path=path, total=sum(e["count"] for e in summary), containers=summary)
    if not module.check_mode:
        if not os.path.isdir(errors_dir):
            module.fail_json(msg="%s does not exist: is the monitor installed and log_dir right?" % errors_dir, **result)
        text = merr.summary_markdown(summary, params["window"], now.strftime("%Y-%m-%dT%H:%M:%SZ"), source)
        mfiles.atomic_write(path, text)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
