"""Target selection rules and the timeline, without an engine."""
from datetime import datetime, timezone

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.health_diagnosis import (
    _evidence_name,
    health_from_status,
    past_start_period,
    timeline,
)

NOW = datetime(2026, 12, 3, 20, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("status, health", [
    ("Up 5 minutes (healthy)", "healthy"), ("Up 3 seconds (health: starting)", "starting"),
    ("Up 2 hours (unhealthy)", "unhealthy"), ("Up 2 hours", None), ("Exited (1) 3 seconds ago", None), (None, None),
])
def test_health_from_status(status, health):
    assert health_from_status(status) == health


@pytest.mark.parametrize("started, start_period_ns, past", [
    ("2026-12-03T19:59:00Z", 30 * 10 ** 9, True),     # 60 s running, 30 s start period
    ("2026-12-03T19:59:50Z", 30 * 10 ** 9, False),    # 10 s running
    ("2026-12-03T19:59:50Z", 0, True),                # no start period: any time counts
    ("0001-01-01T00:00:00Z", 0, False),               # never started
])
def test_past_start_period(started, start_period_ns, past):
    inspect = {"State": {"StartedAt": started},
               "Config": {"Healthcheck": {"Test": ["CMD", "true"], "StartPeriod": start_period_ns}}}
    assert past_start_period(inspect, NOW) is past


def test_timeline_uses_recorded_times_only():
    facts = {"state": {"started_at": "2026-12-03T19:48:00.000000Z", "failing_streak": 184},
             "health": {"first_failure": {"start": "2026-12-03T19:50:00.000000Z"}, "count": 5},
             "collected_at": "2026-12-03T20:00:00.000000Z"}
    assert timeline(facts) == {"container_started": "2026-12-03T19:48:00.000000Z",
                               "earliest_recorded_failing_probe": "2026-12-03T19:50:00.000000Z",
                               "failing_streak": 184, "recorded_probe_entries": 5,
                               "diagnosed": "2026-12-03T20:00:00.000000Z"}


def test_evidence_names_are_unique_and_safe():
    taken = set()
    assert _evidence_name({"service": "api", "container": "p-api-1", "container_number": "1"}, taken) == "api"
    assert _evidence_name({"service": "api", "container": "p-api-2", "container_number": "2"}, taken) == "api-2"
    assert _evidence_name({"service": None, "container": "../etc"}, taken) == "_etc"
