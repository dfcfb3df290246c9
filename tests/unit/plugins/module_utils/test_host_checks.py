"""Host readiness checks (pure): measured values in, pass/warn/fail records with fixes out."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import host_checks as hc

T = dict(hc.DEFAULT_THRESHOLDS)
GIB = hc.GIB


@pytest.mark.parametrize("version, status", [
    ("20.10.24+dfsg1", "pass"),
    ("29.1.3", "pass"),
    ("20.10", "pass"),
    ("19.03.15", "fail"),
    (None, "fail"),
])
def test_engine_version(version, status):
    record = hc.engine_version_check({"Version": version}, T)
    assert record["status"] == status
    assert (record["fix"] == "") == (status == "pass")


@pytest.mark.parametrize("api, status", [("1.41", "pass"), ("1.52", "pass"), ("1.40", "fail"), (None, "fail")])
def test_api_version(api, status):
    assert hc.api_version_check({"ApiVersion": api}, T)["status"] == status


@pytest.mark.parametrize("plugin, standalone, status, fix_word", [
    ("2.40.3", None, "pass", ""),
    ("v2.18.0", None, "pass", ""),
    ("2.17.3", None, "fail", "upgrade"),
    (None, "1.29.2", "fail", "Compose v1"),
    (None, "docker-compose version 1.29.2, build 5becea4c", "fail", "Compose v1"),
    (None, "2.20.0", "fail", "cli-plugins"),
    (None, None, "fail", "install the Compose v2 plugin"),
])
def test_compose(plugin, standalone, status, fix_word):
    record = hc.compose_check(plugin, standalone, T)
    assert record["status"] == status
    assert fix_word in record["fix"]


OLD_LS = """NAME/NODE DRIVER/ENDPOINT STATUS  BUILDKIT PLATFORMS
default * docker
  default default         running 20.10.24 linux/amd64, linux/386
"""
NEW_LS = """NAME/NODE     DRIVER/ENDPOINT   STATUS    BUILDKIT   PLATFORMS
default*      docker
 \\_ default    \\_ default       running   v0.13.2    linux/amd64
mybuilder     docker-container
 \\_ mybuilder0 \\_ unix:///var/run/docker.sock inactive
