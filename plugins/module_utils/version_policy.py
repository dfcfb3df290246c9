# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runtime versions as data: parse what a binary or an image says, compare, apply the policy.

Pure functions only. The policy is two tables a user can replace: minimum versions per
runtime and ordered priority rules (service-name glob -> CRITICAL/HIGH/MEDIUM/LOW).
"""
from __future__ import annotations

import fnmatch
import re

RUNTIMES = ("python", "node")

# The image env variables the official images set (python:*, node:*).
ENV_VERSION_KEYS = {"python": "PYTHON_VERSION", "node": "NODE_VERSION"}

DEFAULT_MINIMUMS = {"python": "3.10", "node": "18"}

PRIORITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW")

# The first manual run's grouping: HomeIQ's four core Python services CRITICAL, ai-/ml-
# services HIGH, everything else MEDIUM. First matching rule wins.
DEFAULT_PRIORITY_RULES = (
    {"pattern": "websocket-ingestion", "priority": "CRITICAL"},
    {"pattern": "data-api", "priority": "CRITICAL"},
    {"pattern": "admin-api", "priority": "CRITICAL"},
    {"pattern": "data-retention", "priority": "CRITICAL"},
    {"pattern": "ai-*", "priority": "HIGH"},
    {"pattern": "ml-*", "priority": "HIGH"},
)
DEFAULT_PRIORITY = "MEDIUM"

STATUS_OK = "OK"
STATUS_NEEDS_UPGRADE = "NEEDS_UPGRADE"
STATUS_UNKNOWN = "UNKNOWN"
STATUS_NO_RUNTIME = "NO_RUNTIME"
STATUS_STOPPED = "STOPPED"

# "Python 3.11.2", "Python 3.13.0rc1", "v18.19.0", "3.12.12", "20.19.0"
_VERSION_RE = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+){0,3})((?:a|b|rc|-rc\.?|-alpha|-beta)\d*\+?)?")
_PYTHON_OUT_RE = re.compile(r"^\s*Python\s+(\d+(?:\.\d+)+\S*)", re.MULTILINE)
_NODE_OUT_RE = re.compile(r"^\s*v(\d+(?:\.\d+)+\S*)", re.MULTILINE)


def parse_version(text):
    """The first version number in `text` as a string ('3.11.2', '18'), or None."""
    if text is None:
        return None
    match = _VERSION_RE.search(str(text).strip())
    if not match:
        return None
    return match.group(1) + (match.group(2) or "")


def version_key(version):
    """A comparable tuple of the numeric release part: '3.11.2rc1' -> (3, 11, 2)."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(version or ""))
    if not match:
        return ()
    return tuple(int(part) for part in match.group(1).split("."))


def compare_versions(left, right):
    """-1, 0 or 1 comparing release numbers; missing trailing parts count as 0."""
    a, b = list(version_key(left)), list(version_key(right))
    width = max(len(a), len(b))
    a += [0] * (width - len(a))
    b += [0] * (width - len(b))
    return (a > b) - (a < b)


def meets_minimum(version, minimum):
    """True/False, or None when either side has no number."""
    if not version_key(version) or not version_key(minimum):
        return None
    return compare_versions(version, minimum) >= 0


def version_matches_spec(version, spec):
    """Does a full version fall under a (possibly shorter) spec: '3.12.12' under '3.12' -> True.

    A Dockerfile says `python:3.12`; the container reports 3.12.12. None when either is unknown.
    """
    full, short = version_key(version), version_key(spec)
    if not full or not short:
        return None
    return full[:len(short)] == short


def parse_runtime_output(runtime, text):
    """The version a `--version` call printed, or None ('Python 3.9.2' / 'v18.19.0')."""
    if not text:
        return None
    if runtime == "python":
        match = _PYTHON_OUT_RE.search(text)
    elif runtime == "node":
        match = _NODE_OUT_RE.search(text)
    else:
        return parse_version(text)
    return match.group(1) if match else None


def versions_from_env(env_list, keys=None):
    """{runtime: version} from a Config.Env list ('K=V'); only the version keys are read.

    The other values are never looked at, so secrets in the env never leave this function.
    """
    keys = keys or ENV_VERSION_KEYS
    wanted = dict((key, runtime) for runtime, key in keys.items())
    found = {}
    for entry in env_list or ():
        name, sep, value = str(entry).partition("=")
        if sep and name in wanted:
            version = parse_version(value)
            if version:
                found[wanted[name]] = version
    return found


def normalize_rules(rules):
    """Validate priority rules: list of {pattern, priority}; returns a clean list or raises ValueError."""
    clean = []
    for index, rule in enumerate(rules or ()):
        if not isinstance(rule, dict) or not rule.get("pattern") or not rule.get("priority"):
            raise ValueError("priority rule %d must be a dict with 'pattern' and 'priority': %r" % (index, rule))
        priority = str(rule["priority"]).upper()
        if priority not in PRIORITIES:
            raise ValueError("priority rule %d: priority %r is not one of %s"
                             % (index, rule["priority"], ", ".join(PRIORITIES)))
        clean.append({"pattern": str(rule["pattern"]), "priority": priority})
    return clean


def priority_for(service, rules=DEFAULT_PRIORITY_RULES, default=DEFAULT_PRIORITY):
    """The priority of the first rule whose glob matches the service name, else the default."""
    name = service or ""
    for rule in rules:
        if fnmatch.fnmatchcase(name, rule["pattern"]):
            return str(rule["priority"]).upper()
    return str(default).upper()


def normalize_minimums(minimums):
    """Defaults overlaid with the user's table; every value must contain a number."""
    merged = dict(DEFAULT_MINIMUMS)
    for runtime, minimum in (minimums or {}).items():
        if not version_key(minimum):
            raise ValueError("minimum version for %s must be a number like 3.10, got %r" % (runtime, minimum))
        merged[str(runtime)] = str(minimum)
    return merged


def evaluate(runtime, version, minimums):
    """(status, minimum) for one runtime version under the policy."""
    minimum = minimums.get(runtime)
    if not version:
        return STATUS_UNKNOWN, minimum
    if minimum is None:
        return STATUS_OK, None
    ok = meets_minimum(version, minimum)
    if ok is None:
        return STATUS_UNKNOWN, minimum
    return (STATUS_OK if ok else STATUS_NEEDS_UPGRADE), minimum


def major_minor(version):
    key = version_key(version)
    return ".".join(str(part) for part in key[:2]) if key else None
