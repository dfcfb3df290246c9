#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""phase0 build monitor agent: samples a compose project's containers until told to stop.

Every `interval` seconds, for every container of the project: state, health, restarts, CPU %
and memory go to health.jsonl / resources.jsonl; new log lines matching the error pattern go to
errors.jsonl once each; status.json and status.html are rewritten. A Docker engine that goes
away is retried every few seconds and the gap is logged when it answers again.

    phase0_monitor.py --config CONFIG.json              run in the foreground (systemd mode)
    phase0_monitor.py --config CONFIG.json --supervise  supervisor: writes the pid file and runs
                                                        the agent as a child, restarting it when
                                                        it fails (background-process mode)
    ... --supervise --detach LOG                        the same, detached first (double fork, own
                                                        session, output to LOG); returns at once

Needs python3 and the `docker` SDK. The pure logic lives in the collection's
plugins/module_utils/monitor_*.py, installed next to this file under lib/.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
# phase0_libload.py is installed next to this script (also when it is imported rather than run).
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from phase0_libload import load_lib  # noqa: E402  pylint: disable=wrong-import-position

load_lib(os.path.join(HERE, "lib"))

# pylint: disable=wrong-import-position
from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_errors as merr  # noqa: E402
from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_files as mfiles  # noqa: E402
from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_html as mhtml  # noqa: E402
from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_process as mproc  # noqa: E402
from ansible_collections.homeiq.phase0.plugins.module_utils import monitor_sample as msample  # noqa: E402

STATUS_SCHEMA = "homeiq.phase0/monitor-status/v1"
HISTORY_POINTS = 360      # per container, in memory (an hour at 10 s, less at shorter intervals)
HTML_POINTS = 120         # per container, in status.json/status.html
RECENT_ERRORS = 30
RETRY_SECONDS = 2.0

DEFAULTS = {
    "project": None,
    "docker_host": None,
    "interval": 60,
    "log_dir": None,            # .../logs/current_rebuild/phase0
    "run_dir": None,            # pid file, cursor state, agent log
    "error_pattern": merr.DEFAULT_ERROR_PATTERN,
    "error_ignore_case": True,
    "max_bytes": 10 * 1024 * 1024,
    "backups": 5,
    "initial_tail": 200,
    "workers": 4,
    # stats calls wait for the engine's once-a-second collector rather than work: all of a cycle's are
    # asked at once, so a cycle costs about one tick for them, not one tick per container / workers
    "stats_workers": 64,
    "timeout": 30,
}


def load_config(path):
    with open(path) as handle:
        config = dict(DEFAULTS, **json.load(handle))
    for key in ("project", "log_dir", "run_dir"):
        if not config.get(key):
            raise SystemExit("config %s: %s is required" % (path, key))
    config["config_path"] = os.path.abspath(path)
    return config


def log(message):
    sys.stderr.write("%s phase0-monitor[%d]: %s\n" % (msample.utc_now_iso(), os.getpid(), message))
    sys.stderr.flush()


