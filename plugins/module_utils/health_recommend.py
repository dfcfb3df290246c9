# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recommend a probe that avoids the measured fault.

Rules:
- Only the probe_* classes get a new `test`; `start_period_too_short` gets a longer start_period
  and keeps its test; every other class (service_unhealthy above all) gets nothing: the probe is
  right, or we do not know enough to change it.
- The tool must exist in the image (measured), the endpoint is addressed by 127.0.0.1 when the
  direct fetch proved the service answers there (no name lookup left), and the probe carries its
  own timeout below the healthcheck timeout, so a slow answer fails the probe cleanly instead of
  Docker killing it.
"""
from __future__ import annotations

import math

from ansible_collections.homeiq.phase0.plugins.module_utils.health_classify import PROBE_CLASSES, fetch_ok
from ansible_collections.homeiq.phase0.plugins.module_utils.health_probe import with_host

HTTP_TOOL_PREFERENCE = ("curl", "wget", "python3", "python")
TCP_TOOL_PREFERENCE = ("nc", "python3", "python")
START_PERIOD_FACTOR = 1.5


def probe_timeout_for(healthcheck_timeout_s):
    """The probe's own timeout: below Docker's, with room for the exec itself (>= 0.5 s of margin)."""
    timeout = float(healthcheck_timeout_s or 30.0)
    margin = max(0.5, timeout * 0.2)
    return max(0.5, math.floor((timeout - margin) * 10) / 10.0)


def _num(value):
    return ("%d" % value) if float(value).is_integer() else ("%g" % value)


def http_probe(tool, url, timeout_s, insecure=None):
    """A CMD-form probe with `tool` that fails on HTTP >= 400, connection errors and after timeout_s.

    HTTPS to the loopback address cannot match the service's certificate name, so by default an
    https URL skips certificate checks (insecure=None -> url is https).
    """
    if insecure is None:
        insecure = url.startswith("https:")
    if tool == "curl":
        argv = ["curl", "-fsS", "-o", "/dev/null", "--max-time", _num(timeout_s)]
        if insecure:
            argv.append("-k")
        return ["CMD"] + argv + [url]
    if tool == "wget":
        seconds = int(math.floor(timeout_s))
        if seconds < 1:  # wget takes whole seconds only
            return None
        argv = ["wget", "-q", "--tries=1", "-T", str(seconds), "-O", "/dev/null"]
        if insecure:
            argv.append("--no-check-certificate")
        return ["CMD"] + argv + [url]
    if tool in ("python3", "python"):
        # An opener without proxy handlers: a proxy from the container's env must not sit between the probe
        # and 127.0.0.1. It raises HTTPError for >= 400, so the probe exits 1 then.
        handlers = "u.ProxyHandler({})"
        prefix = "import urllib.request as u"
        if insecure:
            prefix += ", ssl"
            handlers += ", u.HTTPSHandler(context=ssl._create_unverified_context())"
        code = "%s; u.build_opener(%s).open(%r, timeout=%s)" % (prefix, handlers, url, _num(timeout_s))
        return ["CMD", tool, "-c", code]
    return None


def tcp_probe(tool, host, port, timeout_s):
    if tool == "nc":
        return ["CMD", "nc", "-z", "-w", str(max(1, int(math.floor(timeout_s)))), host, str(port)]
    if tool in ("python3", "python"):
        return ["CMD", tool, "-c", "import socket; socket.create_connection((%r, %d), timeout=%s).close()" % (
            host, port, _num(timeout_s))]
    return None


def _available(facts):
    tools = facts.get("tools") or {}
    return [name for name, path in tools.items() if path]


def _tool_order(classification, original, available):
    """Tools to try, best first, for this class: keep the original tool unless it is the fault."""
    preference = [t for t in HTTP_TOOL_PREFERENCE if t in available]
    if classification == "probe_timeout" and original in preference and len(preference) > 1:
        # the probe itself is slow: another tool first, the original last
        preference.remove(original)
        preference.append(original)
    elif classification in ("probe_timeout_slow_dns", "probe_command_error") and original in preference:
        preference.remove(original)
        preference.insert(0, original)
    return preference


def _target_url(facts, parsed):
    """The URL the new probe addresses, and why; None when no name-free path was proven."""
    direct = None
    for fetch in facts.get("fetches") or []:
        if fetch.get("purpose") == "direct":
            direct = fetch
    if direct and fetch_ok(direct) and direct.get("url"):
        return direct["url"], "127.0.0.1 answered HTTP %s in %.3f s" % (direct["status"], direct["seconds"])
    if parsed["ip_literal"]:
        return with_host(parsed, parsed["host"]), "the probe already addresses %s" % parsed["host"]
    return None, "no fetch by address succeeded, so no probe that avoids the name can be proven"


def recommend(diagnosis, facts):
    """{'healthcheck': {...keys to set} or None, 'reason'} for a diagnosis (health_classify.classify output)."""
    classification = diagnosis["classification"]
    hc = facts.get("healthcheck") or {}
    probe = facts.get("probe") or {}
    if classification == "start_period_too_short":
        measured = (diagnosis.get("details") or {}).get("measured_start_s")
        if not measured:
            return {"healthcheck": None, "reason": "no measured start time"}
        start_period = int(math.ceil(measured * START_PERIOD_FACTOR))
        return {"healthcheck": {"start_period": "%ds" % start_period},
                "reason": "start_period %ds = %.1f s measured start x %.1f" % (
                    start_period, measured, START_PERIOD_FACTOR)}
    if classification not in PROBE_CLASSES:
        return {"healthcheck": None,
                "reason": "no probe change for %s: the probe is not shown to be at fault" % classification}
    timeout = probe_timeout_for(hc.get("timeout_s"))
    available = _available(facts)
    if probe.get("urls"):
        parsed = probe["urls"][0]
        url, why = _target_url(facts, parsed)
        if not url:
            return {"healthcheck": None, "reason": why}
        for tool in _tool_order(classification, probe.get("tool"), available):
            test = http_probe(tool, url, timeout)
            if test:
                return {"healthcheck": {"test": test},
                        "reason": "%s exists in the image; %s; the probe gives up after %s s, under the %s s "
                                  "healthcheck timeout" % (tool, why, _num(timeout), _num(hc.get("timeout_s") or 30))}
        return {"healthcheck": None, "reason": "none of %s exists in the image" % ", ".join(HTTP_TOOL_PREFERENCE)}
    if probe.get("tcp"):
        port = probe["tcp"]["port"]
        for tool in [t for t in TCP_TOOL_PREFERENCE if t in available]:
            test = tcp_probe(tool, "127.0.0.1", port, timeout)
            if test:
                return {"healthcheck": {"test": test},
                        "reason": "%s exists in the image; TCP connect to 127.0.0.1:%d with a %s s limit" % (
                            tool, port, _num(timeout))}
        return {"healthcheck": None, "reason": "no TCP probe tool exists in the image"}
    return {"healthcheck": None, "reason": "the probe is not an HTTP or TCP check, so no replacement can be derived"}
