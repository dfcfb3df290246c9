"""Unit tests for monitor_agent's decision table (what to do for a wanted state)."""
import pytest

from ansible_collections.homeiq.phase0.plugins.modules.monitor_agent import decide


@pytest.mark.parametrize("state, restart, running, pid_file, action", [
    ("started", False, True, True, "none"),
    ("started", True, True, True, "restarted"),
    ("started", False, False, False, "started"),
    ("started", False, False, True, "started"),     # stale pid file: replaced, its process untouched
    ("stopped", False, True, True, "stopped"),
    ("stopped", False, False, True, "cleaned"),
    ("stopped", False, False, False, "none"),
])
def test_decide(state, restart, running, pid_file, action):
    assert decide(state, restart, running, pid_file) == action
