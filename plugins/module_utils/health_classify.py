# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide why a container is not healthy, from measured facts only.

`classify(facts)` reads the facts the collector measured (see FACTS below) and returns the
classification, a one-line reason and the evidence that decided it. Every evidence line is
built from a number or a string in `facts`; when the facts do not decide, the answer is
`unknown` with the facts laid out, never a guess.

FACTS (every key optional; a missing key means "not measured"):
  healthcheck   {'test', 'interval_s', 'timeout_s', 'retries', 'start_period_s', 'disabled'}
  state         {'status', 'running', 'restarting', 'restart_count', 'oom_killed', 'exit_code',
                 'started_at', 'health_status', 'failing_streak'}
  health        health_log.summarize_health_log(...)
  probe         health_probe.parse_probe(...)
  tools         {'curl': '/usr/bin/curl' or None, ...}   None = looked for, absent
  probe_binary  {'name', 'path' or None, 'checked': bool}
  manual_probe  {'exit_code', 'seconds', 'timed_out', 'output', 'exec_error', 'limit_s'}
  dns           [{'name', 'seconds', 'addresses', 'error', 'timed_out'}]
  fetches       [{'purpose': 'direct'|'name', 'url', 'tool', 'status', 'seconds', 'error',
                  'error_kind', 'timed_out'}]
  listening_ports  [int, ...]
