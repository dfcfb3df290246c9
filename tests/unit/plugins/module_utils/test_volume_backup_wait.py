"""wait_healthy: a container that was healthy before the backup may read unhealthy for a moment after
its restart (a probe timed out on a busy host); it is waited out until the timeout, not failed at once."""
import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.volume_backup_engine import wait_healthy


class SequenceApi:
    """inspect_container answers the given health states in turn, then repeats the last one."""

    def __init__(self, healths):
        self.healths = list(healths)

    def inspect_container(self, container_id):
        health = self.healths.pop(0) if len(self.healths) > 1 else self.healths[0]
        return {"State": {"Running": True, "Status": "running", "Health": {"Status": health}}}


@pytest.mark.parametrize("healths, recover, timeout, expected", [
    (["starting", "healthy"], False, 5, "healthy"),
    (["starting", "unhealthy", "healthy"], False, 5, "unhealthy"),
    (["starting", "unhealthy", "unhealthy", "healthy"], True, 5, "healthy"),
    (["unhealthy"], True, 0.05, "unhealthy"),
    (["starting"], True, 0.05, "timeout"),
])
def test_wait_healthy(healths, recover, timeout, expected):
    outcome = wait_healthy(SequenceApi(healths), "c1", timeout, poll=0.01, recover=recover)
    assert outcome["status"] == expected
