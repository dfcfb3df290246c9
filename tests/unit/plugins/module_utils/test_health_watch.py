"""Watching after a fix: flaps and the time a container first became healthy."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.health_watch import count_flaps, first_healthy_at


@pytest.mark.parametrize("statuses, flaps", [
    ([], 0),
    (["starting", "healthy", "healthy"], 0),
    (["healthy", "unhealthy", "healthy"], 1),
    (["healthy", "unhealthy", "healthy", "starting", "healthy"], 2),
    (["unhealthy", "unhealthy"], 0),
    (["healthy", "missing"], 1),
])
def test_count_flaps(statuses, flaps):
    assert count_flaps(statuses) == flaps


def test_first_healthy_at_ignores_probes_before_the_start():
    entries = [{"kind": "ok", "end": "2026-12-03T19:00:00.000000Z"},
               {"kind": "timeout", "end": "2026-12-03T19:10:05.000000Z"},
               {"kind": "ok", "end": "2026-12-03T19:10:10.000000Z"}]
    assert first_healthy_at(entries, "2026-12-03T19:10:00.000000Z") == "2026-12-03T19:10:10.000000Z"
    assert first_healthy_at(entries[:2], "2026-12-03T19:10:00.000000Z") is None
    assert first_healthy_at([], None) is None