"""
from __future__ import annotations

from ansible_collections.homeiq.phase0.plugins.module_utils.health_log import (
    entry_kind,
    parse_docker_time,
)

PROBE_CLASSES = ("probe_timeout_slow_dns", "probe_timeout", "probe_tool_missing", "probe_command_error")
CLASSES = PROBE_CLASSES + ("service_unhealthy", "start_period_too_short", "wrong_port_or_path",
                           "no_healthcheck", "unknown")
# A name lookup slower than this (or than half the probe timeout, if that is smaller) is "slow":
# in a healthy container a lookup takes milliseconds.
SLOW_DNS_SECONDS = 1.0
MIN_SLOW_DNS_SECONDS = 0.2
_TIMEOUT_KINDS = ("timeout", "probe_timed_out")
_PATH_STATUSES = (404, 405)


def _fmt(seconds):
    return "n/a" if seconds is None else "%.3f s" % seconds


def last_line(output, limit=200):
    """The last non-empty line of a probe's output (where tools and tracebacks put the error)."""
    lines = [line.strip() for line in (output or "").replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""


def _timeout_s(facts):
    return (facts.get("healthcheck") or {}).get("timeout_s") or 30.0


def slow_dns_threshold(timeout_s):
    return max(MIN_SLOW_DNS_SECONDS, min(SLOW_DNS_SECONDS, 0.5 * timeout_s))


def _fetch(facts, purpose):
    for fetch in facts.get("fetches") or []:
        if fetch.get("purpose") == purpose:
            return fetch
    return None


def fetch_ok(fetch):
    return bool(fetch) and fetch.get("status") is not None and 200 <= fetch["status"] < 400


def fetch_fast(fetch, timeout_s):
    return bool(fetch) and fetch.get("seconds") is not None and not fetch.get("timed_out") \
        and fetch["seconds"] <= 0.5 * timeout_s


def _fetch_line(fetch):
    if fetch.get("status") is not None:
        outcome = "HTTP %s" % fetch["status"]
    elif fetch.get("timed_out"):
        outcome = "no answer (our timeout)"
    else:
        outcome = "error: %s" % (fetch.get("error") or fetch.get("error_kind") or "unknown")
    return "%s fetch %s with %s: %s in %s" % (
        fetch.get("purpose"), fetch.get("url"), fetch.get("tool"), outcome, _fmt(fetch.get("seconds")))


def slow_names(facts):
    """The DNS measurements that are slow (or timed out) for this probe's timeout."""
    limit = slow_dns_threshold(_timeout_s(facts))
    return [d for d in facts.get("dns") or []
            if d.get("timed_out") or (d.get("seconds") is not None and d["seconds"] >= limit)]


def manual_kind(facts):
    """The kind of the hand-run probe's outcome, in the health log's vocabulary."""
    manual = facts.get("manual_probe")
    if not manual:
        return None
    if manual.get("exec_error"):
        return "tool_missing" if manual.get("exec_error_kind") == "not_found" else "failed"
    if manual.get("timed_out"):
        return "timeout"
    if manual.get("exit_code") == 0 and manual.get("seconds") is not None \
            and manual["seconds"] > _timeout_s(facts):
        return "timeout"
    return entry_kind(manual.get("exit_code"), manual.get("output"))


class _Decision:
    def __init__(self):
        self.evidence = []

    def add(self, line):
        if line and line not in self.evidence:
            self.evidence.append(line)

    def result(self, classification, reason, **details):
        return {"classification": classification, "reason": reason, "evidence": list(self.evidence),
                "details": details}


def _health_lines(decision, facts):
    health = facts.get("health") or {}
    state = facts.get("state") or {}
    if state.get("health_status"):
        decision.add("health status %s, failing streak %s" % (state["health_status"], state.get("failing_streak")))
    entries = health.get("entries") or []
    if entries:
        kinds = ", ".join("%s x%d" % (k, n) for k, n in sorted((health.get("kinds") or {}).items()))
        decision.add("health log: %d entries (%s)" % (len(entries), kinds))
        newest_failing = [e for e in entries if e["kind"] != "ok"]
        if newest_failing:
            last = newest_failing[-1]
            decision.add("newest failing probe at %s: exit %s after %s, output %r%s" % (
                last.get("start"), last.get("exit_code"), _fmt(last.get("seconds")), last_line(last.get("output")),
                " (output at Docker's 4096-byte cap)" if last.get("truncated") else ""))


def _manual_line(decision, facts):
    manual = facts.get("manual_probe")
    if not manual:
        return
    if manual.get("exec_error"):
        decision.add("probe run by hand could not start: %s" % manual["exec_error"])
    elif manual.get("timed_out"):
        decision.add("probe run by hand: no result within our %s limit" % _fmt(manual.get("limit_s")))
    else:
        line = last_line(manual.get("output"))
        decision.add("probe run by hand: exit %s in %s (healthcheck timeout %s)%s" % (
            manual.get("exit_code"), _fmt(manual.get("seconds")), _fmt(_timeout_s(facts)),
            ", output %r" % line if line else ""))


def _dns_lines(decision, facts):
    for lookup in facts.get("dns") or []:
        if lookup.get("timed_out"):
            decision.add("resolving %r inside the container: no answer within %s" % (
                lookup.get("name"), _fmt(lookup.get("seconds"))))
        elif lookup.get("error"):
            decision.add("resolving %r inside the container failed after %s: %s" % (
                lookup.get("name"), _fmt(lookup.get("seconds")), lookup["error"]))
        else:
            decision.add("resolving %r inside the container took %s -> %s" % (
                lookup.get("name"), _fmt(lookup.get("seconds")), ", ".join(lookup.get("addresses") or [])))


def _state_problem(facts):
    state = facts.get("state") or {}
    if not state:
        return None
    if state.get("oom_killed"):
        return "the container was OOM-killed (exit code %s, %s restarts)" % (
            state.get("exit_code"), state.get("restart_count"))
    if state.get("restarting"):
        return "the container is restarting (exit code %s, %s restarts)" % (
            state.get("exit_code"), state.get("restart_count"))
    if state.get("running") is False:
        return "the container is %s (exit code %s)" % (state.get("status"), state.get("exit_code"))
    return None


def _tool_missing(decision, facts, mkind):
    probe = facts.get("probe") or {}
    binary = facts.get("probe_binary") or {}
    health = facts.get("health") or {}
    checked_absent = binary.get("checked") and not binary.get("path")
    if checked_absent:
        decision.add("probe binary %r: not found in the container (PATH searched)" % binary.get("name"))
    elif binary.get("path"):
        decision.add("probe binary %r found at %s" % (binary.get("name"), binary["path"]))
    if checked_absent or mkind == "tool_missing":
        return True
    return health.get("failing_kind") == "tool_missing" and not binary.get("path") and not probe.get("compound")


def _start_period(decision, facts):
    """start_period_too_short when probes failed only while the service was starting."""
    hc = facts.get("healthcheck") or {}
    state = facts.get("state") or {}
    health = facts.get("health") or {}
    started = parse_docker_time(state.get("started_at"))
    if not started:
        return None
    start_period = hc.get("start_period_s") or 0.0
    success = health.get("first_success_after_failure")
    if success:
        ready = parse_docker_time(success.get("start"))
        if ready:
            measured = (ready - started).total_seconds()
            if measured > start_period:
                decision.add("first passing probe %s after failures, %.1f s after the container started "
                             "(%s); start_period is %.1f s" % (
                                 success["start"], measured, state.get("started_at"), start_period))
                return measured
        return None
    entries = health.get("entries") or []
    failing = [e for e in entries if e["kind"] != "ok"]
    starting_kinds = ("refused", "resolve_failed")
    if failing and all(e["kind"] in starting_kinds for e in failing):
        last_end = parse_docker_time(failing[-1].get("end"))
        if last_end:
            measured = (last_end - started).total_seconds()
            if measured > start_period:
                decision.add("probes failed with %s until %s, %.1f s after the container started; the probe "
                             "passes now; start_period is %.1f s" % (
                                 "/".join(sorted(set(e["kind"] for e in failing))), failing[-1]["end"],
                                 measured, start_period))
                return measured
    return None


def classify(facts):
    """The classification of one container from its measured facts (see module docstring)."""
    decision = _Decision()
    hc = facts.get("healthcheck")
    if not hc or hc.get("disabled"):
        decision.add("no healthcheck is configured (Config.Healthcheck is %r)" % (hc,))
        return decision.result("no_healthcheck", "the container has no healthcheck to diagnose")

    timeout_s = _timeout_s(facts)
    probe = facts.get("probe") or {}
    decision.add("healthcheck test %s, interval %s, timeout %s, retries %s, start_period %s" % (
        hc.get("test"), _fmt(hc.get("interval_s")), _fmt(timeout_s), hc.get("retries"),
        _fmt(hc.get("start_period_s"))))
    _health_lines(decision, facts)

    problem = _state_problem(facts)
    if problem:
        decision.add(problem)
        return decision.result("service_unhealthy", problem + "; the probe cannot pass while it is not running")

    mkind = manual_kind(facts)
    _manual_line(decision, facts)

    if _tool_missing(decision, facts, mkind):
        return decision.result("probe_tool_missing",
                               "the probe runs %r, which does not exist in the container" % probe.get("binary"))

    health = facts.get("health") or {}
    direct = _fetch(facts, "direct")
    by_name = _fetch(facts, "name")
    _dns_lines(decision, facts)
    for fetch in (direct, by_name):
        if fetch:
            decision.add(_fetch_line(fetch))
    ports = facts.get("listening_ports")
    if ports is not None:
        decision.add("listening TCP ports in the container: %s" % (", ".join(str(p) for p in ports) or "none"))

    manual = facts.get("manual_probe") or {}
    probe_slow = mkind in _TIMEOUT_KINDS or (
        mkind is None and health.get("failing_kind") in _TIMEOUT_KINDS)
    if probe_slow:
        return _classify_slow(decision, facts, direct, by_name, timeout_s)

    if mkind == "ok":
        measured = _start_period(decision, facts)
        if measured is not None:
            return decision.result(
                "start_period_too_short",
                "probes failed only while the service was starting (%.1f s) and start_period is %.1f s" % (
                    measured, hc.get("start_period_s") or 0.0), measured_start_s=round(measured, 3))
        return decision.result(
            "unknown", "the probe passes when run by hand (exit 0 in %s); the facts do not show why Docker "
                       "recorded failures" % _fmt(manual.get("seconds")))

    failing = mkind or health.get("failing_kind")
    if failing == "probe_syntax_error" and fetch_ok(direct):
        return decision.result("probe_command_error",
                               "the probe command itself is invalid; the endpoint answers HTTP %s" % direct["status"])
    if fetch_ok(direct) and fetch_fast(direct, timeout_s):
        if failing == "resolve_failed":
            return decision.result("probe_command_error",
                                   "the probe's host name does not resolve while 127.0.0.1 answers HTTP %s"
                                   % direct["status"])
        if failing not in ("http_error", "refused"):
            return decision.result("probe_command_error",
                                   "the probe fails (%s) while the endpoint answers HTTP %s in %s" % (
                                       failing, direct["status"], _fmt(direct["seconds"])))
    status = direct.get("status") if direct else None
    if status is None and by_name:
        status = by_name.get("status")
    if status is not None and status >= 400:
        if status in _PATH_STATUSES:
            return decision.result("wrong_port_or_path",
                                   "the endpoint answers HTTP %d: the path the probe asks for does not exist" % status)
        return decision.result("service_unhealthy",
                               "the service answers HTTP %d itself; the probe reports it correctly" % status)
    refused = [f for f in (direct, by_name) if f and f.get("error_kind") == "refused"]
    if failing == "refused" or refused:
        port = _probe_port(probe)
        if ports and port is not None and port not in ports:
            return decision.result("wrong_port_or_path",
                                   "nothing listens on port %s; the container listens on %s" % (
                                       port, ", ".join(str(p) for p in ports)))
        if ports is not None and not ports:
            return decision.result("service_unhealthy",
                                   "nothing listens on any TCP port in the container: the service does not answer")
        if refused:
            return decision.result("service_unhealthy", "the service refuses connections on the probe's port")
    return decision.result("unknown", "the measured facts do not decide a cause; see the evidence")


def _probe_port(probe):
    if probe.get("urls"):
        return probe["urls"][0]["port"]
    if probe.get("tcp"):
        return probe["tcp"]["port"]
    return None


def _classify_slow(decision, facts, direct, by_name, timeout_s):
    slow = slow_names(facts)
    if direct and fetch_ok(direct) and fetch_fast(direct, timeout_s):
        if slow:
            worst = max(slow, key=lambda d: d.get("seconds") or 0)
            return decision.result(
                "probe_timeout_slow_dns",
                "resolving %r takes %s while the service answers by address in %s (healthcheck timeout %s)" % (
                    worst.get("name"), _fmt(worst.get("seconds")), _fmt(direct.get("seconds")), _fmt(timeout_s)))
        return decision.result(
            "probe_timeout",
            "the probe is slower than its %s timeout while the service answers in %s" % (
                _fmt(timeout_s), _fmt(direct.get("seconds"))))
    if direct and direct.get("status") is not None and direct["status"] >= 400:
        return decision.result("service_unhealthy",
                               "the service answers HTTP %s itself; the probe is right" % direct["status"])
    if direct and (direct.get("timed_out") or (fetch_ok(direct) and not fetch_fast(direct, timeout_s))):
        return decision.result("service_unhealthy",
                               "the service itself does not answer in time (%s); the probe is right" % (
                                   _fetch_line(direct)))
    if by_name and fetch_ok(by_name) and fetch_fast(by_name, timeout_s):
        return decision.result("probe_timeout",
                               "the probe is slower than its %s timeout while another tool gets HTTP %s in %s" % (
                                   _fmt(timeout_s), by_name["status"], _fmt(by_name.get("seconds"))))
    return decision.result("unknown", "the probe is slow and no other path to the service was measured")
