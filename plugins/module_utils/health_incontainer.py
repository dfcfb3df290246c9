# -*- coding: utf-8 -*-
# Copyright: (c) 2026, homeiq.phase0 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The measurements taken inside a container, in one exec when the image has Python.

`MEASURE_SCRIPT` runs as `python3 -c MEASURE_SCRIPT '<json request>'` inside the container and
prints one JSON object. It measures with its own monotonic clock, so exec start-up does not
count: the probe (run the way Docker runs it, killed with its whole process group at our
limit), which probe tools exist on PATH, how long each host name takes to resolve, the
endpoint fetched by 127.0.0.1 and by name with a plain HTTP/1.0 GET over a socket (no proxies, no
heavy imports: Python starts with -I -S and imports only what it needs), and the listening TCP
ports from /proc/net/tcp{,6}. One exec per container instead of one per question keeps
diagnosing 40 containers cheap.

It must run on any Python 3 an image may carry, so it avoids f-strings and newer APIs.
The pure helpers below build its request and parse /proc/net/tcp for the shell fallback.
"""
from __future__ import annotations

import json

MEASURE_SCRIPT = r'''
import json, os, shutil, signal, socket, subprocess, sys, threading, time
A = json.loads(sys.argv[1])
CAP = 4096
R = {"helper": "python", "python": sys.version.split()[0]}

def clock():
    return time.monotonic() if hasattr(time, "monotonic") else time.time()

def bounded(fn, limit):
    box = {}
    def run():
        try:
            box["value"] = fn()
        except Exception as exc:
            box["error"] = exc
    t = threading.Thread(target=run)
    t.daemon = True
    t0 = clock()
    t.start()
    t.join(limit)
    box["seconds"] = round(clock() - t0, 6)
    box["timed_out"] = t.is_alive()
    return box

def probe(argv, limit):
    out = {"argv_len": len(argv), "limit_s": limit}
    t0 = clock()
    try:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    except OSError as exc:
        out["seconds"] = round(clock() - t0, 6)
        out["exec_error"] = "%s: %s" % (exc.strerror or exc, argv[0])
        out["exec_error_kind"] = "not_found" if exc.errno == 2 else ("not_executable" if exc.errno == 13 else "other")
        return out
    timed_out = False
    try:
        data = p.communicate(timeout=limit)[0]
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            p.kill()
        data = p.communicate()[0]
    out["seconds"] = round(clock() - t0, 6)
    out["timed_out"] = timed_out
    out["exit_code"] = None if timed_out else p.returncode
    out["output"] = (data or b"")[:CAP].decode("utf-8", "replace")
    return out

def resolve(name, port, limit):
    box = bounded(lambda: socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM), limit)
    out = {"name": name, "seconds": box["seconds"], "timed_out": box["timed_out"], "addresses": [], "error": None}
    if "error" in box:
        out["error"] = str(box["error"])
    elif "value" in box:
        seen = []
        for info in box["value"]:
            if info[4][0] not in seen:
                seen.append(info[4][0])
        out["addresses"] = seen
    return out

def http_status(url, limit):
    scheme, rest = url.split("://", 1)
    rest = rest.split("#", 1)[0]
    cut = min([i for i in (rest.find("/"), rest.find("?")) if i >= 0] or [len(rest)])
    hostport, path = rest[:cut], rest[cut:]
    if not path.startswith("/"):
        path = "/" + path
    hostport = hostport.rpartition("@")[2]
    if hostport.startswith("["):
        host, sep, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    elif ":" in hostport:
        host, port = hostport.rsplit(":", 1)
    else:
        host, port = hostport, ""
    port = int(port) if port else (443 if scheme == "https" else 80)
    sock = socket.create_connection((host, port), timeout=limit)
    try:
        if scheme == "https":
            import ssl
            sock = ssl._create_unverified_context().wrap_socket(sock, server_hostname=host)
        request = "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: phase0-health\r\nConnection: close\r\n\r\n"
        sock.sendall((request % (path, hostport)).encode("latin-1"))
        data = b""
        while b"\r\n" not in data and len(data) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    parts = data.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit():
        return int(parts[1])
    raise ValueError("not an HTTP answer: %r" % data[:80])

def fetch(purpose, url, limit):
    out = {"purpose": purpose, "url": url, "tool": "python-socket", "status": None, "error": None,
           "error_kind": None}
    box = bounded(lambda: http_status(url, limit), limit + 1)
    out["seconds"] = box["seconds"]
    out["timed_out"] = box["timed_out"]
    if "value" in box:
        out["status"] = box["value"]
    elif "error" in box:
        exc = box["error"]
        text = "%s: %s" % (type(exc).__name__, exc)
        out["error"] = text
        low = text.lower()
        if "refused" in low:
            out["error_kind"] = "refused"
        elif "timed out" in low or "timeout" in low:
            out["error_kind"] = "timeout"
        elif "gaierror" in low or "name or service" in low or "resolution" in low:
            out["error_kind"] = "resolve"
        else:
            out["error_kind"] = "other"
    elif box["timed_out"]:
        out["error_kind"] = "timeout"
    return out

def listening():
    ports = set()
    found = False
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as handle:
                lines = handle.read().splitlines()[1:]
            found = True
        except (IOError, OSError):
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[3] == "0A":
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return sorted(ports) if found else None

def which(name):
    if "/" in name:
        return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
    return shutil.which(name)

R["tools"] = dict((t, which(t)) for t in A.get("tools", []))
if A.get("binary"):
    R["probe_binary"] = {"name": A["binary"], "path": which(A["binary"]), "checked": True}
if A.get("probe"):
    R["manual_probe"] = probe(A["probe"], A.get("probe_limit", 30))
jobs = []
for name, port in A.get("resolve", []):
    jobs.append(("dns", (name, port)))
for purpose, url in A.get("fetch", []):
    jobs.append(("fetch", (purpose, url)))
results = [None] * len(jobs)
def work(i, job):
    kind, args = job
    if kind == "dns":
        results[i] = resolve(args[0], args[1], A.get("dns_limit", 15))
    else:
        results[i] = fetch(args[0], args[1], A.get("fetch_limit", 10))
threads = [threading.Thread(target=work, args=(i, j)) for i, j in enumerate(jobs)]
for t in threads:
    t.daemon = True
    t.start()
for t in threads:
    t.join(max(A.get("dns_limit", 15), A.get("fetch_limit", 10)) + 5)
R["dns"] = [r for r, j in zip(results, jobs) if j[0] == "dns" and r is not None]
R["fetches"] = [r for r, j in zip(results, jobs) if j[0] == "fetch" and r is not None]
if A.get("ports"):
    R["listening_ports"] = listening()
sys.stdout.write(json.dumps(R))
if A.get("dialogue"):
    # second turn (see exec_dialogue): the caller answers our first line with the probe it would
    # recommend, run once here the way Docker runs it; an empty line means nothing more
    sys.stdout.write("\n")
    sys.stdout.flush()
    line = sys.stdin.readline()
    try:
        Q = json.loads(line) if line.strip() else {}
    except ValueError:
        Q = {}
    if isinstance(Q, dict) and Q.get("probe"):
        sys.stdout.write(json.dumps({"verified": probe(Q["probe"], Q.get("limit", 30))}) + "\n")
sys.stdout.flush()
'''

SHELL_TOOLS_SCRIPT = 'for t in "$@"; do p=$(command -v "$t" 2>/dev/null) && echo "$t $p"; done; exit 0'


def measure_request(probe_argv, binary, tools, resolve, fetch, probe_limit, dns_limit, fetch_limit, ports=True,
                    dialogue=False):
    """The JSON argument of MEASURE_SCRIPT (dialogue: wait on stdin for a probe to verify)."""
    return json.dumps({
        "dialogue": dialogue,
        "probe": probe_argv or None,
        "binary": binary,
        "tools": list(tools),
        "resolve": [[name, port] for name, port in resolve],
        "fetch": [[purpose, url] for purpose, url in fetch],
        "probe_limit": probe_limit,
        "dns_limit": dns_limit,
        "fetch_limit": fetch_limit,
        "ports": ports,
    })


def parse_measure_output(stdout):
    """The helper's JSON object, or None when it printed something else (no usable python)."""
    text = (stdout or b"")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.strip()
    start = text.find("{")
    if start < 0:
        return None
    try:
        value = json.loads(text[start:])
    except ValueError:
        return None
    return value if isinstance(value, dict) and value.get("helper") == "python" else None


def parse_verified(rest):
    """The second turn's probe result ({'exit_code', 'seconds', ...}), or None when there is none."""
    text = (rest or b"")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("verified"), dict):
            return value["verified"]
    return None


def parse_shell_tools(stdout, tools):
    """{tool: path or None} from SHELL_TOOLS_SCRIPT's 'name path' lines."""
    found = {}
    for line in (stdout or "").splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            found[parts[0]] = parts[1]
    return dict((tool, found.get(tool)) for tool in tools)


def parse_proc_net_tcp(text):
    """Sorted listening ports from the text of /proc/net/tcp and/or /proc/net/tcp6."""
    ports = set()
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[3] == "0A" and ":" in parts[1]:
            try:
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
            except ValueError:
                continue
    return sorted(ports)
