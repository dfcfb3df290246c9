"""The demo stack on the real engine shows the health states, faults and data the phase 0 jobs work on.

Reads the expectations from tests/fixtures/demo/expected.json, so the stack, its README and these
tests describe one thing. Nothing is mocked: containers, health logs and volumes are the engine's.
"""
import json
import os
import time

import pytest

from helpers import DEMO_SRC, wait_for

pytestmark = pytest.mark.integration

with open(os.path.join(DEMO_SRC, "expected.json"), encoding="utf-8") as _handle:
    EXPECTED = json.load(_handle)
SERVICES = EXPECTED["services"]
STEADY_TIMEOUT = 75  # the stack settles in about 25 s on two cores; generous for a loaded CI machine


def read_env_file(path):
    values = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key] = value
    return values


def containers_by_service(docker_client, project):
    found = docker_client.containers.list(
        all=True, filters={"label": "com.docker.compose.project=%s" % project})
    return {c.labels["com.docker.compose.service"]: c for c in found}


def health_of(container):
    container.reload()
    return (container.attrs["State"].get("Health") or {}).get("Status", "none")


def exec_out(container, cmd):
    code, output = container.exec_run(cmd, demux=False)
    return code, output.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def demo(demo_stack, docker_client):
    """The demo stack once every service has reached the health state expected.json names."""
    started = time.monotonic()

    def settled():
        containers = containers_by_service(docker_client, demo_stack.name)
        states = {name: health_of(c) for name, c in containers.items()}
        wanted = {name: spec["health"] for name, spec in SERVICES.items()}
        return containers if states == wanted else None

    containers = wait_for(settled, STEADY_TIMEOUT, "the demo stack's steady health states")
    print("demo stack %s steady after %.1f s" % (demo_stack.name, time.monotonic() - started))
    return containers


def health_log(container):
    container.reload()
    return container.attrs["State"]["Health"]["Log"]


def test_every_service_runs_from_a_local_fixture_image(demo, demo_stack):
    assert set(demo) == set(SERVICES)
    assert len(demo) >= 8
    for name, container in demo.items():
        assert container.status == "running", name
        assert container.attrs["Config"]["Image"] == SERVICES[name]["image"], name
    # ml-service comes from the included domains/ml/compose.yml: same project, and its relative
    # paths resolved against that file's directory (../../app is the stack's app directory).
    ml = demo["ml-service"]
    assert ml.labels["com.docker.compose.project"] == demo_stack.name
    app = {m["Destination"]: m for m in ml.attrs["Mounts"]}["/app"]
    assert app["Source"] == os.path.join(demo_stack.dir, "app") and app["RW"] is False


def test_healthy_and_unhealthy_services_are_the_expected_ones(demo):
    states = {name: health_of(c) for name, c in demo.items()}
    assert {n for n, s in states.items() if s == "unhealthy"} == {
        "websocket-ingestion", "device-health-monitor", "data-api"}
    assert {n for n, s in states.items() if s == "healthy"} == {
        n for n, spec in SERVICES.items() if spec["health"] == "healthy"}


def test_websocket_probe_times_out_while_the_service_answers_in_milliseconds(demo):
    ws = demo["websocket-ingestion"]
    entries = health_log(ws)
    timeouts = [e for e in entries if e["Output"].startswith("Health check exceeded timeout")]
    assert timeouts, entries
    assert all(e["ExitCode"] == -1 for e in timeouts)

    # The service itself is fine: by address, /health answers 200 far below the 3 s probe timeout.
    code, out = exec_out(ws, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                              "http://127.0.0.1:8001/health"])
    assert code == 0, out
    status, seconds = out.split()
    assert status == "200"
    assert float(seconds) < 0.5

    # The probe's host name is what is slow: resolving it takes the configured DNS delay.
    slow = EXPECTED["slow_dns"]
    started = time.monotonic()
    code, out = exec_out(ws, ["getent", "ahostsv4", slow["host"]])
    elapsed = time.monotonic() - started
    assert code == 0 and "127.0.0.1" in out, out
    assert slow["delay_seconds"] - 1 <= elapsed <= slow["delay_seconds"] + 3


def test_device_health_probe_points_at_a_missing_binary(demo):
    entries = health_log(demo["device-health-monitor"])
    assert entries
    for entry in entries:
        assert "OCI runtime exec failed" in entry["Output"], entry
        assert '"wget": executable file not found' in entry["Output"], entry
        assert entry["ExitCode"] != 0