class Agent:
    def __init__(self, config, stop_event):
        self.config = config
        self.stop = stop_event
        self.health_dir = os.path.join(config["log_dir"], "health")
        self.errors_dir = os.path.join(config["log_dir"], "errors")
        for directory in (self.health_dir, self.errors_dir, config["run_dir"]):
            os.makedirs(directory, exist_ok=True)
        self.pattern = merr.compile_pattern(config["error_pattern"], config["error_ignore_case"])
        self.state_path = os.path.join(config["run_dir"], "cursors.json")
        self.cursors = self._load_cursors()
        self.cpu_counters = {}
        self.history = collections.defaultdict(lambda: collections.deque(maxlen=HISTORY_POINTS))
        self.recent_errors = collections.deque(maxlen=RECENT_ERRORS)
        self.latest = {}
        self.client = None
        self.down_since = None
        self.gaps = []
        self.started = msample.utc_now_iso()
        self.samples = 0
        self.errors = 0
        self.last_sample = None
        self.pool = ThreadPoolExecutor(max_workers=max(1, int(config["workers"])))
        self.stats_pool = ThreadPoolExecutor(max_workers=max(1, int(config["stats_workers"])))

    # --- engine connection ------------------------------------------------------------
    def connect(self):
        import docker  # imported here so `--help` works without the SDK

        kwargs = {"timeout": int(self.config["timeout"])}
        if self.config.get("docker_host"):
            kwargs["base_url"] = self.config["docker_host"]
            self.client = docker.APIClient(version="auto", **kwargs)
        else:
            self.client = docker.from_env(**kwargs).api
        self.client.ping()

    def engine_lost(self, exc):
        if self.down_since is None:
            self.down_since = time.time()
            log("engine unreachable (%s: %s); retrying every %.0f s" % (type(exc).__name__, exc, RETRY_SECONDS))
            mfiles.append_jsonl(os.path.join(self.health_dir, "health.jsonl"), [{
                "ts": msample.utc_now_iso(), "event": "engine_unreachable", "error": str(exc)[:500]}],
                self.config["max_bytes"], self.config["backups"])
        try:
            if self.client is not None:
                self.client.close()
        except Exception:  # pylint: disable=broad-except  # closing a dead client
            pass
        self.client = None

    def engine_back(self):
        if self.down_since is None:
            return
        now = time.time()
        gap = {"ts": msample.utc_now_iso(), "event": "engine_gap",
               "from": msample.utc_now_iso(_dt(self.down_since)), "to": msample.utc_now_iso(_dt(now)),
               "seconds": round(now - self.down_since, 1)}
        self.gaps = (self.gaps + [gap])[-10:]
        mfiles.append_jsonl(os.path.join(self.health_dir, "health.jsonl"), [gap],
                            self.config["max_bytes"], self.config["backups"])
        log("engine answers again after %.1f s" % gap["seconds"])
        self.down_since = None

    # --- one sample ----------------------------------------------------------------------
    def containers(self):
        label = "com.docker.compose.project=%s" % self.config["project"]
        return self.client.containers(all=True, filters={"label": label})

    def _stats(self, cid):
        try:
            return self.client.stats(cid, stream=False, one_shot=True)
        except Exception:  # pylint: disable=broad-except  # container stopped between calls
            return None

    def sample_one(self, summary, stats_future=None):
        cid = summary["Id"]
        inspect = self.client.inspect_container(cid)
        stats = None
        if (inspect.get("State") or {}).get("Running"):
            if stats_future is None:
                stats = self._stats(cid)
            else:
                try:
                    stats = stats_future.result(timeout=60)
                except Exception:  # pylint: disable=broad-except  # no sample this cycle
                    stats = None
        lines = self.read_logs(cid)
        return inspect, stats, lines

    def read_logs(self, cid):
        cursor = self.cursors.get(cid) or merr.new_cursor()
        kwargs = {"stdout": True, "stderr": True, "timestamps": True, "stream": False}
        since = merr.since_seconds(cursor)
        if since is None:
            kwargs["tail"] = int(self.config["initial_tail"])
        else:
            kwargs["since"] = since
        try:
            data = self.client.logs(cid, **kwargs)
        except Exception:  # pylint: disable=broad-except  # container removed between calls
            return None
        return data.decode("utf-8", "replace").splitlines() if isinstance(data, bytes) else data.splitlines()

    def cycle(self):
        ts = msample.utc_now_iso()
        epoch = time.time()
        summaries = self.containers()
        stats_futures = {s["Id"]: self.stats_pool.submit(self._stats, s["Id"]) for s in summaries
                         if s.get("State") == "running"}
        results = list(self.pool.map(lambda s: self._safe_sample(s, stats_futures.get(s["Id"])), summaries))
        health, resources, errors = [], [], []
        live = set()
        for summary, result in zip(summaries, results):
            if result is None:
                continue
            inspect, stats, lines = result
            cid = summary["Id"]
            live.add(cid)
            h = msample.health_record(ts, inspect)
            health.append(h)
            r, counters = msample.resource_record(ts, inspect, stats, self.cpu_counters.get(cid))
            if counters:
                self.cpu_counters[cid] = counters
            resources.append(r)
            if lines is not None:
                matches, self.cursors[cid] = merr.scan_lines(lines, self.cursors.get(cid), self.pattern)
                errors += merr.error_records(h["container"], h["service"], matches)
            self.history[cid].append({"t": round(epoch, 1), "ts": ts, "state": h["state"], "health": h["health"],
                                      "cpu": r["cpu_percent"], "mem": r["mem_bytes"]})
            self.latest[cid] = dict(h, cpu_percent=r["cpu_percent"], mem_bytes=r["mem_bytes"],
                                    mem_limit=r["mem_limit"])
        # containers that went away: forget them (a recreated container has a new id)
        for cid in list(self.latest):
            if cid not in live:
                for store in (self.latest, self.history, self.cpu_counters, self.cursors):
                    store.pop(cid, None)
        cfg = self.config
        mfiles.append_jsonl(os.path.join(self.health_dir, "health.jsonl"), health, cfg["max_bytes"], cfg["backups"])
        mfiles.append_jsonl(os.path.join(self.health_dir, "resources.jsonl"), resources,
                            cfg["max_bytes"], cfg["backups"])
        mfiles.append_jsonl(os.path.join(self.errors_dir, "errors.jsonl"), errors, cfg["max_bytes"], cfg["backups"])
        self.recent_errors.extend(errors)
        self.errors += len(errors)
        self.samples += 1
        self.last_sample = ts
        mfiles.atomic_write(self.state_path, json.dumps(self.cursors))

    def _safe_sample(self, summary, stats_future=None):
        try:
            return self.sample_one(summary, stats_future)
        except Exception as exc:  # pylint: disable=broad-except  # one container must not stop the rest
            if _is_engine_error(exc):
                raise
            return None

    def _load_cursors(self):
        try:
            with open(self.state_path) as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    # --- status ---------------------------------------------------------------------------
    def status(self):
        services = []
        for cid, latest in sorted(self.latest.items(), key=lambda kv: (kv[1]["service"], kv[1]["container"])):
            history = list(self.history[cid])
            step = max(1, len(history) // HTML_POINTS + (1 if len(history) % HTML_POINTS else 0))
            thinned = history[::-1][::step][::-1]
            services.append(dict(latest, history=thinned))
        return {
            "schema": STATUS_SCHEMA, "project": self.config["project"], "pid": os.getpid(),
            "config": self.config["config_path"], "started": self.started, "last_sample": self.last_sample,
            "samples": self.samples, "errors": self.errors, "interval": self.config["interval"],
            "engine_connected": self.client is not None and self.down_since is None,
            "down_since": msample.utc_now_iso(_dt(self.down_since)) if self.down_since else None,
            "gaps": self.gaps, "services": services, "recent_errors": list(self.recent_errors)[-RECENT_ERRORS:],
            "updated": msample.utc_now_iso(),
        }

    def write_status(self):
        status = self.status()
        mfiles.atomic_write(os.path.join(self.health_dir, "status.json"), json.dumps(status, indent=1))
        mfiles.atomic_write(os.path.join(self.health_dir, "status.html"),
                            mhtml.render_status_html(status, refresh_seconds=max(5, self.config["interval"])))

    # --- main loop ------------------------------------------------------------------------
    def run(self):
        interval = float(self.config["interval"])
        log("monitoring project %s every %s s into %s" % (self.config["project"], interval, self.config["log_dir"]))
        while not self.stop.is_set():
            started = time.monotonic()
            wait = interval
            try:
                if self.client is None:
                    self.connect()
                self.engine_back()
                self.cycle()
            except Exception as exc:  # pylint: disable=broad-except  # the agent must outlive engine restarts
                if not _is_engine_error(exc) and self.client is not None:
                    log("sample failed: %s: %s" % (type(exc).__name__, exc))
                else:
                    self.engine_lost(exc)
                    wait = min(interval, RETRY_SECONDS)
            try:
                self.write_status()
            except OSError as exc:
                log("cannot write status: %s" % exc)
            self.stop.wait(max(0.0, wait - (time.monotonic() - started)))
        self.pool.shutdown(wait=False)
        self.stats_pool.shutdown(wait=False)
        log("stopped")


def _dt(epoch):
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)


