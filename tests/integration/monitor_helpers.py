"""Shared bits of the monitoring integration tests: run the agent from the checkout."""
import json
import os
import subprocess
import sys
import time

from helpers import ROOT

AGENT = os.path.join(ROOT, "roles", "monitoring", "files", "phase0_monitor.py")
DASHBOARD = os.path.join(ROOT, "roles", "monitoring", "files", "phase0_dashboard.py")


def agent_env(docker_host=None):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    return env


def start_agent(tmp_path, project, interval=2, docker_host=None, **extra):
    """Start the agent in the foreground mode as a child process; returns (proc, config dict)."""
    config = dict(project=project, interval=interval, log_dir=str(tmp_path / "logs" / "phase0"),
                  run_dir=str(tmp_path / "run"), docker_host=docker_host, **extra)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    log = open(str(tmp_path / "agent.log"), "ab")
    proc = subprocess.Popen([sys.executable, AGENT, "--config", str(path)], stdout=log, stderr=log,
                            env=agent_env(docker_host))
    return proc, config


def stop_agent(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def read_jsonl(path):
    try:
        with open(path) as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def wait_for(predicate, timeout, step=0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()
