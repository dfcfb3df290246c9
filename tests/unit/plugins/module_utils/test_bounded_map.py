"""bounded_map: one outcome per item, in order, errors captured, at most `workers` at once; and no
Docker SDK import on the way (verification code uses it without a client)."""
import os
import subprocess
import sys
import threading
import time

from ansible_collections.homeiq.phase0.plugins.module_utils.bounded_map import bounded_map


def test_bounded_map_keeps_order_and_captures_errors():
    def fn(n):
        time.sleep(0.01 * (5 - n))  # later items finish first
        if n == 3:
            raise ValueError("three")
        return n * 10

    outcomes = bounded_map(fn, range(6), workers=4)
    assert [o.item for o in outcomes] == list(range(6))
    assert [o.value for o in outcomes] == [0, 10, 20, None, 40, 50]
    assert [o.ok for o in outcomes] == [True, True, True, False, True, True]
    assert isinstance(outcomes[3].error, ValueError)


def test_bounded_map_respects_the_bound():
    active, peak, lock = [0], [0], threading.Lock()

    def fn(dummy):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1

    bounded_map(fn, range(20), workers=3)
    assert peak[0] == 3


def test_bounded_map_empty():
    assert bounded_map(lambda x: x, []) == []


def test_importing_it_does_not_import_the_docker_sdk():
    code = ("import sys; from ansible_collections.homeiq.phase0.plugins.module_utils import archive_verify; "
            "print('docker' in sys.modules, 'requests' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, check=True,
                         env=dict(os.environ, PYTHONPATH=":".join(sys.path))).stdout
    assert out.split() == [b"False", b"False"]
