# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a healthcheck probe is: its form, its binary, the endpoints it talks to.

Pure functions over the `test` of a healthcheck (as Docker inspect or a compose file gives
it) and over durations in the three spellings we meet (Docker's nanoseconds, compose's
`1m30s`, plain seconds). Nothing here talks to Docker.
"""
from __future__ import annotations

import ipaddress
import posixpath
import re
import shlex

from urllib.parse import urlsplit

# The tools a probe can be rewritten to use, in the order we prefer them for HTTP probes.
PROBE_TOOLS = ("curl", "wget", "python3", "python", "nc")
DEFAULT_PORTS = {"http": 80, "https": 443}
NANOSECONDS = 1000000000

_URL_RE = re.compile(r"""https?://[^\s'"`)\]}>,;\\]+""", re.IGNORECASE)
_SHELL_OPERATORS = ("||", "&&", "|", ";", "$(", "`")
_ENV_ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Wrappers that run the real probe binary as their argument.
_WRAPPERS = ("exec", "timeout", "env", "nice", "nohup", "command")


# --- durations ---------------------------------------------------------------------------

def parse_duration(value):
    """Seconds (float) from a compose duration ('1m30s', '500ms', '10s'), a number of seconds, or None.

    Raises ValueError for a string that is not a duration.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("not a duration: %r" % (value,))
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if re.match(r"^\d+(\.\d+)?$", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _DURATION_PART_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError("not a duration: %r (use forms like 10s, 1m30s, 500ms)" % (value,))
    return total


def format_duration(seconds):
    """Compose spelling of a duration in seconds: 90 -> '1m30s', 0.5 -> '500ms', 10 -> '10s'."""
    if seconds is None:
        return None
    millis = int(round(float(seconds) * 1000))
    if millis % 1000:
        return "%dms" % millis
    secs = millis // 1000
    hours, rest = divmod(secs, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += "%dh" % hours
    if minutes:
        out += "%dm" % minutes
    if secs or not out:
        out += "%ds" % secs
    return out


def ns_to_seconds(value):
    """Docker inspect stores durations in nanoseconds; 0 or None means 'the default'."""
    if not value:
        return None
    return float(value) / NANOSECONDS


# Docker's defaults when a duration is 0/unset (daemon/health.go).
DOCKER_DEFAULTS = {"interval_s": 30.0, "timeout_s": 30.0, "retries": 3, "start_period_s": 0.0}


def healthcheck_from_inspect(config_healthcheck):
    """The effective healthcheck of a container from inspect's Config.Healthcheck (or None)."""
    if not config_healthcheck:
        return None
    test = list(config_healthcheck.get("Test") or [])
    result = {
        "test": test,
        "interval_s": ns_to_seconds(config_healthcheck.get("Interval")) or DOCKER_DEFAULTS["interval_s"],
        "timeout_s": ns_to_seconds(config_healthcheck.get("Timeout")) or DOCKER_DEFAULTS["timeout_s"],
        "retries": config_healthcheck.get("Retries") or DOCKER_DEFAULTS["retries"],
        "start_period_s": ns_to_seconds(config_healthcheck.get("StartPeriod")) or DOCKER_DEFAULTS["start_period_s"],
    }
    if not test or test[0] == "NONE":
        result["disabled"] = True
    return result


# --- the probe command -----------------------------------------------------------------------

def normalize_test(test):
    """A healthcheck test as a list in Docker's form: ['CMD', ...], ['CMD-SHELL', cmd] or ['NONE'].

    Compose accepts a plain string, which means CMD-SHELL.
    """
    if test is None:
        return []
    if isinstance(test, str):
        return ["CMD-SHELL", test] if test.strip() else []
    return [str(part) for part in test]


def is_ip_literal(host):
    try:
        ipaddress.ip_address((host or "").strip("[]"))
        return True
    except ValueError:
        return False


