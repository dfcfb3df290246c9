"""Prefetch: waited-for calls (stats samples) started for every container at once."""
import threading
import time

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils.health_collect import Prefetch


def test_waiting_calls_overlap_instead_of_queueing():
    """40 calls that wait (like stats samples waiting for the collector tick) are all in flight at once:
    each waits at a 40-party barrier, which only opens when every call has started (no timing threshold)."""
    barrier = threading.Barrier(40, timeout=10)

    def call(key):
        barrier.wait()  # raises BrokenBarrierError unless all 40 calls run at the same time
        return key * 2

    prefetch = Prefetch(call, range(40))
    assert [prefetch.get(key, 20) for key in range(40)] == [key * 2 for key in range(40)]


def test_width_bounds_the_calls_in_flight():
    lock, state = threading.Lock(), {"now": 0, "most": 0}

    def call(key):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return key

    prefetch = Prefetch(call, range(20), width=3)
    assert [prefetch.get(k, 10) for k in range(20)] == list(range(20))
    assert state["most"] <= 3


def test_errors_and_timeouts_reach_the_caller():
    def call(key):
        if key == "bad":
            raise ValueError("no such container")
        time.sleep(5)
        return key

    prefetch = Prefetch(call, ["bad", "slow"])
    assert "bad" in prefetch and "other" not in prefetch
    with pytest.raises(ValueError, match="no such container"):
        prefetch.get("bad", 5)
    with pytest.raises(TimeoutError):
        prefetch.get("slow", 0.1)
