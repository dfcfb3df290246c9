"""The monitor agent against the real engine and the demo stack (2 s interval)."""
import collections
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from helpers import run_module
from monitor_helpers import DASHBOARD, agent_env, read_jsonl, start_agent, stop_agent, wait_for

pytestmark = pytest.mark.integration

UNHEALTHY_SERVICE = "websocket-ingestion"


@pytest.fixture(scope="module")
def agent(demo_stack, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("monitor")
    containers = demo_stack.compose("ps", "-a", "--format", "{{.Name}}").stdout.split()
    assert containers, "demo stack has no containers"
    proc, config = start_agent(tmp, demo_stack.name, interval=2)
    started = time.monotonic()
    yield {"proc": proc, "config": config, "tmp": tmp, "containers": set(containers), "started": started,
           "health": os.path.join(config["log_dir"], "health"), "errors": os.path.join(config["log_dir"], "errors")}
    stop_agent(proc)


def test_health_and_resource_lines_for_every_container_within_10s(agent):
    health = os.path.join(agent["health"], "health.jsonl")
    resources = os.path.join(agent["health"], "resources.jsonl")

    def covered():
        return (agent["containers"] <= {r.get("container") for r in read_jsonl(health)}
                and agent["containers"] <= {r.get("container") for r in read_jsonl(resources)})

    assert wait_for(covered, timeout=max(0.5, 10 - (time.monotonic() - agent["started"]))), (
        "missing after 10 s: %s" % (agent["containers"] - {r.get("container") for r in read_jsonl(health)}))
    record = wait_for(lambda: [r for r in read_jsonl(resources) if r.get("cpu_percent") is not None], timeout=15)
    assert record, "no CPU % computed from two samples"
    assert all(r["mem_bytes"] > 0 for r in record)
    assert agent["proc"].poll() is None


def test_unhealthy_demo_service_shows_unhealthy(agent):
    health = os.path.join(agent["health"], "health.jsonl")

    def unhealthy():
        return [r for r in read_jsonl(health) if r.get("service") == UNHEALTHY_SERVICE and r["health"] == "unhealthy"]

    rows = wait_for(unhealthy, timeout=90, step=1)
    assert rows, "websocket-ingestion never reported unhealthy"
    status = json.load(open(os.path.join(agent["health"], "status.json")))
    assert {s["service"]: s["health"] for s in status["services"]}[UNHEALTHY_SERVICE] in ("unhealthy", "starting")


def test_error_lines_are_reported_once(agent):
    errors = os.path.join(agent["errors"], "errors.jsonl")
    assert wait_for(lambda: [r for r in read_jsonl(errors) if "ERROR" in r["line"]], timeout=90, step=1), \
        "no ERROR line from a demo container reached errors.jsonl"
    samples_then = json.load(open(os.path.join(agent["health"], "status.json")))["samples"]
    wait_for(lambda: json.load(open(os.path.join(agent["health"], "status.json")))["samples"] >= samples_then + 3,
             timeout=30)
    records = read_jsonl(errors)
    keys = collections.Counter((r["container"], r["ts"], r["line"]) for r in records)
    assert [k for k, n in keys.items() if n > 1] == []
    assert all(set(r) >= {"container", "ts", "line", "service"} for r in records)


def test_status_page_and_dashboard_frame(agent):
    page = open(os.path.join(agent["health"], "status.html")).read()
    for name in agent["containers"]:
        assert name in page
    assert "<svg" in page and 'http-equiv="refresh"' in page and "http://" not in page.split("<body>")[0]
    out = subprocess.run([sys.executable, DASHBOARD, "--once", "--width", "200", "--status",
                          os.path.join(agent["health"], "status.json")],
                         capture_output=True, check=False, text=True, env=agent_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("│")]
    assert {name for name in agent["containers"] if any(name in row for row in rows)} == agent["containers"]
    assert any(UNHEALTHY_SERVICE in row and ("unhealthy" in row or "starting" in row) for row in rows)


def test_aggregate_errors_writes_summary(agent):
    assert wait_for(lambda: read_jsonl(os.path.join(agent["errors"], "errors.jsonl")), timeout=90, step=1)
    result, proc = run_module("homeiq.phase0.aggregate_errors", {"log_dir": agent["config"]["log_dir"]})
    assert not result.get("failed"), result
    assert result["total"] >= 1 and os.path.isfile(result["path"])
    text = open(result["path"]).read()
    assert result["containers"][0]["container"] in text and "ERROR" in text
    check, dummy = run_module("homeiq.phase0.aggregate_errors", {"log_dir": agent["config"]["log_dir"],
                                                                 "window": 1}, check=True)
    assert not os.path.exists(check["path"]) or check["path"] == result["path"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not CHROMIUM, reason="Debian's chromium package is not installed (apt-get install -y chromium)")
def test_status_html_in_headless_chromium(agent, tmp_path):
    page = os.path.join(agent["health"], "status.html")
    assert wait_for(lambda: os.path.exists(page), timeout=10)
    out_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "output", "monitoring")
    os.makedirs(out_dir, exist_ok=True)
    shot = os.path.join(out_dir, "status_html.png")
    copy = str(tmp_path / "status.html")
    shutil.copy(page, copy)  # a stable copy: the agent rewrites the page every 2 s
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--user-data-dir=%s" % (tmp_path / "profile"), "--window-size=1600,1000",
           "--screenshot=%s" % shot, "--dump-dom", "file://" + copy]
    proc = subprocess.run(cmd, capture_output=True, check=False, text=True, timeout=120)
    dom = proc.stdout
    assert 'id="services"' in dom, proc.stderr[-2000:]
    rows = [name for name in agent["containers"] if 'data-service' in dom and name in dom]
    assert set(rows) == agent["containers"]
    assert "<polyline" in dom or 'class="chart"' in dom
    assert os.path.getsize(shot) > 1000