"""


@pytest.mark.parametrize("text, expected", [
    (OLD_LS, [("default", "running", "20.10.24")]),
    (NEW_LS, [("default", "running", "v0.13.2"), ("mybuilder0", "inactive", "")]),
    ("", []),
])
def test_parse_buildx_ls(text, expected):
    assert [(n["name"], n["status"], n["buildkit"]) for n in hc.parse_buildx_ls(text)] == expected


@pytest.mark.parametrize("version_out, version_err, ls_out, ls_err, statuses", [
    ("github.com/docker/buildx v0.13.2 abc\n", None, NEW_LS, None, ("pass", "pass")),
    (None, "docker: unknown command: docker buildx", None, None, ("warn", "warn")),
    ("github.com/docker/buildx v0.13.2 abc\n", None, None, "Cannot connect", ("pass", "warn")),
    ("github.com/docker/buildx v0.13.2 abc\n", None, "NAME/NODE DRIVER STATUS\nb docker-container\n  b0 x error\n", None,
     ("pass", "warn")),
])
def test_buildx(version_out, version_err, ls_out, ls_err, statuses):
    present, kit = hc.buildx_checks(version_out, version_err, ls_out, ls_err)
    assert (present["status"], kit["status"]) == statuses


def test_buildx_severity_can_be_raised():
    present, kit = hc.buildx_checks(None, "missing", None, None, {"buildx": "fail"})
    assert present["status"] == "fail" and kit["status"] == "warn"


@pytest.mark.parametrize("engine, minimum, severity, status", [
    (24 * GIB, 16, None, "pass"),
    (int(15.7 * GIB), 16, None, "pass"),  # "16 GB" machines report slightly less
    (8 * GIB, 16, None, "warn"),
    (8 * GIB, 16, {"memory": "fail"}, "fail"),
    (None, 16, None, "warn"),
])
def test_memory(engine, minimum, severity, status):
    record = hc.memory_check(engine, 32 * GIB, dict(T, min_memory_gb=minimum), severity)
    assert record["status"] == status
    assert "host 32.0 GiB" in record["value"]


def test_memory_fix_names_docker_desktop():
    record = hc.memory_check(4 * GIB, 32 * GIB, T, desktop=True)
    assert "Docker Desktop" in record["fix"]


@pytest.mark.parametrize("cpus, severity, status", [(8, None, "pass"), (2, None, "warn"), (2, {"cpus": "fail"}, "fail")])
def test_cpus(cpus, severity, status):
    assert hc.cpu_check(cpus, 8, T, severity)["status"] == status


@pytest.mark.parametrize("free, volumes, status", [
    (100 * GIB, 0, "pass"),
    (40 * GIB, 0, "fail"),
    (60 * GIB, 70 * GIB, "fail"),   # the volumes need more than the fixed threshold
    (None, 0, "fail"),
])
def test_disk(free, volumes, status):
    record = hc.disk_check("disk_data_root", "x", "/var/lib/docker", free, volumes, T, "free space")
    assert record["status"] == status
    if status == "fail":
        assert record["fix"] == "free space"


def test_daemon_slow_and_missing():
    assert hc.daemon_check(5.0, 12.0, T)["status"] == "pass"
    assert hc.daemon_check(5.0, 3000.0, T)["status"] == "fail"
    assert hc.daemon_check(None, None, T)["status"] == "fail"


def test_engine_unreachable_is_one_failure_with_the_message():
    record = hc.engine_unreachable("unix:///x.sock", "no Docker engine answers at unix:///x.sock")
    assert record["status"] == "fail" and "unix:///x.sock" in record["fix"]


def test_runtime_checks():
    rows = [
        {"service": "a", "runtime": "python", "version": "3.11.2", "status": "OK"},
        {"service": "old", "runtime": "python", "version": "3.9.2", "status": "NEEDS_UPGRADE"},
        {"service": "ui", "runtime": "node", "version": "18.19.0", "status": "OK"},
        {"service": "hung", "runtime": "unknown", "version": None, "status": "UNKNOWN", "note": "timed out"},
    ]
    python, node, probe = hc.runtime_checks(rows, {"python": "3.10", "node": "18"})
    assert python["status"] == "warn" and "old 3.9.2" in python["value"]
    assert node["status"] == "pass" and "18.19.0" in node["value"]
    assert probe["status"] == "warn" and "hung (timed out)" in probe["value"]
    assert hc.runtime_checks([], {"python": "3.10", "node": "18"})[1]["value"] == "no node container found"


def test_cpu_percent_like_docker_stats():
    first = {"cpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000}}
    second = {"cpu_stats": {"cpu_usage": {"total_usage": 150}, "system_cpu_usage": 1200, "online_cpus": 2}}
    assert hc.cpu_percent(first, second) == 50.0
    assert hc.cpu_percent({"cpu_stats": {}}, second) is None


@pytest.mark.parametrize("memory_stats, expected", [
    ({"usage": 1000, "limit": 4000, "stats": {"total_inactive_file": 200}}, (800, 4000, 20.0)),
    ({"usage": 1000, "limit": 4000, "stats": {"inactive_file": 500}}, (500, 4000, 12.5)),
    ({}, (None, None, None)),
])
def test_memory_usage(memory_stats, expected):
    assert hc.memory_usage({"memory_stats": memory_stats}) == expected


def test_summarize_checks():
    checks = [{"status": "pass"}, {"status": "warn"}]
    assert hc.summarize_checks(checks) == ({"pass": 1, "warn": 1, "fail": 0}, "warn")
    assert hc.summarize_checks(checks + [{"status": "fail"}])[1] == "fail"
    assert hc.summarize_checks([])[1] == "pass"


@pytest.mark.parametrize("text, expected", [("20.10.24+dfsg1", "20.10.24"), ("v2.40.3", "2.40.3"), ("x", None)])
def test_clean_version(text, expected):
    assert hc.clean_version(text) == expected


def test_ordered_puts_engine_first_and_unknown_last():
    checks = [{"id": "zzz"}, {"id": "memory"}, {"id": "engine_version"}, {"id": "compose_plugin"}]
    assert [c["id"] for c in hc.ordered(checks)] == ["engine_version", "compose_plugin", "memory", "zzz"]
