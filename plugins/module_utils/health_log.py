# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read Docker's health log: what each probe run says, and what the last runs say together.

Docker keeps at most the last 5 probe results (State.Health.Log) and cuts each Output at
4096 bytes, so nothing here may depend on more entries or on the tail of a long output:
a cut traceback loses its last line, which is usually the one that names the error.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

DOCKER_LOG_ENTRIES = 5
DOCKER_OUTPUT_CAP = 4096
TIMEOUT_PREFIX = "Health check exceeded timeout"

# Entry kinds, most specific first. Each row: kind, exit codes (None = any), output pattern (None = any).
# Exit codes: curl 6 resolve, 7 connect, 22 HTTP >= 400 with -f, 28 timeout; GNU wget 4 network, 8 server
# error; shells 126 not executable / 127 not found; Docker -1 when it could not run or had to stop it.
_ENTRY_RULES = (
    ("ok", (0,), None),
    ("timeout", (-1,), r"^" + re.escape(TIMEOUT_PREFIX)),
    ("tool_missing", None, r"OCI runtime exec failed|executable file not found|exec format error|"
                           r"starting container process caused|no such file or directory"),
    ("tool_missing", (127,), None),
    ("tool_missing", (126,), r"not found|[Pp]ermission denied|cannot execute"),
    ("probe_syntax_error", None, r"SyntaxError|IndentationError|unterminated string"),
    ("resolve_failed", (6,), None),
    ("resolve_failed", None, r"Could not resolve host|Name or service not known|Temporary failure in name "
                             r"resolution|bad address|gaierror|nodename nor servname|unable to resolve"),
    ("refused", (7,), None),
    ("refused", None, r"Connection refused|Errno 111|ECONNREFUSED|Couldn't connect to server"),
    ("probe_timed_out", (28,), None),
    ("probe_timed_out", None, r"timed out|Operation timed out|socket\.timeout|TimeoutError|ReadTimeout|"
                              r"ConnectTimeout|download timed out"),
    ("http_error", (22,), None),
    ("http_error", (8,), None),
    ("http_error", None, r"HTTP Error \d{3}|HTTPError|returned error: \d{3}|server returned error|"
                         r"HTTP/\d(?:\.\d)? [45]\d\d"),
    ("failed", None, None),
)

_STATUS_RES = (
    re.compile(r"returned error:\s*(\d{3})"),
    re.compile(r"HTTP Error (\d{3})"),
    re.compile(r"HTTP/\d(?:\.\d)?\s+(\d{3})"),
    re.compile(r"status(?:_code)?[=: ]+(\d{3})\b"),
)
_TIMEOUT_VALUE_RE = re.compile(r"exceeded timeout \(([^)]+)\)")
_TIME_RE = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?$")


def parse_docker_time(text):
    """An aware UTC datetime from Docker's RFC 3339 time with up to nanoseconds; None if unset/invalid.

    Docker reports "0001-01-01T00:00:00Z" for times that never happened.
    """
    if not text:
        return None
    match = _TIME_RE.match(str(text).strip())
    if not match:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    if year == "0001":
        return None
    micros = int((frac or "0")[:6].ljust(6, "0"))
    value = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros,
                     tzinfo=timezone.utc)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value


def iso(value):
    """A datetime as RFC 3339 UTC text with microseconds, or None."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_kind(exit_code, output):
    """The kind of one health log entry (see _ENTRY_RULES)."""
    output = output or ""
    for kind, codes, pattern in _ENTRY_RULES:
        if codes is not None and exit_code not in codes:
            continue
        if pattern is not None and not re.search(pattern, output):
            continue
        return kind
    return "failed"


def http_status_in(output):
    """The HTTP status a probe's output names (curl -f, wget, urllib tracebacks), else None."""
    for regex in _STATUS_RES:
        match = regex.search(output or "")
        if match:
            return int(match.group(1))
    return None


def describe_entry(entry):
    """One health log entry as plain facts."""
    exit_code = entry.get("ExitCode")
    output = entry.get("Output") or ""
    start = parse_docker_time(entry.get("Start"))
    end = parse_docker_time(entry.get("End"))
    kind = entry_kind(exit_code, output)
    described = {
        "start": iso(start),
        "end": iso(end),
        "seconds": round((end - start).total_seconds(), 6) if start and end else None,
        "exit_code": exit_code,
        "kind": kind,
        "output": output,
        "output_bytes": len(output.encode("utf-8", "replace")),
        "truncated": len(output.encode("utf-8", "replace")) >= DOCKER_OUTPUT_CAP,
        "http_status": http_status_in(output) if kind == "http_error" else None,
    }
    if kind == "timeout":
        match = _TIMEOUT_VALUE_RE.search(output)
        described["docker_timeout"] = match.group(1) if match else None
    return described


def summarize_health_log(entries):
    """What the health log says as a whole.

    Returns {'entries': [...described], 'count', 'kinds': {kind: n}, 'last_kind', 'failing_kind'
    (kind of the newest failing entry), 'first_failure', 'first_success_after_failure',
    'all_failing', 'capped_outputs'}.
    """
    described = [describe_entry(e) for e in (entries or [])]
    described.sort(key=lambda e: e["start"] or "")
    kinds = {}
    for entry in described:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    failing = [e for e in described if e["kind"] != "ok"]
    first_success_after_failure = None
    seen_failure = False
    for entry in described:
        if entry["kind"] != "ok":
            seen_failure = True
        elif seen_failure:
            first_success_after_failure = entry
            break
    return {
        "entries": described,
        "count": len(described),
        "kinds": kinds,
        "last_kind": described[-1]["kind"] if described else None,
        "failing_kind": failing[-1]["kind"] if failing else None,
        "first_failure": failing[0] if failing else None,
        "first_success": next((e for e in described if e["kind"] == "ok"), None),
        "first_success_after_failure": first_success_after_failure,
        "all_failing": bool(described) and not any(e["kind"] == "ok" for e in described),
        "capped_outputs": sum(1 for e in described if e["truncated"]),
    }
