# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find error lines in container logs exactly once, and summarise them (pure, stdlib only).

Container logs are read with `timestamps=True` since the last scan. Docker's `since` has
second resolution and its RFC 3339 timestamps drop trailing zeros, so lines are compared by
parsed (seconds, nanoseconds) and the lines already seen at the cursor's exact time are
remembered: a line is reported once even though the next scan reads it again.
"""
from __future__ import annotations

import calendar
import collections
import hashlib
import re

DEFAULT_ERROR_PATTERN = r"error|exception|failed|critical|traceback"

_TS = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


def compile_pattern(pattern=None, ignore_case=True):
    """The error regex (default DEFAULT_ERROR_PATTERN), case-insensitive unless told."""
    return re.compile(pattern or DEFAULT_ERROR_PATTERN, re.IGNORECASE if ignore_case else 0)


def parse_timestamp(text):
    """RFC 3339 (nano) timestamp -> (epoch seconds, nanoseconds), or None."""
    match = _TS.match(text or "")
    if not match:
        return None
    year, month, day, hour, minute, second = (int(x) for x in match.groups()[:6])
    nanos = int((match.group(7) or "0").ljust(9, "0"))
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    zone = match.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds, nanos


def split_log_line(raw):
    """'2026-02-04T11:18:04.5Z text' -> ('2026-02-04T11:18:04.5Z', 'text'); no timestamp -> (None, raw)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    raw = raw.rstrip("\r\n")
    head, sep, rest = raw.partition(" ")
    if sep and parse_timestamp(head):
        return head, rest
    return None, raw


def _digest(text):
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:16]


def new_cursor():
    """The cursor of a container never scanned: nothing seen yet."""
    return {"ts": None, "seen": []}


def since_seconds(cursor):
    """The `since` to ask the engine for (whole seconds, inclusive), or None for a first scan."""
    if not cursor or not cursor.get("ts"):
        return None
    return int(cursor["ts"][0])


def scan_lines(raw_lines, cursor, pattern):
    """Match new log lines against `pattern`.

    raw_lines: log lines with Docker timestamps, oldest first. cursor: from new_cursor() or a
    previous call. Returns (matches, cursor) where matches are (timestamp text, line) pairs
    not reported before, and cursor remembers the newest time seen and the digests of the
    lines at exactly that time.
    """
    cursor = dict(cursor or new_cursor())
    last = tuple(cursor["ts"]) if cursor.get("ts") else None
    seen = set(cursor.get("seen") or [])
    matches = []
    for raw in raw_lines:
        ts_text, line = split_log_line(raw)
        key = parse_timestamp(ts_text) if ts_text else None
        if key is None:
            continue  # without a time we cannot dedupe; Docker always sends one with timestamps=True
        digest = _digest(ts_text + " " + line)
        if last is not None and key < last:
            continue
        if last is not None and key == last:
            if digest in seen:
                continue
            seen.add(digest)
        else:
            last, seen = key, {digest}
        if pattern.search(line):
            matches.append((ts_text, line))
    cursor["ts"] = list(last) if last else cursor.get("ts")
    cursor["seen"] = sorted(seen)
    return matches, cursor


def error_records(container, service, matches, max_line=2000):
    """errors.jsonl lines for one container's matches."""
    return [{"ts": ts, "container": container, "service": service,
             "line": line if len(line) <= max_line else line[:max_line] + "..."}
            for ts, line in matches]


def summarise(records, now_epoch, window_seconds=3600, last_lines=5):
    """Per container: count and last lines of the error records inside the window.

    Returns a list of dicts sorted by count (descending) then container name.
    """
    start = now_epoch - window_seconds
    per = collections.OrderedDict()
    for record in records:
        key = parse_timestamp(record.get("ts") or "")
        if key is None or key[0] < start or key[0] > now_epoch:
            continue
        entry = per.setdefault(record.get("container") or "?", {
            "container": record.get("container") or "?", "service": record.get("service"),
            "count": 0, "first": record["ts"], "last": record["ts"], "last_lines": []})
        entry["count"] += 1
        entry["last"] = record["ts"]
        entry["last_lines"].append(record.get("line", ""))
        del entry["last_lines"][:-last_lines]
    return sorted(per.values(), key=lambda e: (-e["count"], e["container"]))


def summary_markdown(summary, window_seconds, generated, source):
    """The errors/summary_<ts>.md text for summarise()'s result."""
    total = sum(e["count"] for e in summary)
    out = ["# Error summary", "",
           "- Generated: %s" % generated,
           "- Window: last %s s" % window_seconds,
           "- Source: `%s`" % source,
           "- Errors: %d in %d container(s)" % (total, len(summary)), ""]
    if not summary:
        out.append("No error lines in this window.")
        return "\n".join(out) + "\n"
    out += ["| Container | Service | Count | First | Last |", "|---|---|---:|---|---|"]
    for entry in summary:
        out.append("| %s | %s | %d | %s | %s |" % (entry["container"], entry["service"] or "",
                                                   entry["count"], entry["first"], entry["last"]))
    for entry in summary:
        out += ["", "## %s" % entry["container"], "", "```"]
        out += [line.replace("```", "'''") for line in entry["last_lines"]]
        out.append("```")
    return "\n".join(out) + "\n"
