#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
---
module: run_report
short_description: Write the phase 0 run report from the artifacts the steps wrote
version_added: 0.1.0
description:
  - Reads, for every step of a phase 0 run, the artifacts that step wrote (C(infrastructure_validation.json),
    the backup's C(manifest.json) and C(verify.json), the health diagnosis C(summary.json), C(runtime_versions.json),
    C(monitor_status.json)) and writes one report as C(reports/phase0_<run_id>.md) and C(.json) under O(output_dir).
  - Every number in the report comes from an artifact. A step that did not run is reported as not run, never as a
    pass; a step whose artifacts cannot be read says so.
  - Files are written atomically with mode 0600 in 0700 directories.
  - In check mode nothing is written; the report is still built and returned.
author:
  - homeiq.phase0 contributors (@homeiq)
attributes:
  check_mode:
    support: full
    description: Builds the report and returns it without writing files.
  diff_mode:
    support: none
    description: Reports are new files named by run id; there is nothing to diff.
options:
  output_dir:
    description: Root of the run's output; the report goes to its C(reports/) directory.
    type: path
    required: true
  run_id:
    description: Run identifier (C(YYYYmmdd_HHMMSS)), used in the file names.
    type: str
    required: true
  steps:
    description: One record per step, in run order.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Step name.
        type: str
        required: true
        choices: [project, infra, backup, healthcheck, audit, monitoring]
      status:
        description:
          - C(passed), C(warning), C(failed); C(skipped) when deliberately not run; C(not_run) when never reached;
            C(check_mode) for a dry run.
        type: str
        required: true
        choices: [passed, warning, failed, skipped, not_run, check_mode]
      started:
        description: Start time (ISO 8601).
        type: str
      ended:
        description: End time (ISO 8601).
        type: str
      duration_s:
        description: Wall time of the step in seconds.
        type: float
      msg:
        description: The failure message, or why the step was skipped.
        type: str
      artifact:
        description: The directory the step wrote its artifacts to.
        type: path
  project_name:
    description: Compose project name, for the header.
    type: str
  project_dir:
    description: Compose project directory, for the header and the rollback command.
    type: path
  host:
    description: Name of the host the run was for.
    type: str
  started:
    description: Start of the run (ISO 8601).
    type: str
  ended:
    description: End of the run (ISO 8601).
    type: str
  duration_s:
    description: Wall time of the run in seconds.
    type: float
  dry_run:
    description: The play runs in check mode; the report says so.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Write the run report
  homeiq.phase0.run_report:
    output_dir: /srv/homeiq
    run_id: "20260204_111804"
    project_name: homeiq
    project_dir: /srv/homeiq
    steps:
      - name: infra
        status: passed
        artifact: /srv/homeiq/diagnostics/infrastructure/20260204_111804
      - name: backup
        status: failed
        msg: "volume homeiq_influxdb_data: no space left on device"
  register: report

- name: Publish the verdict for AWX
  ansible.builtin.set_stats:
    data: "{{ report.stats }}"
"""

RETURN = r"""
report_md:
  description: Path of the Markdown report (not written in check mode).
  returned: always
  type: str
  sample: /srv/homeiq/reports/phase0_20260204_111804.md
report_json:
  description: Path of the JSON report (not written in check mode).
  returned: always
  type: str
  sample: /srv/homeiq/reports/phase0_20260204_111804.json
verdict:
  description: Overall verdict.
  returned: always
  type: str
  sample: READY FOR REBUILD
report:
  description: The report as written to the JSON file (schema C(homeiq.phase0/run-report/v1)).
  returned: always
  type: dict
stats:
  description: A small flat summary for C(ansible.builtin.set_stats).
  returned: always
  type: dict
  sample:
    phase0_verdict: NOT READY
    phase0_failed_steps: [backup]
    phase0_backup_id: null
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homeiq.phase0.plugins.module_utils.atomic_file import ensure_private_dir, write_file_atomic
from ansible_collections.homeiq.phase0.plugins.module_utils.run_report import (
    build_report,
    load_step_facts,
    render_markdown,
    summary_for_stats,
)

STEP_OPTIONS = dict(
    name=dict(type="str", required=True, choices=["project", "infra", "backup", "healthcheck", "audit", "monitoring"]),
    status=dict(type="str", required=True, choices=["passed", "warning", "failed", "skipped", "not_run", "check_mode"]),
    started=dict(type="str"),
    ended=dict(type="str"),
    duration_s=dict(type="float"),
    msg=dict(type="str"),
    artifact=dict(type="path"),
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            output_dir=dict(type="path", required=True),
            run_id=dict(type="str", required=True),
            steps=dict(type="list", elements="dict", required=True, options=STEP_OPTIONS),
            project_name=dict(type="str"),
            project_dir=dict(type="path"),
            host=dict(type="str"),
            started=dict(type="str"),
            ended=dict(type="str"),
            duration_s=dict(type="float"),
            dry_run=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    steps = []
    for step in params["steps"]:
        record = dict((k, v) for k, v in step.items() if v is not None)
        record["facts"] = load_step_facts(record)
        steps.append(record)
    meta = dict((k, params[k]) for k in ("run_id", "project_name", "project_dir", "output_dir", "host",
                                         "started", "ended", "duration_s"))
    meta["check_mode"] = params["dry_run"] or module.check_mode
    report = build_report(steps, meta)
    reports_dir = os.path.join(params["output_dir"], "reports")
    md_path = os.path.join(reports_dir, "phase0_%s.md" % params["run_id"])
    json_path = os.path.join(reports_dir, "phase0_%s.json" % params["run_id"])
    if not module.check_mode:
        try:
            ensure_private_dir(reports_dir)
            write_file_atomic(json_path, (json.dumps(report, indent=2, sort_keys=False) + "\n").encode("utf-8"))
            write_file_atomic(md_path, render_markdown(report).encode("utf-8"))
        except OSError as exc:
            module.fail_json(msg="cannot write the run report under %s: %s" % (reports_dir, exc), verdict=report["verdict"])
    # A report is a new pair of files each run: writing it is a change (and would be in check mode too).
    module.exit_json(changed=True, report_md=md_path, report_json=json_path, verdict=report["verdict"],
                     report=report, stats=summary_for_stats(report))


if __name__ == "__main__":
    main()