def is_loopback_host(host):
    host = (host or "").strip("[]").lower()
    if host in ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_url(url):
    """{'url', 'scheme', 'host', 'port', 'path', 'ip_literal', 'loopback'} for an http(s) URL, else None."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = (parts.scheme or "").lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.hostname.lower()
    return {
        "url": url,
        "scheme": scheme,
        "host": host,
        "port": port or DEFAULT_PORTS[scheme],
        "explicit_port": port is not None,
        "path": path,
        "ip_literal": is_ip_literal(host),
        "loopback": is_loopback_host(host),
    }


def with_host(parsed, host, keep_default_port=False):
    """The URL of `parsed` addressed to another host (an IP literal or a name), same port and path."""
    shown = "[%s]" % host if ":" in host else host
    port = parsed["port"]
    if parsed.get("explicit_port") or keep_default_port or port != DEFAULT_PORTS[parsed["scheme"]]:
        shown += ":%d" % port
    return "%s://%s%s" % (parsed["scheme"], shown, parsed["path"])


def find_urls(text):
    """Every http(s) URL in a string (a shell command, python -c code, an argument)."""
    return [m.group(0) for m in _URL_RE.finditer(text or "")]


def _split_shell(command):
    try:
        return shlex.split(command, posix=True)
    except ValueError:  # unbalanced quotes: still find the binary and URLs
        return command.split()


def _first_command(words):
    """The binary of a command line: skips env assignments and wrappers like `exec` or `timeout 5`."""
    index = 0
    while index < len(words):
        word = words[index]
        if _ENV_ASSIGNMENT_RE.match(word):
            index += 1
            continue
        base = posixpath.basename(word)
        if base in _WRAPPERS:
            index += 1
            # `timeout 5 curl ...` / `timeout -s KILL 5 curl`: skip options and the duration
            while index < len(words) and (words[index].startswith("-") or re.match(r"^\d", words[index])):
                index += 1
            continue
        return word, words[index + 1:]
    return None, []


def _option_value(args, names):
    """The value of the first of `names` in an argv (`-m 5`, `--max-time=5`, `-m5`)."""
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg[len(name) + 1:]
            if not name.startswith("--") and len(name) == 2 and arg.startswith(name) and len(arg) > 2 \
                    and not arg.startswith("--"):
                return arg[2:]
    return None


def _probe_own_timeout(tool, args, code):
    """The timeout the probe sets for itself, in seconds, when it sets one."""
    value = None
    if tool == "curl":
        value = _option_value(args, ("--max-time", "-m"))
    elif tool == "wget":
        value = _option_value(args, ("--timeout", "-T"))
    elif tool in ("python", "python3") and code:
        match = re.search(r"timeout\s*=\s*(\d+(?:\.\d+)?)", code)
        value = match.group(1) if match else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def parse_probe(test):
    """Describe a healthcheck test: form, binary, tool, args, URLs and the hosts it names.

    Returns a dict:
      form        CMD | CMD-SHELL | NONE | INHERIT
      argv        the argv Docker execs (CMD-SHELL: ['/bin/sh', '-c', cmd])
      binary      the program the probe needs (CMD-SHELL: the first command of the line)
      tool        basename of binary (curl, wget, python3, ...)
      shell       True when the probe runs through /bin/sh
      compound    True when the shell line chains commands (||, &&, |, ;)
      urls        parsed http(s) URLs, in order
      hosts       host names (not IP literals) the probe must resolve, in order, unique
      own_timeout the probe's own timeout option in seconds, if any
      tcp         {'host', 'port'} for an `nc -z host port` probe
    """
    test = normalize_test(test)
    spec = {"form": "INHERIT", "argv": [], "binary": None, "tool": None, "shell": False,
            "compound": False, "urls": [], "hosts": [], "own_timeout": None, "tcp": None,
            "code": None}
    if not test:
        return spec
    form = test[0]
    if form == "NONE":
        spec["form"] = "NONE"
        return spec
    if form == "CMD-SHELL":
        command = " ".join(test[1:])
        spec.update(form=form, shell=True, argv=["/bin/sh", "-c", command],
                    compound=any(op in command for op in _SHELL_OPERATORS))
        words = _split_shell(command)
        text = command
    elif form == "CMD":
        words = test[1:]
        spec.update(form=form, argv=list(words))
        text = " ".join(words)
    else:  # a bare list without CMD: Docker rejects it, compose treats it as CMD
        words = list(test)
        spec.update(form="CMD", argv=list(words))
        text = " ".join(words)
    binary, args = _first_command(words)
    spec["binary"] = binary
    spec["tool"] = posixpath.basename(binary) if binary else None
    code = None
    if spec["tool"] and spec["tool"].startswith("python"):
        code = _option_value(args, ("-c",))
        spec["code"] = code
    spec["own_timeout"] = _probe_own_timeout(spec["tool"], args, code)
    seen_urls, hosts = [], []
    for url in find_urls(text):
        parsed = parse_url(url)
        if parsed and parsed["url"] not in [u["url"] for u in seen_urls]:
            seen_urls.append(parsed)
            if not parsed["ip_literal"] and parsed["host"] not in hosts:
                hosts.append(parsed["host"])
    spec["urls"] = seen_urls
    if spec["tool"] in ("nc", "ncat", "netcat") and not seen_urls:
        positional = [a for a in args if not a.startswith("-")]
        if len(positional) >= 2 and positional[-1].isdigit():
            spec["tcp"] = {"host": positional[-2].lower(), "port": int(positional[-1])}
            if not is_ip_literal(positional[-2]) and positional[-2].lower() not in hosts:
                hosts.append(positional[-2].lower())
    spec["hosts"] = hosts
    return spec
