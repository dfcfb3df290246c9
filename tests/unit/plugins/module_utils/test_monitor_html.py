"""Unit tests for monitor_html: the self-contained status page and sparklines."""
import re

import pytest

from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_html as mh

STATUS = {
    "project": "demo", "last_sample": "T", "samples": 3, "errors": 1, "interval": 60, "engine_connected": True,
    "gaps": [{"from": "A", "to": "B", "seconds": 4.2}],
    "services": [
        {"service": "ws", "container": "demo-ws-1", "state": "running", "health": "unhealthy", "restarts": 2,
         "cpu_percent": 1.5, "mem_bytes": 2048,
         "history": [{"ts": "t1", "state": "running", "health": "starting", "cpu": None, "mem": 1000},
                     {"ts": "t2", "state": "running", "health": "unhealthy", "cpu": 1.5, "mem": 2048}]},
        {"service": "<db>", "container": "demo-db-1", "state": "exited", "health": "none", "restarts": 0,
         "cpu_percent": None, "mem_bytes": None, "history": []},
    ],
    "recent_errors": [{"ts": "t2", "container": "demo-ws-1", "line": "ERROR <script>alert(1)</script>"}],
}


def test_page_is_self_contained_and_escaped():
    page = mh.render_status_html(STATUS, refresh_seconds=30)
    assert '<meta http-equiv="refresh" content="30">' in page
    assert not re.search(r"(src|href)=\"?https?:", page)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count('<tr class="service"') == 2 and 'data-service="&lt;db&gt;"' in page
    assert "<polyline" in page and page.count('class="timeline"') == 2
    assert "4.2 s" in page


@pytest.mark.parametrize("state, health, colour", [
    ("running", "healthy", mh.HEALTH_COLOURS["healthy"]),
    ("running", "unhealthy", mh.HEALTH_COLOURS["unhealthy"]),
    ("running", None, mh.HEALTH_COLOURS["none"]),
    ("exited", "healthy", mh.HEALTH_COLOURS["down"]),
])
def test_health_colour(state, health, colour):
    assert mh.health_colour(state, health) == colour


@pytest.mark.parametrize("values, expected", [
    ([], ""), ([None, None], "  "), ([0, 1], "▁█"), ([1, None, 1], "█ █"),
])
def test_sparkline(values, expected):
    assert mh.sparkline(values) == expected


def test_sparkline_keeps_last_width_values():
    assert len(mh.sparkline(range(100), width=10)) == 10


def test_line_chart_without_points_is_empty_svg():
    assert "<polyline" not in mh.svg_line_chart([None, None])
