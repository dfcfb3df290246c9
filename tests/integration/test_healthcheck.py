"""Health diagnosis and probe repair on the real engine, with the demo stack's three faults.

Read-only diagnosis runs against the shared session `demo_stack`. Everything that fixes (patches
compose files, recreates containers) runs on its own copy of the demo under a random project name,
so other tests never see a changed stack.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

from helpers import DEMO_SRC, ROOT, compose, run_module, run_playbook

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PLAYBOOK = os.path.join(ROOT, "playbooks", "healthcheck.yml")
with open(os.path.join(DEMO_SRC, "expected.json"), encoding="utf-8") as _handle:
    EXPECTED = json.load(_handle)
FAULTS = dict((name, spec["fault"]) for name, spec in EXPECTED["services"].items() if spec.get("fault"))
SLOW_DNS = EXPECTED["slow_dns"]
# Our copies start only what the faults need (websocket-ingestion depends on influxdb).
FAULT_SERVICES = sorted(FAULTS) + ["influxdb"]


def dotenv_secrets():
    values = []
    with open(os.path.join(DEMO_SRC, ".env"), encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                name, value = line.split("=", 1)
                if "LEAK" in value.upper():
                    values.append(value)
    assert len(values) >= 3
    return values


SECRETS = dotenv_secrets()


def sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def container_health(docker_client, project):
    out = {}
    for container in docker_client.containers.list(all=True, filters={"label": "com.docker.compose.project=%s" % project}):
        health = (container.attrs["State"].get("Health") or {}).get("Status")
        out[container.labels["com.docker.compose.service"]] = (health, container)
    return out


def wait_health(docker_client, project, wanted, timeout=120):
    """Wait until every service in `wanted` ({service: status}) has that health status."""
    deadline = time.monotonic() + timeout
    while True:
        current = dict((s, h) for s, (h, dummy) in container_health(docker_client, project).items())
        if all(current.get(s) == status for s, status in wanted.items()):
            return current
        if time.monotonic() > deadline:
            raise AssertionError("health after %d s: %r, wanted %r" % (timeout, current, wanted))
        time.sleep(1)


def grep_tree(root, needles):
    """(path, needle) for every file under root that contains a needle."""
    hits = []
    for directory, dummy, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                data = handle.read()
            hits.extend((path, n) for n in needles if n.encode() in data)
    return hits


ROLE_PLAYBOOK = """---
- name: The healthcheck role, then its published result written where the test can read it
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Run the role
      ansible.builtin.import_role:
        name: homeiq.phase0.healthcheck
    - name: Dump healthcheck_result
      ansible.builtin.copy:
        content: "{{ healthcheck_result | to_json }}"
        dest: "{{ test_result_file }}"
        mode: "0600"
      changed_when: false
      check_mode: false