def _is_engine_error(exc):
    """Errors that mean the engine (not one container) is unreachable."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"ConnectionError", "ConnectionRefusedError", "FileNotFoundError", "ReadTimeout",
                "ProtocolError", "RemoteDisconnected", "ChunkedEncodingError", "TimeoutError"}:
        return True
    return False


def run_agent(config):
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *a: stop.set())
    Agent(config, stop).run()
    return 0


def supervise(config):
    """Background-process mode: own the pid file, run the agent as a child, restart it on failure."""
    run_dir = config["run_dir"]
    os.makedirs(run_dir, exist_ok=True)
    pid_file = os.path.join(run_dir, "agent.pid")
    mfiles.atomic_write(pid_file, json.dumps(mproc.pid_record(os.getpid(), config["config_path"], "supervisor")))
    stop = threading.Event()
    child = {"proc": None}

    def on_signal(*_args):
        stop.set()
        proc = child["proc"]
        if proc is not None and proc.poll() is None:
            proc.terminate()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    backoff = 1.0
    try:
        while not stop.is_set():
            began = time.monotonic()
            child["proc"] = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--config",
                                              config["config_path"]])
            code = child["proc"].wait()
            if stop.is_set():
                break
            if code == 0:
                log("agent exited cleanly; supervisor stops too")
                break
            backoff = 1.0 if time.monotonic() - began > 60 else min(backoff * 2, 60.0)
            log("agent exited with %s; restarting in %.0f s" % (code, backoff))
            stop.wait(backoff)
        proc = child["proc"]
        if proc is not None and proc.poll() is None:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        record = mproc.read_pid_file(pid_file)
        if record and record.get("pid") == os.getpid():
            os.unlink(pid_file)
    return 0


def detach(log_path, cwd):
    """Become a daemon: the caller's process exits 0 at once, the grandchild goes on in its own session.

    Double fork, so the daemon is no session leader and is adopted by init; stdin from /dev/null and
    stdout/stderr to the log, so whoever started us (Ansible's run_command reads our pipes until they
    close) is released as soon as this returns in the grandchild.
    """
    if os.fork() > 0:
        os._exit(0)  # pylint: disable=protected-access  # the documented way to leave a forked child
    os.setsid()
    if os.fork() > 0:
        os._exit(0)  # pylint: disable=protected-access
    os.chdir(cwd)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    for fd in (log_fd, null_fd):
        if fd > 2:
            os.close(fd)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--config", required=True, help="the agent's JSON config file")
    parser.add_argument("--supervise", action="store_true", help="run as supervisor with a pid file")
    parser.add_argument("--detach", metavar="LOG", help="with --supervise: detach first, output to LOG")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if args.detach and not args.supervise:
        parser.error("--detach needs --supervise")
    if args.supervise:
        if args.detach:
            os.makedirs(config["run_dir"], exist_ok=True)
            detach(os.path.abspath(args.detach), config["run_dir"])
        return supervise(config)
    return run_agent(config)


if __name__ == "__main__":
    sys.exit(main())
