"""The runtime_audit role: artifacts under diagnostics/runtime-audit/<ts>/, modes, fail_on, check mode."""
import csv
import glob
import json
import os
import stat

import pytest

from helpers import ROOT, run_playbook
from runtime_stack import SECRET, mini_stack  # noqa: F401  # pylint: disable=unused-import  # pytest fixture

pytestmark = pytest.mark.integration

PLAYBOOK = os.path.join(ROOT, "tests", "integration", "playbooks", "runtime_audit.yml")


def role_vars(stack, out, **extra):
    return dict(phase0_project_dir=stack.dir, phase0_project_name=stack.name, phase0_output_dir=str(out),
                runtime_audit_exec_timeout=2, **extra)


def audit_dirs(out):
    return sorted(glob.glob(os.path.join(str(out), "diagnostics", "runtime-audit", "*")))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_role_writes_the_audit(mini_stack, tmp_path):
    proc = run_playbook(PLAYBOOK, role_vars(mini_stack, tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]
    dirs = audit_dirs(tmp_path)
    assert len(dirs) == 1 and len(os.path.basename(dirs[0])) == len("20260204_113653")
    audit = dirs[0]
    names = sorted(os.listdir(audit))
    assert names == ["dockerfile_versions.json", "runtime_versions.csv", "runtime_versions.json", "upgrade_plan.md"]
    for directory in (os.path.join(str(tmp_path), "diagnostics"), os.path.dirname(audit), audit):
        assert mode(directory) == 0o700, directory
    for name in names:
        assert mode(os.path.join(audit, name)) == 0o600, name

    with open(os.path.join(audit, "runtime_versions.json")) as handle:
        data = json.load(handle)
    with open(os.path.join(audit, "runtime_versions.csv")) as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["service"], r["runtime"], r["version"] or None, r["status"]) for r in rows] == \
        [(r["service"], r["runtime"], r["version"], r["status"]) for r in data["rows"]]
    legacy = [r for r in rows if r["service"] == "legacy-worker"][0]
    assert (legacy["status"], legacy["priority"], legacy["minimum"]) == ("NEEDS_UPGRADE", "MEDIUM", "3.10")

    with open(os.path.join(audit, "dockerfile_versions.json")) as handle:
        dockerfiles = json.load(handle)
    assert dockerfiles["drift_summary"] == {"drift": 1, "match": 1}

    with open(os.path.join(audit, "upgrade_plan.md")) as handle:
        plan = handle.read()
    assert "### MEDIUM: 1 to upgrade, 1 to investigate" in plan
    assert "### CRITICAL: 0 to upgrade, 0 to investigate" in plan
    assert "| legacy-worker |" in plan and "the image is stale, rebuild it" in plan
    for path in glob.glob(os.path.join(audit, "*")):
        with open(path) as handle:
            assert SECRET not in handle.read(), path


def test_fail_on_needs_upgrade_fails_after_writing(mini_stack, tmp_path):
    proc = run_playbook(PLAYBOOK, role_vars(mini_stack, tmp_path, runtime_audit_fail_on="needs_upgrade"))
    assert proc.returncode != 0
    assert "legacy-worker" in proc.stdout and "below the minimum" in proc.stdout
    assert os.path.isfile(os.path.join(audit_dirs(tmp_path)[0], "upgrade_plan.md"))


def test_check_mode_writes_nothing(mini_stack, tmp_path):
    proc = run_playbook(PLAYBOOK, role_vars(mini_stack, tmp_path), check=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not os.path.exists(os.path.join(str(tmp_path), "diagnostics"))
