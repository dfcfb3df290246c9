# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure one container's health facts through the Docker API (the only impure part of diagnosis).

`collect(api, container_id, limits)` returns (facts, raw) where facts is the dict
health_classify.classify() reads and raw holds the bulky evidence (inspect, logs, stats).
Measurements inside the container happen in one exec of MEASURE_SCRIPT when the image has
Python; otherwise a slower path uses sh, getent, curl/wget and cat, each exec timed by us,
and as a last resort only the probe itself is run and binaries are looked up through the
archive API, which needs no process in the container.
"""
from __future__ import annotations

import base64
import json
import posixpath
import threading
import time
from datetime import datetime, timezone

from ansible_collections.homeiq.phase0.plugins.module_utils.exec_dialogue import exec_dialogue
from ansible_collections.homeiq.phase0.plugins.module_utils.health_incontainer import (
    MEASURE_SCRIPT,
    SHELL_TOOLS_SCRIPT,
    measure_request,
    parse_measure_output,
    parse_verified,
    parse_proc_net_tcp,
    parse_shell_tools,
)
from ansible_collections.homeiq.phase0.plugins.module_utils.health_log import (
    entry_kind,
    http_status_in,
    iso,
    parse_docker_time,
    summarize_health_log,
)
from ansible_collections.homeiq.phase0.plugins.module_utils.health_probe import (
    PROBE_TOOLS,
    healthcheck_from_inspect,
    parse_probe,
    with_host,
)

SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
DEFAULT_LIMITS = {"probe_s": 30.0, "dns_s": 15.0, "fetch_s": 10.0, "log_lines": 500, "stats": True}
_FALLBACK_TOOLS = PROBE_TOOLS + ("getent", "cat")
# -I: ignore PYTHON* env and the user site (the app's PYTHONPATH must not change our helper); -S: no site
# module (nothing from site-packages is needed, and it halves the start-up time).
PYTHON_FLAGS = ["-I", "-S"]
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def utcnow():
    return datetime.now(timezone.utc)


# --- exec helpers ------------------------------------------------------------------------------

class ExecResult:
    def __init__(self, exit_code=None, stdout=b"", stderr=b"", seconds=None, timed_out=False, error=None):
        self.exit_code = exit_code
        self.stdout = stdout or b""
        self.stderr = stderr or b""
        self.seconds = seconds
        self.timed_out = timed_out
        self.error = error

    @property
    def text(self):
        return (self.stdout + self.stderr).decode("utf-8", "replace")

    @property
    def not_found(self):
        text = self.text
        return ("executable file not found" in text or "no such file or directory" in text
                or (self.exit_code == 127 and "not found" in text))


def timed_exec(api, container, argv, limit):
    """Run argv in the container; our clock around exec start; give up waiting after `limit` s."""
    try:
        exec_id = api.exec_create(container, argv, stdout=True, stderr=True)["Id"]
    except Exception as exc:  # pylint: disable=broad-except
        return ExecResult(error="exec create failed: %s" % exc)
    box = {}

    def start():
        try:
            box["out"] = api.exec_start(exec_id, demux=True)
        except Exception as exc:  # pylint: disable=broad-except
            box["error"] = exc

    thread = threading.Thread(target=start)
    thread.daemon = True  # a hung probe must not keep the module alive
    began = time.monotonic()
    thread.start()
    thread.join(limit)
    seconds = round(time.monotonic() - began, 6)
    if thread.is_alive():
        return ExecResult(seconds=seconds, timed_out=True)
    if "error" in box:
        return ExecResult(seconds=seconds, error="exec failed: %s" % box["error"])
    stdout, stderr = box.get("out") or (b"", b"")
    try:
        exit_code = api.exec_inspect(exec_id).get("ExitCode")
    except Exception:  # pylint: disable=broad-except
        exit_code = None
    return ExecResult(exit_code, stdout, stderr, seconds)


def stat_path(api, container, path):
    """Stat a path in the container through the archive API (HEAD): {'name','size','mode','linkTarget'} or None."""
    try:
        response = api.head(api._url("/containers/{0}/archive", container), params={"path": path})
    except Exception:  # pylint: disable=broad-except
        return None
    if response.status_code != 200:
        return None
    header = response.headers.get("X-Docker-Container-Path-Stat")
    if not header:
        return None
    try:
        return json.loads(base64.b64decode(header).decode("utf-8"))
    except (ValueError, TypeError):
        return None


def _env_path(inspect):
    for entry in (inspect.get("Config") or {}).get("Env") or []:
        if entry.startswith("PATH="):
            return entry[5:]
    return _DEFAULT_PATH


def which_by_stat(api, container, name, search_path):
    if "/" in name:
        return name if stat_path(api, container, name) else None
    for directory in search_path.split(":"):
        if directory and stat_path(api, container, posixpath.join(directory, name)):
            return posixpath.join(directory, name)
    return None


# --- facts from inspect ---------------------------------------------------------------------------

def state_facts(inspect):
    state = inspect.get("State") or {}
    health = state.get("Health") or {}
    return {
        "status": state.get("Status"),
        "running": state.get("Running"),
        "restarting": state.get("Restarting"),
        "restart_count": inspect.get("RestartCount"),
        "oom_killed": state.get("OOMKilled"),
        "exit_code": state.get("ExitCode"),
        "started_at": iso(parse_docker_time(state.get("StartedAt"))),
        "finished_at": iso(parse_docker_time(state.get("FinishedAt"))),
        "health_status": health.get("Status"),
        "failing_streak": health.get("FailingStreak"),
    }


def self_names(inspect):
    """Names the container answers to itself: hostname, network aliases, its own IPs."""
    names, addresses = set(), set()
    config = inspect.get("Config") or {}
    if config.get("Hostname"):
        names.add(config["Hostname"].lower())
    for network in ((inspect.get("NetworkSettings") or {}).get("Networks") or {}).values():
        for alias in (network or {}).get("Aliases") or []:
            names.add(alias.lower())
        for key in ("IPAddress", "GlobalIPv6Address"):
            if (network or {}).get(key):
                addresses.add(network[key])
    return sorted(names), sorted(addresses)


def plan_requests(probe):
    """What to resolve and fetch for a parsed probe: ([(name, port)], [(purpose, url)])."""
    resolve, fetch = [], []
    if probe.get("urls"):
        parsed = probe["urls"][0]
        for url in probe["urls"]:
            if not url["ip_literal"] and (url["host"], url["port"]) not in resolve:
                resolve.append((url["host"], url["port"]))
        if parsed["ip_literal"]:
            fetch.append(("direct", parsed["url"]))
        else:
            fetch.append(("direct", with_host(parsed, "127.0.0.1")))
            fetch.append(("name", parsed["url"]))
    elif probe.get("tcp") and probe["tcp"]["host"] and not probe["tcp"]["host"][0].isdigit():
        resolve.append((probe["tcp"]["host"], probe["tcp"]["port"]))
    return resolve, fetch


# --- measuring ------------------------------------------------------------------------------------

def measure_with_python(api, container, probe, resolve, fetch, limits, python="python3", decide=None):
    """(measured or None, exec result). With `decide(measured) -> healthcheck test or None`, the same
    exec then runs that test once and measured['verified'] = {'test', 'check'} (see exec_dialogue)."""
    request = measure_request(probe.get("argv"), probe.get("binary"), PROBE_TOOLS, resolve, fetch,
                              limits["probe_s"], limits["dns_s"], limits["fetch_s"], dialogue=decide is not None)
    budget = limits["probe_s"] + max(limits["dns_s"], limits["fetch_s"]) + 15
    argv = [python] + PYTHON_FLAGS + ["-c", MEASURE_SCRIPT, request]
    if decide is None:
        result = timed_exec(api, container, argv, budget)
        measured = parse_measure_output(result.stdout)
    else:
        asked = {}

        def answer(first_line):
            first = parse_measure_output(first_line)
            asked["test"] = decide(first) if first is not None else None
            if not asked["test"]:
                return None
            return json.dumps({"probe": parse_probe(asked["test"])["argv"], "limit": limits["probe_s"]}).encode()

        talk = exec_dialogue(api, container, argv, budget + limits["probe_s"] + 10, answer)
        result = ExecResult(talk.exit_code, talk.stdout, talk.stderr, talk.seconds, talk.timed_out, talk.error)
        measured = parse_measure_output(talk.first_line) if talk.first_line is not None else None
        check = parse_verified(talk.rest)
        if measured is not None and asked.get("test") and check is not None:
            measured["verified"] = {"test": asked["test"], "check": check}
    if measured is not None:
        measured["helper_exec_seconds"] = result.seconds
    return measured, result


def _fallback_fetch(api, container, tools, purpose, url, limit):
    """Fetch with curl or wget, timed by our clock around the exec."""
    out = {"purpose": purpose, "url": url, "status": None, "error": None, "error_kind": None}
    if tools.get("curl"):
        out["tool"] = "curl"
        res = timed_exec(api, container, ["curl", "-s", "-k", "-o", "/dev/null", "-w", "%{http_code}",
                                          "--max-time", str(int(limit)), url], limit + 5)
        code = res.stdout.decode("utf-8", "replace").strip()
        if res.exit_code == 0 and code.isdigit() and code != "000":
            out["status"] = int(code)
        else:
            out["error"] = "curl exit %s" % res.exit_code
            out["error_kind"] = {7: "refused", 28: "timeout", 6: "resolve"}.get(res.exit_code, "other")
    elif tools.get("wget"):
        out["tool"] = "wget"
        res = timed_exec(api, container, ["wget", "-q", "-S", "-O", "/dev/null", "-T", str(int(limit)), url],
                         limit + 5)
        status = http_status_in(res.text)
        if status:
            out["status"] = status
        else:
            kind = entry_kind(res.exit_code, res.text)
            out["error"] = "wget exit %s: %s" % (res.exit_code, res.text.strip()[:200])
            out["error_kind"] = {"refused": "refused", "probe_timed_out": "timeout",
                                 "resolve_failed": "resolve"}.get(kind, "other")
    else:
        return None
    out["seconds"] = res.seconds
    out["timed_out"] = res.timed_out
    return out


def measure_without_python(api, container, inspect, probe, resolve, fetch, limits):
    """The slower path for images without Python: several execs, each timed by our clock."""
    measured = {"helper": "shell"}
    search_path = _env_path(inspect)
    res = timed_exec(api, container, ["sh", "-c", SHELL_TOOLS_SCRIPT, "sh"] + list(_FALLBACK_TOOLS), 10)
    if res.exit_code == 0:
        tools = parse_shell_tools(res.stdout.decode("utf-8", "replace"), _FALLBACK_TOOLS)
    else:
        measured["helper"] = "none"
        tools = dict((t, which_by_stat(api, container, t, search_path)) for t in _FALLBACK_TOOLS)
    measured["tools"] = dict((t, tools.get(t)) for t in PROBE_TOOLS)
    binary = probe.get("binary")
    if binary:
        path = tools.get(binary) if binary in tools else which_by_stat(api, container, binary, search_path)
        measured["probe_binary"] = {"name": binary, "path": path, "checked": True}
    if probe.get("argv"):
        run = timed_exec(api, container, probe["argv"], limits["probe_s"])
        manual = {"limit_s": limits["probe_s"], "seconds": run.seconds, "timed_out": run.timed_out,
                  "exit_code": None if run.timed_out else run.exit_code, "output": run.text[:4096],
                  "timed_by": "exec round trip"}
        if run.error or (run.not_found and run.exit_code in (126, 127, -1)):
            manual["exec_error"] = run.error or run.text.strip()[:300]
            manual["exec_error_kind"] = "not_found" if run.not_found else "other"
        measured["manual_probe"] = manual
    if tools.get("getent"):
        baseline = timed_exec(api, container, ["getent", "hosts", "127.0.0.1"], 5).seconds or 0.0
        measured["dns"] = []
        for name, dummy in resolve:
            run = timed_exec(api, container, ["getent", "ahosts", name], limits["dns_s"])
            addresses = []
            for line in run.stdout.decode("utf-8", "replace").splitlines():
                if line.split() and line.split()[0] not in addresses:
                    addresses.append(line.split()[0])
            measured["dns"].append({
                "name": name, "seconds": round(max(0.0, (run.seconds or 0.0) - baseline), 6),
                "timed_out": run.timed_out, "addresses": addresses,
                "error": None if run.exit_code == 0 or run.timed_out else "getent exit %s" % run.exit_code,
                "timed_by": "exec round trip minus %.3f s exec overhead" % baseline})
    fetches = [_fallback_fetch(api, container, tools, purpose, url, limits["fetch_s"]) for purpose, url in fetch]
    measured["fetches"] = [f for f in fetches if f]
    if tools.get("cat"):
        run = timed_exec(api, container, ["cat", "/proc/net/tcp", "/proc/net/tcp6"], 10)
        if run.stdout:
            measured["listening_ports"] = parse_proc_net_tcp(run.stdout.decode("utf-8", "replace"))
    return measured


def measure(api, container, inspect, probe, limits, decide=None):
    """In-container measurements: Python helper first (python3, then python), else the fallback.

    decide: see measure_with_python; the fallback path never verifies (the caller does, by exec).
    """
    resolve, fetch = plan_requests(probe)
    for python in ("python3", "python"):
        measured, result = measure_with_python(api, container, probe, resolve, fetch, limits, python, decide)
        if measured is not None:
            return measured
        if not result.not_found and result.exit_code not in (126, 127) and not result.error:
            break  # the interpreter exists but could not run the helper (too old?): use the fallback
    return measure_without_python(api, container, inspect, probe, resolve, fetch, limits)


def verify_probe(api, container, test, limits):
    """Run a recommended probe once, the way Docker would: {'exit_code', 'seconds', 'timed_out', 'output'}."""
    probe = parse_probe(test)
    for python in ("python3", "python"):
        request = measure_request(probe["argv"], None, (), (), (), limits["probe_s"], 1, 1, ports=False)
        result = timed_exec(api, container, [python] + PYTHON_FLAGS + ["-c", MEASURE_SCRIPT, request],
                            limits["probe_s"] + 10)
        measured = parse_measure_output(result.stdout)
        if measured is not None and measured.get("manual_probe"):
            return measured["manual_probe"]
    run = timed_exec(api, container, probe["argv"], limits["probe_s"])
    return {"exit_code": None if run.timed_out else run.exit_code, "seconds": run.seconds,
            "timed_out": run.timed_out, "output": run.text[:4096], "timed_by": "exec round trip"}


_MEASURED_KEYS = ("helper", "python", "tools", "probe_binary", "manual_probe", "dns", "fetches", "listening_ports")


def collect(api, container, limits=None, prefetched_stats=None, decide=None):
    """(facts, raw) for one container. Raises docker errors for a container that vanished.

    prefetched_stats: a Prefetch that already asked the engine for this container's stats sample
    (keyed by `container`); without it the sample is taken here, beside the exec.
    decide: `decide(facts) -> healthcheck test or None`, called with the measured facts while the
    measuring exec still runs; the test it names is run once by that exec and the outcome lands in
    facts['verified_probe'] = {'test', 'check'} (no second exec).
    """
    limits = dict(DEFAULT_LIMITS, **(limits or {}))
    inspect = api.inspect_container(container)
    labels = (inspect.get("Config") or {}).get("Labels") or {}
    healthcheck = healthcheck_from_inspect((inspect.get("Config") or {}).get("Healthcheck"))
    state = state_facts(inspect)
    health_raw = ((inspect.get("State") or {}).get("Health") or {}).get("Log") or []
    names, addresses = self_names(inspect)
    facts = {
        "container": (inspect.get("Name") or "").lstrip("/"),
        "container_id": inspect.get("Id"),
        "service": labels.get(SERVICE_LABEL),
        "container_number": labels.get(NUMBER_LABEL),
        "image": (inspect.get("Config") or {}).get("Image"),
        "collected_at": iso(utcnow()),
        "healthcheck": healthcheck,
        "state": state,
        "health": summarize_health_log(health_raw),
        "probe": parse_probe(healthcheck["test"]) if healthcheck else parse_probe(None),
        "self_names": names,
        "self_addresses": addresses,
    }
    raw = {"inspect": inspect, "health_log_raw": health_raw}
    running = bool(state.get("running")) and not state.get("restarting")
    # Logs and the stats sample are waited for, not computed (the engine's stats collector ticks once
    # a second): fetch them in the background while the exec runs.
    side = []
    if limits.get("log_lines"):
        side.append(_background(raw, "logs", lambda: api.logs(
            container, stdout=True, stderr=True, timestamps=True,
            tail=int(limits["log_lines"])).decode("utf-8", "replace"), "(logs unavailable: %s)"))
    if limits.get("stats") and running:
        if prefetched_stats is not None and container in prefetched_stats:
            side.append(_background(raw, "stats", lambda: prefetched_stats.get(
                container, limits.get("side_timeout", 60)), None))
        else:
            side.append(_background(raw, "stats", lambda: api.stats(container, stream=False, one_shot=True), None))
    if running and healthcheck and not healthcheck.get("disabled"):
        decide_from_measured = None
        if decide is not None:
            def decide_from_measured(measured):
                return decide(dict(facts, **dict((k, measured[k]) for k in _MEASURED_KEYS if k in measured)))
        began = time.monotonic()
        measured = measure(api, container, inspect, facts["probe"], limits, decide_from_measured)
        facts["measure_seconds"] = round(time.monotonic() - began, 3)
        for key in _MEASURED_KEYS:
            if key in measured:
                facts[key] = measured[key]
        if "verified" in measured:
            facts["verified_probe"] = measured["verified"]
    for thread in side:
        thread.join(limits.get("side_timeout", 60))
    return facts, raw


def _background(raw, key, fn, error_text):
    """Run fn() in a thread, storing its value (or the error) in raw[key]."""
    def run():
        try:
            raw[key] = fn()
        # evidence, not a failure: a missing log or stats sample must not stop the diagnosis
        except Exception as exc:  # pylint: disable=broad-except
            raw[key] = (error_text % exc) if error_text else {"error": str(exc)}
    thread = threading.Thread(target=run)
    thread.daemon = True
    thread.start()
    return thread


class Prefetch:
    """fn(key) for many keys at once, each in its own daemon thread (at most `width` at a time).

    For calls that wait rather than work: a stats sample waits for the engine's collector, which
    ticks once a second for every container at the same time. Asked for all targets together the
    samples cost about one tick in total, instead of one tick per container per measuring worker.
    """

    def __init__(self, fn, keys, width=64):
        self._results = {}
        self._done = {}
        slots = threading.BoundedSemaphore(max(1, int(width)))
        for key in keys:
            if key in self._done:
                continue
            done = threading.Event()
            self._done[key] = done
            thread = threading.Thread(target=self._run, args=(fn, key, slots, done))
            thread.daemon = True  # a hung call must not keep the module alive
            thread.start()

    def _run(self, fn, key, slots, done):
        with slots:
            try:
                self._results[key] = (True, fn(key))
            # reported by get(): the caller decides what a failed call means
            except Exception as exc:  # pylint: disable=broad-except
                self._results[key] = (False, exc)
            finally:
                done.set()

    def __contains__(self, key):
        return key in self._done

    def get(self, key, timeout=None):
        """The value of fn(key); raises its exception, or TimeoutError when it did not end within timeout."""
        if not self._done[key].wait(timeout):
            raise TimeoutError("no answer within %s s" % timeout)
        ok, value = self._results[key]
        if not ok:
            raise value
        return value


def stats_summary(stats):
    """The few numbers of a stats sample worth reading."""
    if not stats or "error" in stats:
        return stats
    memory = stats.get("memory_stats") or {}
    networks = stats.get("networks") or {}
    return {
        "read": stats.get("read"),
        "memory_usage_bytes": memory.get("usage"),
        "memory_limit_bytes": memory.get("limit"),
        "pids": (stats.get("pids_stats") or {}).get("current"),
        "cpu_total_usage_ns": ((stats.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage"),
        "network_rx_bytes": sum((n or {}).get("rx_bytes", 0) for n in networks.values()),
        "network_tx_bytes": sum((n or {}).get("tx_bytes", 0) for n in networks.values()),
    }