def test_data_api_health_really_returns_http_500(demo):
    data_api = demo["data-api"]
    entries = health_log(data_api)
    assert entries
    for entry in entries:
        # curl -f turns HTTP >= 400 into exit code 22 and says so.
        assert entry["ExitCode"] == 22, entry
        assert "(22)" in entry["Output"] and "500" in entry["Output"], entry
    code, out = exec_out(data_api, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                    "http://localhost:8006/health"])
    assert (code, out) == (0, "500")


def sqlite_rows(container):
    code, out = exec_out(container, [
        "python3", "-c",
        "import sqlite3; c = sqlite3.connect('/data/events.db', timeout=5); "
        "print(c.execute('PRAGMA journal_mode').fetchone()[0], c.execute('SELECT max(id) FROM events').fetchone()[0])"])
    assert code == 0, out
    mode, max_id = out.split()
    return mode, int(max_id)


def test_sqlite_writer_commits_continuously_in_wal_mode(demo):
    writer = demo["sqlite-writer"]
    mode, first = sqlite_rows(writer)
    assert mode == "wal"
    # A commit every ~50 ms: within a few seconds at least 10 more rows are there.
    wait_for(lambda: sqlite_rows(writer)[1] >= first + 10, 10, "10 new rows in events")
    code, out = exec_out(writer, ["sh", "-c", "ls /data"])
    assert "events.db-wal" in out.split(), out


def newest_shard(container):
    code, out = exec_out(container, [
        "sh", "-c", "cd /var/lib/influxdb2/engine/data && ls | grep -c '\\.tsm$' && stat -c %Y *.tsm | sort -n | tail -1"])
    assert code == 0, out
    count, mtime = out.split()
    return int(count), int(mtime)


def test_influxdb_keeps_writing_files_to_its_volume(demo, demo_stack):
    influx = demo["influxdb"]
    volumes = {m["Destination"]: m for m in influx.attrs["Mounts"] if m["Type"] == "volume"}
    assert volumes["/var/lib/influxdb2"]["Name"] == "%s_influxdb_data" % demo_stack.name
    count, newest = newest_shard(influx)
    assert count >= 1
    wait_for(lambda: newest_shard(influx)[1] > newest, 5, "a newer shard file")


def test_every_named_volume_exists_and_is_mounted_by_its_services(demo, demo_stack, docker_client):
    assert len(EXPECTED["volumes"]) >= 6
    present = {v.name for v in docker_client.volumes.list(
        filters={"label": "com.docker.compose.project=%s" % demo_stack.name})}
    for volume, users in EXPECTED["volumes"].items():
        full = "%s_%s" % (demo_stack.name, volume)
        assert full in present, full
        for service in users:
            names = {m.get("Name") for m in demo[service].attrs["Mounts"]}
            assert full in names, (service, full)
    # The volume of the service from the included file holds data, not just a directory.
    code, out = exec_out(demo["ml-service"], ["stat", "-c", "%s", "/models/model.bin"])
    assert (code, out.strip()) == (0, "262144")


def test_config_directory_is_bind_mounted_read_only(demo, demo_stack):
    admin = demo["admin-api"]
    mounts = {m["Destination"]: m for m in admin.attrs["Mounts"]}
    config = mounts["/config"]
    assert config["Type"] == "bind" and config["RW"] is False
    assert config["Source"] == os.path.join(demo_stack.dir, "config")
    code, out = exec_out(admin, ["ls", "/config"])
    assert set(out.split()) >= {"homeiq.yaml", "logging.ini"}
    code, out = exec_out(admin, ["touch", "/config/x"])
    assert code != 0 and "Read-only file system" in out


def test_fake_secrets_reach_the_container_environment(demo, demo_stack):
    env_file = read_env_file(os.path.join(demo_stack.dir, ".env"))
    assert env_file["HA_TOKEN"] == "demo-secret-token-do-not-leak"
    for key, services in EXPECTED["secrets"].items():
        for service in services:
            assert "%s=%s" % (key, env_file[key]) in demo[service].attrs["Config"]["Env"], (service, key)


@pytest.mark.parametrize("service", sorted(s for s, spec in SERVICES.items() if "runtime" in spec))
def test_runtimes_have_the_expected_versions(demo, service):
    runtime, version = SERVICES[service]["runtime"].split()
    cmd = ["python3", "--version"] if runtime == "python" else ["node", "--version"]
    code, out = exec_out(demo[service], cmd)
    assert code == 0, out
    reported = out.strip().replace("Python ", "").lstrip("v")
    assert reported == version or reported.startswith(version + "."), (service, out)


def test_some_services_log_error_lines(demo):
    def errors():
        return {name for name in EXPECTED["error_log_services"]
                if b" ERROR " in demo[name].logs(tail=200)}
    wanted = set(EXPECTED["error_log_services"])
    wait_for(lambda: errors() == wanted, 30, "ERROR lines in %s" % sorted(wanted))
