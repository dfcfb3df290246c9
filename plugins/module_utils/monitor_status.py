# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the installed agent keeps its files, and whether it really runs (stdlib only).

Layout of an install dir: phase0_monitor.py, phase0_dashboard.py, lib/ (the monitor_* module
utils), config.json, run/agent.pid (process mode), run/cursors.json, run/agent.log.
"""
from __future__ import annotations

import calendar
import datetime
import json
import os
import time

from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_process as mproc

AGENT_FILE = "phase0_monitor.py"
CONFIG_FILE = "config.json"


def install_paths(install_dir):
    """The agent's paths inside an install dir."""
    run_dir = os.path.join(install_dir, "run")
    return {
        "agent": os.path.join(install_dir, AGENT_FILE),
        "config": os.path.join(install_dir, CONFIG_FILE),
        "run_dir": run_dir,
        "pid_file": os.path.join(run_dir, "agent.pid"),
        "agent_log": os.path.join(run_dir, "agent.log"),
    }


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def systemd_is_pid1(proc="/proc"):
    try:
        with open(proc + "/1/comm") as handle:
            return handle.read().strip() == "systemd"
    except OSError:
        return False


def has_docker_sdk():
    try:
        import docker  # noqa: F401 pylint: disable=unused-import
    except ImportError:
        return False
    return True


def _iso(epoch):
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(iso):
    try:
        return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))
    except (TypeError, ValueError):
        return None


def worker_problem(pid, config_path, proc="/proc"):
    """None when pid runs phase0_monitor.py with our config (systemd mode has no pid file)."""
    cmdline = mproc.proc_cmdline(pid, proc) if pid else None
    if not cmdline:
        return "agent process %s is not running" % pid
    if config_path not in cmdline or not any(a.endswith(AGENT_FILE) for a in cmdline):
        return "pid %s is not running %s --config %s" % (pid, AGENT_FILE, config_path)
    return None


def agent_status(install_dir, stale_after=3, now=None, proc="/proc"):
    """Everything monitor_status reports, as a dict."""
    paths = install_paths(install_dir)
    config = read_json(paths["config"]) or {}
    result = {"installed": bool(config), "running": False, "mode": None, "pid": None, "agent_pid": None,
              "since": None, "last_sample": None, "samples": 0, "errors": 0, "engine_connected": False,
              "stale": False, "problem": None, "log_dir": config.get("log_dir"),
              "docker_sdk": has_docker_sdk(), "systemd": systemd_is_pid1(proc)}
    if not config:
        result["problem"] = "agent not installed (no %s)" % paths["config"]
        return result
    status = read_json(os.path.join(config.get("log_dir") or "", "health", "status.json")) or {}
    record, problem = mproc.verify_agent(paths["pid_file"], paths["config"], proc)
    if problem is None:
        result.update(running=True, mode="process", pid=record["pid"],
                      since=_iso(mproc.start_epoch(record.get("start_ticks"), proc)))
    elif record is None and status.get("pid") and status.get("config") == paths["config"]:
        # no pid file: systemd mode, where the agent's own pid is in its status file
        worker = worker_problem(status["pid"], paths["config"], proc)
        if worker is None:
            result.update(running=True, mode="systemd", pid=status["pid"],
                          since=_iso(mproc.start_epoch(mproc.proc_start_ticks(status["pid"], proc), proc)))
        else:
            problem = worker
    result["problem"] = None if result["running"] else problem
    if result["running"] and status:
        result.update(agent_pid=status.get("pid"), last_sample=status.get("last_sample"),
                      samples=status.get("samples", 0), errors=status.get("errors", 0),
                      engine_connected=bool(status.get("engine_connected")))
        interval = float(config.get("interval") or 60)
        newest = _epoch(status.get("last_sample")) or _epoch(status.get("started"))
        now = time.time() if now is None else now
        result["stale"] = newest is None or now - newest > stale_after * interval + 5
    return result
