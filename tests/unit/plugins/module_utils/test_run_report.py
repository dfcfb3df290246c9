import json
import os

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.run_report import (
    build_report,
    load_step_facts,
    render_markdown,
    summary_for_stats,
)

META = {"run_id": "20261203_101010", "project_name": "demo", "project_dir": "/srv/demo", "output_dir": "/srv/out",
        "host": "localhost", "started": "2026-12-03T10:10:10Z", "ended": "2026-12-03T10:12:10Z", "duration_s": 120.0}


def _write(path, name, data):
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name), "w") as handle:
        json.dump(data, handle)


@pytest.fixture
def artifacts(tmp_path):
    infra = str(tmp_path / "infra")
    _write(infra, "infrastructure_validation.json", {
        "status": "warn", "summary": {"pass": 1, "warn": 1, "fail": 0}, "elapsed": 1.5,
        "checks": [{"id": "engine_version", "title": "Engine version", "requirement": ">= 20.10", "value": "20.10.24",
                    "status": "pass", "fix": ""},
                   {"id": "cpus", "title": "CPUs", "requirement": ">= 4", "value": 2, "status": "warn",
                    "fix": "give the engine more CPUs"}]})
    audit = str(tmp_path / "audit")
    _write(audit, "runtime_versions.json", {
        "summary": {"containers": 3, "running": 2, "not_running": 1, "needs_upgrade": 1, "unknown": 0,
                    "versions": {"python": {"3.11.2": 1, "3.9.2": 1}}},
        "rows": [{"service": "legacy-worker", "runtime": "python", "version": "3.9.2", "minimum": "3.10",
                  "priority": "MEDIUM", "status": "NEEDS_UPGRADE"},
                 {"service": "admin-api", "runtime": "python", "version": "3.11.2", "minimum": "3.10",
                  "priority": "CRITICAL", "status": "OK"}]})
    backup = str(tmp_path / "backups" / "phase0_20261203_101011")
    _write(backup, "manifest.json", {
        "backup_id": "phase0_20261203_101011", "complete": True,
        "volumes": [{"name": "demo_db", "bytes": 2_000_000, "raw_bytes": 9_000_000, "consistency": "stop",
                     "mb_per_s": 300.0, "duration_s": 0.03},
                    {"name": "demo_logs", "bytes": 1_000_000, "raw_bytes": 1_000_000, "consistency": "live"}],
        "images": [{"repository": "demo/app", "tag": "latest", "id": "sha256:1", "snapshot_tag": "pre-rebuild"}],
        "configs": [{"path": ".env", "sensitive": True}, {"path": "compose.yaml"}]})
    _write(backup, "verify.json", {"mode": "quick", "ok": True, "bad_files": []})
    return {"infra": infra, "audit": audit, "backup": backup}


def _steps(artifacts, **status):
    steps = []
    for name in ("infra", "backup", "healthcheck", "audit", "monitoring"):
        step = {"name": name, "status": status.get(name, "passed"), "duration_s": 2.0}
        if name in artifacts:
            step["artifact"] = artifacts[name]
        if step["status"] == "failed":
            step["msg"] = "boom in %s" % name
        step["facts"] = load_step_facts(step)
        steps.append(step)
    return steps


def test_numbers_come_from_the_artifacts(artifacts):
    report = build_report(_steps(artifacts, healthcheck="not_run", monitoring="not_run"), META)
    backup = next(s for s in report["steps"] if s["name"] == "backup")["facts"]
    assert backup["volume_count"] == 2 and backup["archive_bytes"] == 3_000_000 and backup["raw_bytes"] == 10_000_000
    assert backup["live_volumes"] == ["demo_logs"]
    assert report["rollback"]["backup_id"] == "phase0_20261203_101011"
    assert "-e phase0_backup_id=phase0_20261203_101011" in report["rollback"]["command"]
    assert report["rollback"]["command"].endswith(" -e rollback_confirm=true")
    issues = {(i["service"], i["classification"]) for i in report["issues"]}
    assert ("legacy-worker", "runtime_below_minimum") in issues and ("host", "cpus_warn") in issues
    md = render_markdown(report)
    assert "| Volume demo_db | 300.0 MB/s, 0.03 s |" in md
    assert "3.9.2 (1)" in md


@pytest.mark.parametrize("output_dir, names_root", [
    # The role's default layout: <output_dir>/backups/<id>; rollback.yml finds it from phase0_output_dir.
    ("{tmp}", False),
    ("{tmp}/", False),
    # backup_root was set elsewhere: without restore_backup_root the rollback would look in /srv/out/backups.
    ("/srv/out", True),
    (None, True),
])
def test_rollback_command_names_a_backup_root_outside_the_output_dir(artifacts, tmp_path, output_dir, names_root):
    meta = dict(META, output_dir=output_dir.format(tmp=tmp_path) if output_dir else None)
    command = build_report(_steps(artifacts, healthcheck="not_run", monitoring="not_run"), meta)["rollback"]["command"]
    root = os.path.dirname(artifacts["backup"])
    assert ("-e restore_backup_root=%s " % root in command) is names_root, command
    assert "restore_backup_root" in command if names_root else "restore_backup_root" not in command
    if output_dir:
        assert "-e phase0_output_dir=%s " % meta["output_dir"] in command


@pytest.mark.parametrize("statuses, verdict", [
    ({}, "READY FOR REBUILD"),
    ({"audit": "warning"}, "READY WITH WARNINGS"),
    ({"monitoring": "not_run"}, "INCOMPLETE"),
    ({"healthcheck": "skipped"}, "INCOMPLETE"),
    ({"backup": "failed", "healthcheck": "not_run"}, "NOT READY"),
    (dict.fromkeys(("infra", "backup", "healthcheck", "audit", "monitoring"), "check_mode"), "CHECK MODE"),
])
def test_verdict(artifacts, statuses, verdict):
    assert build_report(_steps(artifacts, **statuses), META)["verdict"] == verdict


def test_a_step_that_did_not_run_never_reads_as_a_pass(artifacts):
    report = build_report(_steps(artifacts, backup="failed", healthcheck="not_run", audit="not_run",
                                 monitoring="not_run"), META)
    rows = {r["task"]: r["status"] for r in report["checklist"]}
    assert rows["Health diagnosis and probe repair"] == "not run"
    assert rows["Build monitoring"] == "not run"
    assert report["failed_steps"] == [{"name": "backup", "msg": "boom in backup"}]
    # A failed backup step reads no manifest, so there is nothing to roll back to.
    assert report["rollback"]["command"] is None
    md = render_markdown(report)
    assert "This step did not run" in md and "PASS" not in md.split("## Validation Checklist")[1].split("Host:")[0]
    assert summary_for_stats(report)["phase0_failed_steps"] == ["backup"]


def test_missing_or_broken_artifact_is_reported_not_invented(tmp_path):
    bad = tmp_path / "infra"
    bad.mkdir()
    (bad / "infrastructure_validation.json").write_text("{not json")
    step = {"name": "infra", "status": "passed", "artifact": str(bad)}
    step["facts"] = load_step_facts(step)
    report = build_report([step], META)
    row = [r for r in report["checklist"] if r["task"] == "Artifacts of infra readable"]
    assert row and row[0]["status"] == "FAIL"
    gone = {"name": "audit", "status": "passed", "artifact": str(tmp_path / "nope")}
    assert load_step_facts(gone) == {"errors": ["artifact %s does not exist" % (tmp_path / "nope")]}
