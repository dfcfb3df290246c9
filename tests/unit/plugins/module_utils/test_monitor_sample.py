"""Unit tests for monitor_sample: CPU %, memory and records from inspect/stats documents."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_sample as ms


def stats(total, system, online=2, usage=None, detail=None, limit=1000):
    doc = {"cpu_stats": {"cpu_usage": {"total_usage": total}, "system_cpu_usage": system, "online_cpus": online}}
    if usage is not None:
        doc["memory_stats"] = {"usage": usage, "limit": limit, "stats": detail or {}}
    return doc


@pytest.mark.parametrize("prev, cur, expected", [
    (None, (10, 100, 2), None),                      # first sample: no rate yet
    ((0, 0, 2), (50, 100, 2), 100.0),                # half the system time on 2 CPUs = one core
    ((0, 0, 4), (25, 100, 4), 100.0),
    ((100, 1000, 2), (110, 2000, 2), 2.0),
    ((100, 1000, 2), (50, 2000, 2), None),           # counters reset: container restarted
    ((100, 1000, 2), (200, 1000, 2), None),          # no system time passed
])
def test_cpu_percent(prev, cur, expected):
    assert ms.cpu_percent(prev, cur) == expected


@pytest.mark.parametrize("doc, expected", [
    (stats(5, 10), (5, 10, 2)),
    ({"cpu_stats": {"cpu_usage": {"total_usage": 5, "percpu_usage": [1, 2, 3]}, "system_cpu_usage": 9}}, (5, 9, 3)),
    ({"cpu_stats": {}}, None),
    (None, None),
])
def test_cpu_counters(doc, expected):
    assert ms.cpu_counters(doc) == expected


@pytest.mark.parametrize("detail, expected", [
    ({}, 500),
    ({"cache": 100}, 400),                       # cgroup v1
    ({"total_inactive_file": 50, "cache": 100}, 450),
    ({"inactive_file": 200}, 300),               # cgroup v2
    ({"inactive_file": 900}, 500),               # nonsense bigger than usage: ignored
])
def test_memory_usage(detail, expected):
    assert ms.memory_usage(stats(0, 0, usage=500, detail=detail)) == (expected, 1000)


def test_memory_usage_without_stats():
    assert ms.memory_usage({}) == (None, None)


INSPECT = {
    "Id": "abcdef0123456789", "Name": "/demo-ws-1", "RestartCount": 3,
    "Config": {"Labels": {"com.docker.compose.service": "ws"}},
    "State": {"Status": "running", "Running": True, "ExitCode": 0, "StartedAt": "2026-01-01T00:00:00Z",
              "Health": {"Status": "unhealthy", "FailingStreak": 4, "Log": [{"ExitCode": 1}]}},
}


def test_health_record():
    rec = ms.health_record("T", INSPECT)
    assert rec["container"] == "demo-ws-1" and rec["service"] == "ws" and rec["id"] == "abcdef012345"
    assert (rec["state"], rec["health"], rec["restarts"]) == ("running", "unhealthy", 3)
    assert rec["failing_streak"] == 4 and rec["last_probe_exit"] == 1


def test_health_record_without_healthcheck_or_labels():
    rec = ms.health_record("T", {"Id": "x" * 64, "Name": "/solo", "State": {"Status": "exited", "ExitCode": 2}})
    assert (rec["service"], rec["health"], rec["state"], rec["exit_code"]) == ("solo", "none", "exited", 2)


def test_resource_record_carries_counters_forward():
    first, counters = ms.resource_record("T1", INSPECT, stats(0, 0, usage=400, limit=800), None)
    assert first["cpu_percent"] is None and first["mem_bytes"] == 400 and first["mem_percent"] == 50.0
    second, dummy = ms.resource_record("T2", INSPECT, stats(50, 100, usage=400, limit=800), counters)
    assert second["cpu_percent"] == 100.0


def test_resource_record_of_stopped_container():
    rec, counters = ms.resource_record("T", INSPECT, None, None)
    assert rec["cpu_percent"] is None and rec["mem_bytes"] is None and counters is None


@pytest.mark.parametrize("value, text", [(None, "-"), (512, "512B"), (1536, "1.5KiB"), (3 * 1024 ** 3, "3.0GiB")])
def test_human_bytes(value, text):
    assert ms.human_bytes(value) == text


def test_utc_now_iso_shape():
    import re
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", ms.utc_now_iso())