"""


def run_role(tmp_path, extra, **kwargs):
    """Run the role through a small playbook; returns (process, healthcheck_result or None)."""
    playbook = tmp_path / "role_playbook.yml"
    playbook.write_text(ROLE_PLAYBOOK)
    result_file = tmp_path / ("healthcheck_result_%s.json" % time.monotonic_ns())
    proc = run_playbook(str(playbook), dict(extra, test_result_file=str(result_file)), **kwargs)
    published = json.loads(result_file.read_text()) if result_file.exists() else None
    return proc, published


def read_summary(published):
    """summary.json named by healthcheck_result, checked against it; {service: entry} and the document."""
    assert published["summary"] == os.path.join(published["dir"], "summary.json")
    assert oct(os.stat(published["summary"]).st_mode & 0o777) == "0o600"
    with open(published["summary"], encoding="utf-8") as handle:
        doc = json.load(handle)
    assert doc["open"] == published["open"] == len([s for s in doc["services"] if s["result"] != "fixed"])
    for entry in doc["services"]:
        assert set(entry) >= {"service", "classification", "action", "result", "evidence_summary", "incident_report"}
        assert os.path.isfile(entry["incident_report"]), entry
        assert os.path.dirname(os.path.dirname(entry["incident_report"])) == published["dir"]
    return dict((e["service"], e) for e in doc["services"]), doc


def changed_count(proc):
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost") and "changed=" in line]
    assert recap, proc.stdout[-3000:] + proc.stderr[-3000:]
    return int(recap[-1].split("changed=")[1].split()[0])


@pytest.fixture
def own_demo(tmp_path, prefix, docker_client):
    """A private copy of the demo with only the fault services (+ influxdb) up, torn down afterwards."""
    work = tmp_path / "demo"
    shutil.copytree(DEMO_SRC, work, symlinks=True,
                    ignore=shutil.ignore_patterns("backups", "diagnostics", "logs", "reports"))
    up = compose(work, "up", "-d", "--quiet-pull", *FAULT_SERVICES, project_name=prefix, check=False)
    if up.returncode != 0:
        compose(work, "down", "-v", "-t", "1", project_name=prefix, check=False)
        pytest.fail("demo copy did not come up:\n" + up.stderr[-3000:])
    wait_health(docker_client, prefix, dict((s, "unhealthy") for s in FAULTS))
    yield work, prefix
    compose(work, "down", "-v", "--remove-orphans", "-t", "1", project_name=prefix, check=False)


# --- read-only diagnosis on the shared demo stack --------------------------------------------------

def test_diagnose_classifies_the_three_faults(demo_stack, docker_client, tmp_path):
    wait_health(docker_client, demo_stack.name, dict((s, "unhealthy") for s in FAULTS))
    out = tmp_path / "diag"
    began = int(time.time()) - 1
    result, proc = run_module("homeiq.phase0.health_diagnose", {
        "project_dir": demo_stack.dir, "project_name": demo_stack.name, "output_dir": str(out)}, verbosity=3)
    assert not result.get("failed"), result
    assert result["changed"] is False
    # One measuring exec per container, and it also ran the recommended probe (no second exec):
    # the engine's own exec events, ours told from Docker's healthchecks by the helper's flags.
    ours = {}
    for event in docker_client.events(since=began, until=int(time.time()) + 1, decode=True,
                                      filters={"event": "exec_create"}):
        action = event.get("Action") or event.get("status") or ""
        if " -I -S -c " in action:
            name = event["Actor"]["Attributes"].get("name")
            ours[name] = ours.get(name, 0) + 1
    diagnosed = [d["container"] for d in result["diagnoses"]]
    assert ours and all(ours.get(name) == 1 for name in diagnosed), (ours, diagnosed)
    by_service = dict((d["service"], d) for d in result["diagnoses"])
    for service, fault in FAULTS.items():
        assert by_service[service]["classification"] == fault, by_service[service]

    slow = by_service[SLOW_DNS["service"]]
    lookup = [d for d in slow["measured"]["dns"] if d["name"] == SLOW_DNS["host"]][0]
    assert lookup["seconds"] >= SLOW_DNS["delay_seconds"] * 0.9, lookup
    assert any(SLOW_DNS["host"] in line and ("%.3f s" % lookup["seconds"]) in line for line in slow["evidence"])
    direct = [f for f in slow["measured"]["fetches"] if f["purpose"] == "direct"][0]
    assert direct["status"] == 200 and direct["seconds"] < 1.0
    with open(os.path.join(slow["evidence_dir"], "probe_timings.json")) as handle:
        timings = json.load(handle)
    assert timings["dns"][0]["seconds"] == lookup["seconds"]
    # the recommendation avoids the name, keeps curl, has its own timeout, and passed in the container
    test = slow["recommendation"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "curl"] and "--max-time" in test and test[-1].startswith("http://127.0.0.1:")
    assert slow["recommendation"]["passes"] is True and slow["fixable"] is True

    missing = by_service["device-health-monitor"]
    assert missing["measured"]["probe_binary"]["path"] is None
    assert missing["recommendation"]["healthcheck"]["test"][1] in ("curl", "python3")
    assert missing["measured"]["tools"][missing["recommendation"]["healthcheck"]["test"][1]]

    broken = by_service["data-api"]
    assert broken["recommendation"]["healthcheck"] is None and broken["fixable"] is False
    assert "500" in broken["reason"]

    # evidence files: 0600 in 0700 dirs; no secret anywhere - files, result, -vvv output
    for directory, dirs, files in os.walk(str(out)):
        assert oct(os.stat(directory).st_mode & 0o777) == "0o700", directory
        for name in files:
            assert oct(os.stat(os.path.join(directory, name)).st_mode & 0o777) == "0o600", name
    assert {"inspect.json", "logs.txt", "health_log.json", "stats.json", "probe_timings.json", "connectivity.json",
            "diagnosis.json"} <= set(os.listdir(slow["evidence_dir"]))
    assert grep_tree(str(out), SECRETS) == []
    for secret in SECRETS:
        assert secret not in json.dumps(result)
        assert secret not in proc.stdout and secret not in proc.stderr
    with open(os.path.join(slow["evidence_dir"], "inspect.json")) as handle:
        env = json.load(handle)["Config"]["Env"]
    assert "HA_TOKEN=<redacted>" in env and all(e.endswith("=<redacted>") for e in env if "=" in e)


def test_targets_23_env_values_never_reach_diagnostics(docker_client, prefix, tmp_path):
    """A container whose env holds DB_PASSWORD, a DSN with a password and a short API key, and whose
    log and probe output print them: none of the values appears in the evidence, the result or -vvv."""
    name = prefix + "-leaky"
    env = {"DB_PASSWORD": "hunter2", "DATABASE_URL": "postgres://u:s3cr3t@db/x", "Api_Key": "abc"}
    docker_client.containers.run(
        "phase0-fixture/debian-python:latest", name=name, detach=True, environment=env, network_mode="none",
        labels={"com.docker.compose.project": prefix, "com.docker.compose.service": "leaky"},
        command=["sh", "-c", "echo connecting to $DATABASE_URL as $DB_PASSWORD key=$Api_Key; sleep 600"],
        healthcheck={"test": ["CMD-SHELL", "echo using $DB_PASSWORD $Api_Key; exit 1"], "interval": 1000000000,
                     "timeout": 2000000000, "retries": 1})
    try:
        wait_health(docker_client, prefix, {"leaky": "unhealthy"}, timeout=60)
        out = tmp_path / "diag"
        result, proc = run_module("homeiq.phase0.health_diagnose", {"project_name": prefix, "output_dir": str(out)},
                                  verbosity=3)
        assert result["targets"] == 1 and not result.get("failed"), result
        needles = ["hunter2", "s3cr3t"]
        assert grep_tree(str(out), needles) == []
        dumped = json.dumps(result)
        for needle in needles:
            assert needle not in dumped
            assert needle not in proc.stdout and needle not in proc.stderr
        # `abc` also occurs by chance inside random hex ids (container ids, Ansible task uuids): look
        # for it as a token of its own, the way the secret would appear.
        short = re.compile(r"(?<![0-9A-Za-z])abc(?![0-9A-Za-z])")
        for directory, dummy, files in os.walk(str(out)):
            for filename in files:
                with open(os.path.join(directory, filename), errors="replace") as handle:
                    assert not short.search(handle.read()), filename
        assert not short.search(dumped) and not short.search(proc.stdout) and not short.search(proc.stderr)
        with open(os.path.join(result["diagnoses"][0]["evidence_dir"], "logs.txt")) as handle:
            assert "<redacted:DB_PASSWORD>" in handle.read()  # the log line is kept, the value is not
    finally:
        docker_client.containers.get(name).remove(force=True)


# --- the role: fix, second run, revert ----------------------------------------------------------------

def test_role_fixes_probe_faults_and_second_run_changes_nothing(own_demo, docker_client, tmp_path):
    work, project = own_demo
    compose_file = os.path.join(str(work), "docker-compose.yml")
    with open(compose_file) as handle:
        before = handle.read()
    extra = {"phase0_project_dir": str(work), "phase0_project_name": project, "healthcheck_fix": True,
             "healthcheck_wait_timeout": 90, "healthcheck_watch_seconds": 3, "healthcheck_watch_interval": 1}

    first, published = run_role(tmp_path, extra, verbosity=3)
    assert first.returncode == 0, first.stdout[-5000:] + first.stderr[-2000:]
    health = wait_health(docker_client, project, {"websocket-ingestion": "healthy", "device-health-monitor": "healthy",
                                                  "data-api": "unhealthy"}, timeout=30)
    assert health["data-api"] == "unhealthy"

    with open(compose_file) as handle:
        after = handle.read()
    before_lines, after_lines = before.splitlines(), after.splitlines()
    assert len(before_lines) == len(after_lines)
    changed = [i for i, (a, b) in enumerate(zip(before_lines, after_lines)) if a != b]
    assert len(changed) == 2, changed  # one `test:` line per fixed service, nothing else
    for index in changed:
        assert after_lines[index].strip().startswith("test: ")
        assert before_lines[index - 1].strip() == "healthcheck:"
    doc_before, doc_after = yaml.safe_load(before), yaml.safe_load(after)
    assert doc_after["services"]["data-api"] == doc_before["services"]["data-api"]
    ws_test = doc_after["services"]["websocket-ingestion"]["healthcheck"]["test"]
    assert SLOW_DNS["host"] not in " ".join(ws_test) and "127.0.0.1" in ws_test[-1]
    dh_test = doc_after["services"]["device-health-monitor"]["healthcheck"]["test"]
    assert dh_test[1] != "wget"

    # incident reports from the evidence
    diag_root = os.path.join(str(work), "diagnostics", "healthcheck")
    (run_dir,) = os.listdir(diag_root)

    # summary.json and the published fact: what the orchestrator and the run report read
    assert published["dir"] == os.path.join(diag_root, run_dir), published
    summary, doc = read_summary(published)
    # influxdb is healthy; on a loaded machine a slow probe may still flag it, so the set may be larger
    assert set(FAULTS) <= set(summary) and doc["fix_requested"] is True and doc["changes_allowed"] is True
    assert published["open"] == len(summary) - 2, published
    for service in ("websocket-ingestion", "device-health-monitor"):
        assert summary[service]["classification"] == FAULTS[service]
        assert summary[service]["result"] == "fixed", summary[service]
        new_test = doc_after["services"][service]["healthcheck"]["test"]
        assert summary[service]["action"].startswith("healthcheck test set to %s in %s" % (
            json.dumps(new_test), compose_file)), summary[service]["action"]
    assert SLOW_DNS["host"] in summary["websocket-ingestion"]["evidence_summary"]
    assert summary["data-api"]["result"] == "open" and summary["data-api"]["classification"] == "service_unhealthy"
    assert "no probe change for service_unhealthy" in summary["data-api"]["action"]
    assert "HTTP 500" in summary["data-api"]["evidence_summary"]
    ws_report = open(os.path.join(diag_root, run_dir, "websocket-ingestion", "incident_report.md")).read()
    assert "**probe_timeout_slow_dns**" in ws_report and "| Outcome | fixed |" in ws_report
    assert "first passing probe of" in ws_report and "healthcheck set in" in ws_report
    # the watch window after the fix: several samples over 3 s, all healthy
    watch_line = [line for line in ws_report.splitlines() if "sample(s) over 3 s" in line]
    assert watch_line and "status healthy" in watch_line[0] and watch_line[0].endswith("flaps 0"), ws_report
    assert int(watch_line[0].split(" sample(s)")[0].rsplit(" ", 1)[1]) >= 2
    assert SLOW_DNS["host"] in ws_report and "127.0.0.1" in ws_report
    api_report = open(os.path.join(diag_root, run_dir, "data-api", "incident_report.md")).read()
    assert "**service_unhealthy**" in api_report and "no probe change for service_unhealthy" in api_report
    assert "HTTP 500" in api_report and "| Outcome | no patch |" in api_report
    # each service's backup is the file as it was right before that service's patch (so a revert of one
    # service keeps the other's fix): the first one is the original, byte for byte
    backups = {}
    for service in ("device-health-monitor", "websocket-ingestion"):
        with open(os.path.join(diag_root, run_dir, service, "compose_backup", "docker-compose.yml")) as handle:
            backups[service] = handle.read()
        assert yaml.safe_load(backups[service])["services"][service] == doc_before["services"][service]
    assert before in backups.values()

    # secrets: nowhere under diagnostics/, nowhere in the -vvv output
    assert grep_tree(os.path.join(str(work), "diagnostics"), SECRETS) == []
    for secret in SECRETS:
        assert secret not in first.stdout and secret not in first.stderr

    second, published = run_role(tmp_path, extra)
    assert second.returncode == 0, second.stdout[-4000:]
    assert changed_count(second) == 0
    with open(compose_file) as handle:
        assert handle.read() == after
    # only data-api is still unhealthy, and it stays open
    summary, doc = read_summary(published)
    assert "data-api" in summary and summary["data-api"]["result"] == "open" and published["open"] == len(summary)
    assert "websocket-ingestion" not in summary and "device-health-monitor" not in summary

    # the public playbook runs the same role
    third = run_playbook(PLAYBOOK, extra)
    assert third.returncode == 0 and changed_count(third) == 0, third.stdout[-4000:]


def test_role_without_verified_backup_diagnoses_and_changes_nothing(demo_stack, docker_client, tmp_path):
    """healthcheck_fix on, but the orchestrator found no verified backup (phase0_changes_allowed=false):
    nothing is patched or recreated, and the summary says why for each probe fault."""
    wait_health(docker_client, demo_stack.name, dict((s, "unhealthy") for s in FAULTS))
    compose_file = os.path.join(demo_stack.dir, "docker-compose.yml")
    original = sha256(compose_file)
    ids = dict((s, c.id) for s, (h, c) in container_health(docker_client, demo_stack.name).items())
    base = {"phase0_project_dir": demo_stack.dir, "phase0_project_name": demo_stack.name}

    for case, extra, expected_action in (
            ("blocked", {"healthcheck_fix": True, "phase0_changes_allowed": False}, "not applied: no verified backup"),
            ("off", {}, "not applied: healthcheck_fix is false")):
        proc, published = run_role(tmp_path, dict(base, phase0_output_dir=str(tmp_path / case), **extra))
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert changed_count(proc) == 0
        assert published["dir"].startswith(str(tmp_path / case) + os.sep), published
        summary, doc = read_summary(published)
        # the three faults at least (a healthy service's probe may also time out on a loaded machine)
        assert set(FAULTS) <= set(summary) and published["open"] == len(summary), (published, list(summary))
        for service, fault in FAULTS.items():
            assert summary[service]["classification"] == fault and summary[service]["result"] == "open"
        for service in ("websocket-ingestion", "device-health-monitor"):
            assert summary[service]["action"].startswith(expected_action), summary[service]
            with open(summary[service]["incident_report"], encoding="utf-8") as handle:
                assert "Action: " + summary[service]["action"] in handle.read()
        assert summary["data-api"]["action"].startswith("none: no probe change for service_unhealthy")
    assert sha256(compose_file) == original
    assert ids == dict((s, c.id) for s, (h, c) in container_health(docker_client, demo_stack.name).items())


def test_role_with_nothing_unhealthy_writes_an_empty_summary(demo_stack, tmp_path):
    proc, published = run_role(tmp_path, {"phase0_project_dir": demo_stack.dir, "phase0_project_name": demo_stack.name,
                                          "phase0_output_dir": str(tmp_path / "out"),
                                          "healthcheck_services": ["influxdb"], "healthcheck_fix": True})
    assert proc.returncode == 0, proc.stdout[-4000:]
    summary, doc = read_summary(published)
    assert summary == {} and published["open"] == 0 and doc["services"] == []
    assert oct(os.stat(published["dir"]).st_mode & 0o777) == "0o700"


def test_fix_that_cannot_work_is_reverted(own_demo, docker_client):
    work, project = own_demo
    compose_file = os.path.join(str(work), "docker-compose.yml")
    original = sha256(compose_file)
    old = container_health(docker_client, project)["websocket-ingestion"][1]
    extra = {"phase0_project_dir": str(work), "phase0_project_name": project, "healthcheck_fix": True,
             "healthcheck_services": ["websocket-ingestion"], "healthcheck_wait_timeout": 40,
             "healthcheck_force_tests": {"websocket-ingestion": ["CMD", "curl", "-fsS", "--max-time", "1",
                                                                 "http://127.0.0.1:9/never"]}}
    proc = run_playbook(PLAYBOOK, extra)
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "fix_failed_reverted" in proc.stdout and "websocket-ingestion" in proc.stdout
    assert "original compose file was restored" in proc.stdout
    assert sha256(compose_file) == original

    new = container_health(docker_client, project)["websocket-ingestion"][1]
    assert new.id != old.id, "the service must be recreated from the restored file"
    assert new.attrs["Config"]["Healthcheck"]["Test"] == old.attrs["Config"]["Healthcheck"]["Test"]

    diag_root = os.path.join(str(work), "diagnostics", "healthcheck")
    (run_dir,) = os.listdir(diag_root)
    report = open(os.path.join(diag_root, run_dir, "websocket-ingestion", "incident_report.md")).read()
    assert "| Outcome | fix_failed_reverted |" in report
    assert "original compose file restored" in report
    with open(os.path.join(diag_root, run_dir, "summary.json"), encoding="utf-8") as handle:
        doc = json.load(handle)
    (entry,) = doc["services"]
    assert entry["service"] == "websocket-ingestion" and entry["result"] == "fix_failed_reverted" and doc["open"] == 1
    assert "original compose file was restored" in entry["action"] and "http://127.0.0.1:9/never" in entry["action"]


# --- the editor module against real files and the real compose CLI -----------------------------------

def test_compose_healthcheck_check_mode_include_layout_and_override(tmp_path):
    work = tmp_path / "demo"
    shutil.copytree(DEMO_SRC, work, ignore=shutil.ignore_patterns("backups", "diagnostics", "logs", "reports"))
    domain = os.path.join(str(work), "domains", "ml", "compose.yml")
    before = sha256(domain)
    new_test = ["CMD", "curl", "-fsS", "--max-time", "2", "http://127.0.0.1:8025/health"]
    args = {"project_dir": str(work), "service": "ml-service", "healthcheck": {"test": new_test},
            "backup_dir": str(tmp_path / "backup")}

    check, dummy = run_module("homeiq.phase0.compose_healthcheck", args, check=True, diff=True)
    assert check["changed"] is True and check["file"] == domain and sha256(domain) == before
    assert not os.path.exists(str(tmp_path / "backup"))
    assert check["diff"]["before"] != check["diff"]["after"]

    real, dummy = run_module("homeiq.phase0.compose_healthcheck", args)
    assert real["changed"] is True and real["sha256_after"] == sha256(domain) == check["sha256_after"]
    assert os.stat(real["backup_file"]).st_mode & 0o777 == 0o600
    config = subprocess.run(["docker", "compose", "--project-directory", str(work), "config", "--format", "json"],
                            capture_output=True, text=True, check=True)
    assert json.loads(config.stdout)["services"]["ml-service"]["healthcheck"]["test"] == new_test

    again, dummy = run_module("homeiq.phase0.compose_healthcheck", args)
    assert again["changed"] is False

    # override mode: the project's files stay as they are, compose sees the change through -f
    override = str(tmp_path / "override.yml")
    root_file = os.path.join(str(work), "docker-compose.yml")
    root_before = sha256(root_file)
    other = ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8006/health', "
             "timeout=2)"]
    ov, dummy = run_module("homeiq.phase0.compose_healthcheck", {
        "project_dir": str(work), "service": "data-api", "mode": "override", "override_file": override,
        "healthcheck": {"test": other, "interval": "7s"}})
    assert ov["changed"] is True and sha256(root_file) == root_before
    assert ov["compose_files"][-1] == override
    config = subprocess.run(["docker", "compose", "--project-directory", str(work)]
                            + sum([["-f", f] for f in ov["compose_files"]], []) + ["config", "--format", "json"],
                            capture_output=True, text=True, check=True)
    healthcheck = json.loads(config.stdout)["services"]["data-api"]["healthcheck"]
    assert healthcheck["test"] == other and healthcheck["interval"] == "7s" and healthcheck["timeout"] == "3s"

    reverted, dummy = run_module("homeiq.phase0.compose_healthcheck", {
        "project_dir": str(work), "service": "ml-service", "state": "reverted", "backup_dir": str(tmp_path / "backup")})
    assert reverted["changed"] is True and sha256(domain) == before
